import type {
  fetchBaseQuery,
  BaseQueryFn,
  FetchArgs,
  FetchBaseQueryError,
  FetchBaseQueryMeta,
  QueryReturnValue,
} from '@reduxjs/toolkit/query';
import { defer, firstValueFrom, of, throwError } from 'rxjs';
import { isAuthRefreshError, serializeError, type AuthRefreshError } from '../errors';
import { abortReason, untilAborted } from './abort';
import { authErrorTest, checkAuth, hasNoSession, isApiAnswer, type AuthClient } from './AuthClient';
import { defaultFetchFn } from './defaultFetchFn';
import { createOriginGuard, originOf, type OriginOptions } from './originGuard';
import { typeError } from '../message';

export type { AuthClient } from './AuthClient';
export type { OriginOptions } from './originGuard';

/** fetchBaseQuery's options, read off the function: the type has no export of its own in every RTK version. */
type FetchBaseQueryArgs = NonNullable<Parameters<typeof fetchBaseQuery>[0]>;

/**
 * `fetchBaseQuery` itself and its own options, unchanged, plus where the token may go and the shape
 * of a session-ended error. `authBaseQuery(auth, options)` builds the `fetchBaseQuery`, so that the
 * token is added inside it, at fetch time, after your `headers` and `prepareHeaders`. You pass
 * `fetchBaseQuery` in: this entry imports nothing of RTK Query at runtime (RTK 1.9 cannot be
 * imported from Node's native ESM), and it is the copy your app already bundles.
 *
 * @example
 * ```ts
 * import { fetchBaseQuery } from '@reduxjs/toolkit/query/react';
 *
 * const baseQuery = authBaseQuery(auth, {
 *   fetchBaseQuery,
 *   baseUrl: 'https://api.example.com/v1',
 *   headers: { 'x-api-key': API_KEY },
 *   prepareHeaders: (headers) => headers.set('x-tenant', tenant),
 *   allowedOrigins: ['https://api.example.com', 'https://files.example.com'],
 * });
 * ```
 */
export type AuthFetchBaseQueryOptions = FetchBaseQueryArgs &
  OriginOptions & {
    /** RTK Query's `fetchBaseQuery`, from `@reduxjs/toolkit/query` or `@reduxjs/toolkit/query/react`. */
    fetchBaseQuery: typeof fetchBaseQuery;
    /**
     * The `error` a query gets when the session ended: the refresh failed (`TokenRefreshError`) or
     * the user logged out while it waited (`LoggedOutError`).
     * @default `{ status: 'CUSTOM_ERROR', error: message, data: { name, code, status?, message } }`, the package's own text only
     */
    toError?: (error: AuthRefreshError) => FetchBaseQueryError;
  };

/**
 * For a base query that is not `fetchBaseQuery`: how to add the token to its arguments, and how to
 * shape the error of a session that ended. Both are required.
 *
 * @example
 * ```ts
 * const baseQuery = authBaseQuery(auth, graphqlBaseQuery, {
 *   withToken: (args, accessToken) => ({ ...args, headers: { ...args.headers, Authorization: `Bearer ${accessToken}` } }),
 *   toError: (error) => ({ message: error.message, code: error.code }),
 * });
 * ```
 */
export interface AuthBaseQueryOptions<Args, BaseQueryError> {
  /** Returns the arguments of one attempt with the access token added. */
  withToken: (args: Args, accessToken: string) => Args;
  /** The `error` a query gets when the session ended (`TokenRefreshError`, `LoggedOutError`). */
  toError: (error: AuthRefreshError) => BaseQueryError;
}

type AnyBaseQuery<Args, Result, BaseQueryError, DefinitionExtraOptions, Meta> = BaseQueryFn<
  Args,
  Result,
  BaseQueryError,
  DefinitionExtraOptions,
  Meta
>;

