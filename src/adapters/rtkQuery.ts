import type { BaseQueryFn, FetchArgs, FetchBaseQueryError, QueryReturnValue } from '@reduxjs/toolkit/query';
import { defer, firstValueFrom } from 'rxjs';
import { isAuthRefreshError, serializeError, type AuthRefreshError } from '../errors';
import { abortReason, untilAborted } from './abort';
import { checkAuth, hasNoSession, isApiAnswer, type AuthClient } from './AuthClient';

export type { AuthClient } from './AuthClient';

/**
 * How `authBaseQuery` adds the token to a base query's arguments, and how it shapes the error of a
 * session that ended. Both have defaults for `fetchBaseQuery`; pass both for any other base query.
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
  /**
   * Returns the arguments of one attempt with the access token added.
   * @default for `fetchBaseQuery`: `{ ...args, headers: { ...args.headers, Authorization: 'Bearer <token>' } }`
   */
  withToken?: (args: Args, accessToken: string) => Args;
  /**
   * The `error` a query gets when the session ended: the refresh failed (`TokenRefreshError`) or
   * the user logged out while it waited (`LoggedOutError`).
   * @default `{ status: 'CUSTOM_ERROR', error: message, data: { name, code, message } }`
   */
  toError?: (error: AuthRefreshError) => BaseQueryError;
}

type AnyBaseQuery<Args, Result, BaseQueryError, DefinitionExtraOptions, Meta> = BaseQueryFn<Args, Result, BaseQueryError, DefinitionExtraOptions, Meta>;

/**
 * Wraps an RTK Query base query so that every endpoint shares the refresh with your epics and your
 * other clients: it adds the access token, waits while a refresh is in flight, refreshes first when
 * the token is known to expire, and on a 401 joins the one shared refresh and replays the query.
 * It is the usual `baseQueryWithReauth`, without its refresh storm: ten endpoints failing at once
 * cause one refresh, and a failed refresh reaches every one of them.
 *
 * Results keep RTK Query's shape: a 401 that persists after `maxRetries` refreshes is returned as
 * that last `{ error: { status: 401 } }`; a failed refresh or a logout becomes `toError(error)`
 * (by default `{ status: 'CUSTOM_ERROR', data: { name, code } }`, e.g. `code: 'REFRESH_FAILED'`).
 * A query aborted while it waits for a refresh (`api.signal`: RTK Query aborts it, and has
 * already rejected the query's promise with its own `AbortError`) stops waiting at once and is
 * never sent; what it returns, `{ error: { status: 'FETCH_ERROR', error: 'AbortError: …' } }` as
 * `fetchBaseQuery` answers an aborted fetch, is discarded by RTK Query.
 * With no session at all (before login), queries run without a token, so a login mutation in the
 * same API works. Any base query fits: pass `withToken` (and `toError`) for one that does not take
 * `fetchBaseQuery`'s arguments.
 *
 * @example
 * ```ts
 * import { createApi, fetchBaseQuery } from '@reduxjs/toolkit/query/react';
 * import { authBaseQuery } from 'redux-observable-token-refresh/rtk-query';
 *
 * export const api = createApi({
 *   baseQuery: authBaseQuery(auth, fetchBaseQuery({ baseUrl: '/api' })),
 *   endpoints: (build) => ({ profile: build.query<Profile, void>({ query: () => 'profile' }) }),
 * });
 * ```
 */
export function authBaseQuery<Result, DefinitionExtraOptions, Meta>(
  auth: AuthClient,
  baseQuery: AnyBaseQuery<string | FetchArgs, Result, FetchBaseQueryError, DefinitionExtraOptions, Meta>,
  options?: AuthBaseQueryOptions<string | FetchArgs, FetchBaseQueryError>,
): AnyBaseQuery<string | FetchArgs, Result, FetchBaseQueryError, DefinitionExtraOptions, Meta>;
export function authBaseQuery<Args, Result, BaseQueryError, DefinitionExtraOptions, Meta>(
  auth: AuthClient,
  baseQuery: AnyBaseQuery<Args, Result, BaseQueryError, DefinitionExtraOptions, Meta>,
  options: Required<AuthBaseQueryOptions<Args, BaseQueryError>>,
): AnyBaseQuery<Args, Result, BaseQueryError, DefinitionExtraOptions, Meta>;
export function authBaseQuery<Args, Result, BaseQueryError, DefinitionExtraOptions, Meta>(
  auth: AuthClient,
  baseQuery: AnyBaseQuery<Args, Result, BaseQueryError, DefinitionExtraOptions, Meta>,
  options: AuthBaseQueryOptions<Args, BaseQueryError> = {},
): AnyBaseQuery<Args, Result, BaseQueryError, DefinitionExtraOptions, Meta> {
  checkAuth('authBaseQuery', auth);
  if (typeof baseQuery !== 'function') {
    throw new TypeError('authBaseQuery: the second argument must be a base query, e.g. authBaseQuery(auth, fetchBaseQuery({ baseUrl })).');
  }
  const withToken = options?.withToken ?? (addBearer as unknown as (args: Args, accessToken: string) => Args);
  const toError = options?.toError ?? (customError as unknown as (error: AuthRefreshError) => BaseQueryError);
  if (typeof withToken !== 'function') throw new TypeError('authBaseQuery: option "withToken" must be a function (args, accessToken) => args.');
  if (typeof toError !== 'function') throw new TypeError('authBaseQuery: option "toError" must be a function (error) => your base query error.');

  type Returned = QueryReturnValue<Result, BaseQueryError, Meta>;
  return async (args, api, extraOptions) => {
    if (hasNoSession(auth)) return baseQuery(args, api, extraOptions);
    let last: Returned | undefined;
    const attempt = (token: string) =>
      defer(async () => {
        last = undefined;
        last = await baseQuery(withToken(args, token), api, extraOptions);
        // Every error goes to `authorized`, whose isAuthError decides which ones mean "refresh":
        // one definition of a 401 for epics and RTK Query alike. Others come straight back below.
        if (last.error !== undefined) throw last.error;
        return last;
      });
    const signal = api?.signal;
    try {
      return await firstValueFrom(auth.authorized(attempt).pipe(untilAborted(signal)));
    } catch (error) {
      if (isApiAnswer(error, last?.error)) return last as Returned;
      if (isAuthRefreshError(error)) return { error: toError(error) };
      if (signal?.aborted) return { error: abortedError(abortReason(signal)) as BaseQueryError };
      throw error;
    }
  };
}

function addBearer(args: string | FetchArgs, accessToken: string): FetchArgs {
  const fetchArgs = typeof args === 'string' ? { url: args } : args;
  // fetchBaseQuery accepts a Headers, an entry list or a record whose undefined values it drops.
  const given = fetchArgs.headers;
  const headers = new Headers(
    given && !Array.isArray(given) && !(given instanceof Headers)
      ? (Object.entries(given).filter(([, value]) => value !== undefined) as Array<[string, string]>)
      : (given as HeadersInit | undefined),
  );
  headers.set('Authorization', `Bearer ${accessToken}`);
  return { ...fetchArgs, headers };
}

function customError(error: AuthRefreshError): FetchBaseQueryError {
  return { status: 'CUSTOM_ERROR', error: error.message, data: serializeError(error) };
}

/** What `fetchBaseQuery` answers for an aborted fetch. RTK Query discards it: the query already rejected. */
function abortedError(reason: unknown): FetchBaseQueryError {
  return { status: 'FETCH_ERROR', error: String(reason) };
}