/**
 * An RTK Query base query on the same refresh coordinator as your epics and other clients. Give it
 * `fetchBaseQuery` and its options: it builds the base query and adds the access token inside it, at
 * fetch time, so everything else is exactly what `fetchBaseQuery` does. It waits while a refresh is
 * in flight, refreshes first when the token is known to expire, and on a 401 joins the one shared
 * refresh and replays the query: ten endpoints failing at once cause one refresh, and a failed
 * refresh reaches every one of them.
 *
 * Invisible except for the token:
 * - The base query's `headers`, the endpoint's `headers`, `prepareHeaders`, bodies, params,
 *   `responseHandler`, `validateStatus`, `timeout` and `fetchFn` behave as in `fetchBaseQuery`.
 *   For DPoP, `fetchFn: dpop.resourceFetch(auth)` (`createDpop()` from `redux-observable-token-refresh/dpop`):
 *   the token goes as `Authorization: DPoP` with a proof made after `prepareHeaders`, for the URL called.
 * - An `Authorization` header the query already has (from the endpoint, `headers` or your
 *   `prepareHeaders`) is kept. Such a request is not this package's: its 401 refreshes nothing.
 * - The token goes only to `allowedOrigins` (default: the origin of an absolute `baseUrl`, else the
 *   app's own origin). Anywhere else (a pagination link, a presigned upload URL, a partner API) the
 *   query goes out as written, and its 401 refreshes nothing. So does a 401 reached through a
 *   redirect to another origin.
 * - The token is read when the request leaves, after RTK Query's own work: a query that was
 *   started before a refresh and leaves during it waits, and carries the new token.
 *
 * Results keep RTK Query's shape: a 401 that persists after `maxRetries` refreshes is returned as
 * that last `{ error: { status: 401 } }`; a failed refresh or a logout becomes `toError(error)`
 * (by default `{ status: 'CUSTOM_ERROR', data: { name, code } }`, e.g. `code: 'REFRESH_FAILED'`).
 * A query aborted while it waits for a refresh (`api.signal`) stops waiting at once and is never
 * sent. With no session at all (before login), queries run without a token, so a login mutation in
 * the same API works.
 *
 * For any other base query (GraphQL, axios), pass it with `withToken` and `toError`.
 *
 * @example
 * ```ts
 * import { createApi, fetchBaseQuery } from '@reduxjs/toolkit/query/react';
 * import { authBaseQuery } from 'redux-observable-token-refresh/rtk-query';
 *
 * export const api = createApi({
 *   baseQuery: authBaseQuery(auth, { fetchBaseQuery, baseUrl: '/api', headers: { Accept: 'application/json' } }),
 *   endpoints: (build) => ({ profile: build.query<Profile, void>({ query: () => 'profile' }) }),
 * });
 * ```
 */
export function authBaseQuery(
  auth: AuthClient,
  options: AuthFetchBaseQueryOptions,
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- fetchBaseQuery's own extra-options type, as RTK declares it
): BaseQueryFn<string | FetchArgs, unknown, FetchBaseQueryError, {}, FetchBaseQueryMeta>;
export function authBaseQuery<Args, Result, BaseQueryError, DefinitionExtraOptions, Meta>(
  auth: AuthClient,
  baseQuery: AnyBaseQuery<Args, Result, BaseQueryError, DefinitionExtraOptions, Meta>,
  options: AuthBaseQueryOptions<Args, BaseQueryError>,
): AnyBaseQuery<Args, Result, BaseQueryError, DefinitionExtraOptions, Meta>;
export function authBaseQuery(
  auth: AuthClient,
  baseQueryOrOptions?: AnyBaseQuery<unknown, unknown, unknown, unknown, unknown> | AuthFetchBaseQueryOptions,
  options?: AuthBaseQueryOptions<unknown, unknown>,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the implementation of the overloads above, whose types are exact
): AnyBaseQuery<any, unknown, unknown, any, any> {
  checkAuth('authBaseQuery', auth);
  if (typeof baseQueryOrOptions === 'function') return wrapBaseQuery(auth, baseQueryOrOptions, options);
  if (typeof baseQueryOrOptions !== 'object' || baseQueryOrOptions === null || typeof baseQueryOrOptions.fetchBaseQuery !== 'function') {
    throw typeError(
      'INVALID_ARGUMENT',
      () =>
        process.env.NODE_ENV !== 'production' &&
        "authBaseQuery: the second argument must be fetchBaseQuery and its options, e.g. authBaseQuery(auth, { fetchBaseQuery, baseUrl: '/api' }).",
      'authBaseQuery',
    );
  }
  return authFetchBaseQuery(auth, baseQueryOrOptions);
}

function authFetchBaseQuery(
  auth: AuthClient,
  options: AuthFetchBaseQueryOptions,
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- fetchBaseQuery's own extra-options type, as RTK declares it
): BaseQueryFn<string | FetchArgs, unknown, FetchBaseQueryError, {}, FetchBaseQueryMeta> {
  const { fetchBaseQuery, allowedOrigins, baseOrigin, toError = customError, fetchFn = defaultFetchFn, ...fetchOptions } = options;
  if (typeof toError !== 'function')
    throw typeError(
      'INVALID_OPTION',
      () => process.env.NODE_ENV !== 'production' && 'authBaseQuery: option "toError" must be a function (error) => FetchBaseQueryError.',
      'authBaseQuery: option "toError"',
    );
  if (typeof fetchFn !== 'function')
    throw typeError(
      'INVALID_OPTION',
      () => process.env.NODE_ENV !== 'production' && 'authBaseQuery: option "fetchFn" must be a function (request) => Promise<Response>.',
      'authBaseQuery: option "fetchFn"',
    );
  const baseUrlOrigin = originOf(fetchOptions.baseUrl);
  const allowed = createOriginGuard(
    'authBaseQuery',
    { allowedOrigins, baseOrigin },
    { defaults: baseUrlOrigin ? [baseUrlOrigin] : undefined, lenient: true },
  );
  const isAuthError = authErrorTest(auth);
  type Returned = QueryReturnValue<unknown, FetchBaseQueryError, FetchBaseQueryMeta>;

  return async (args, api, extraOptions) => {
    let sent: string | undefined; // the token the latest attempt carried, if it carried ours
    let failure: unknown; // this package's error, met at fetch time (refresh failed, logged out)
    // One fetchBaseQuery per call, around a fetchFn that knows this call: that is where the token
    // goes in, after fetchBaseQuery built the request from every source of headers.
    const run = fetchBaseQuery({
      ...fetchOptions,
      fetchFn: async (input: RequestInfo, init?: RequestInit) => {
        sent = undefined;
        const request = input as Request; // fetchBaseQuery always passes one Request
        if (
          typeof request !== 'object' ||
          request.headers.has('authorization') ||
          !allowed(request.url) ||
          (await hasNoSession(auth, request.signal))
        ) {
          return fetchFn(input, init);
        }
        let token: string | undefined;
        try {
          // The token current now, after RTK Query's own work: waits for a refresh in flight.
          token = await firstValueFrom(auth.authorized((current) => of(current)).pipe(untilAborted(request.signal)));
        } catch (error) {
          if (!request.signal?.aborted) failure = error;
          throw error; // aborted: fetchBaseQuery answers FETCH_ERROR / TIMEOUT_ERROR, as for an aborted fetch
        }
        request.headers.set('Authorization', `Bearer ${token}`);
        const response = await fetchFn(request, init);
        // A redirect to another origin: whoever answered there did not judge our token.
        sent = response.redirected && response.url && !allowed(response.url) ? undefined : token;
        return response;
      },
    });
    const once = async (): Promise<Returned> => {
      failure = undefined;
      const result = await run(args, api, extraOptions);
      // eslint-disable-next-line @typescript-eslint/only-throw-error -- this package's error met at fetch time, passed on as it was
      if (failure !== undefined) throw failure;
      return result;
    };
    if (await hasNoSession(auth, api?.signal)) return run(args, api, extraOptions); // before login: as written (a login mutation)
    let last: Returned | undefined;
    let rejected: { token: string; error: unknown } | undefined;
    // `authorized` decides what a 401 means (refresh, join the refresh, replay at once for a late
    // 401, or the session's end) and counts replays, for the token it handed out. The token that
    // left is read again at fetch time, so it can be newer; then its 401 is handed back to
    // `authorized` once more, as the 401 of that token, before anything is sent again.
    const attempts$ = auth.authorized((current) => {
      if (rejected?.token === current) {
        const { error } = rejected;
        rejected = undefined;
        return throwError(() => error);
      }
      return defer(async () => {
        const result = (last = await once());
        if (result.error === undefined || sent === undefined || !isAuthError(result.error)) return result;
        if (sent !== current) rejected = { token: sent, error: result.error };
        // eslint-disable-next-line @typescript-eslint/only-throw-error -- the API's own answer, handed to `authorized` as its auth error
        throw result.error;
      });
    });
    try {
      return await firstValueFrom(attempts$.pipe(untilAborted(api?.signal)));
    } catch (error) {
      if (isApiAnswer(error, last?.error)) return last!;
      if (isAuthRefreshError(error)) return { error: toError(error) };
      if (api?.signal?.aborted) return { error: abortedError(abortReason(api.signal)) };
      throw error;
    }
  };
}

/** Any base query, with the caller's `withToken` and `toError`: the token is added when each attempt starts. */
function wrapBaseQuery<Args, Result, BaseQueryError, DefinitionExtraOptions, Meta>(
  auth: AuthClient,
  baseQuery: AnyBaseQuery<Args, Result, BaseQueryError, DefinitionExtraOptions, Meta>,
  options: AuthBaseQueryOptions<Args, BaseQueryError> | undefined,
): AnyBaseQuery<Args, Result, BaseQueryError, DefinitionExtraOptions, Meta> {
  const { withToken, toError } = options ?? ({} as Partial<AuthBaseQueryOptions<Args, BaseQueryError>>);
  if (typeof withToken !== 'function') {
    throw typeError(
      'INVALID_ARGUMENT',
      () =>
        process.env.NODE_ENV !== 'production' &&
        "authBaseQuery: for fetchBaseQuery pass it with its options, authBaseQuery(auth, { fetchBaseQuery, baseUrl: '/api' }), not fetchBaseQuery(...): the token is then added after your headers and prepareHeaders, and only for allowed origins. For another base query pass withToken: (args, accessToken) => args.",
      'authBaseQuery',
    );
  }
  if (typeof toError !== 'function')
    throw typeError(
      'INVALID_OPTION',
      () => process.env.NODE_ENV !== 'production' && 'authBaseQuery: option "toError" must be a function (error) => your base query error.',
      'authBaseQuery: option "toError"',
    );

  type Returned = QueryReturnValue<Result, BaseQueryError, Meta>;
  return async (args, api, extraOptions) => {
    if (await hasNoSession(auth, api?.signal)) return baseQuery(args, api, extraOptions);
    let last: Returned | undefined;
    const attempt = (token: string) =>
      defer(async () => {
        last = undefined;
        last = await baseQuery(withToken(args, token), api, extraOptions);
        // Every error goes to `authorized`, whose isAuthError decides which ones mean "refresh":
        // one definition of a 401 for epics and RTK Query alike. Others come straight back below.
        // eslint-disable-next-line @typescript-eslint/only-throw-error -- the API's own answer, handed to `authorized` as its auth error
        if (last.error !== undefined) throw last.error;
        return last;
      });
    const signal = api?.signal;
    try {
      return await firstValueFrom(auth.authorized(attempt).pipe(untilAborted(signal)));
    } catch (error) {
      if (isApiAnswer(error, last?.error)) return last!;
      if (isAuthRefreshError(error)) return { error: toError(error) };
      if (signal?.aborted) return { error: abortedError(abortReason(signal)) as BaseQueryError };
      throw error;
    }
  };
}

/** The package's own text only: an error's message can quote what a server or a parser said. */
function customError(error: AuthRefreshError): FetchBaseQueryError {
  const data = serializeError(error);
  return { status: 'CUSTOM_ERROR', error: data.message, data };
}

/** What `fetchBaseQuery` answers for an aborted fetch. RTK Query discards it: the query already rejected. */
function abortedError(reason: unknown): FetchBaseQueryError {
  return { status: 'FETCH_ERROR', error: String(reason) };
}
