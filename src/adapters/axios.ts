import type { AxiosError, AxiosInstance, AxiosRequestConfig, InternalAxiosRequestConfig } from 'axios';
import { firstValueFrom, from, of, throwError, type Observable } from 'rxjs';
import { isRefreshSignal } from '../refreshSignal';
import { untilAborted } from './abort';
import { authErrorTest, checkAuth, hasNoSession, isApiAnswer, type AuthClient } from './AuthClient';
import { createOriginGuard, type OriginOptions } from './originGuard';

export type { AuthClient } from './AuthClient';
export type { OriginOptions } from './originGuard';

declare module 'axios' {
  interface AxiosRequestConfig {
    /**
     * Send this request as written: no token, no refresh on its 401 (a login call, the refresh
     * call itself). Replays made by `attachAxios` carry it too, so they are never replayed again.
     *
     * @example
     * ```ts
     * await http.post('/auth/login', credentials, { skipAuthRefresh: true });
     * ```
     */
    skipAuthRefresh?: boolean;
  }
}

/**
 * Options of `attachAxios`: the origins that get the token. The URL checked is the one axios will
 * call, `baseURL` combined with `url`.
 *
 * @example
 * ```ts
 * attachAxios(auth, http, { allowedOrigins: ['https://api.example.com', 'https://files.example.com'] });
 * ```
 */
export type AttachAxiosOptions = OriginOptions;

/** The token each request was sent with. Keyed by the config object axios hands from interceptor to error. */
const sentWith = new WeakMap<object, string>();

/**
 * Puts an axios instance on the same refresh coordinator as your epics, with two interceptors:
 * the request interceptor waits while a refresh is in flight (or refreshes first when the token is
 * known to expire) and adds `Authorization: Bearer`; the response interceptor turns a 401 into
 * "join the one shared refresh, then replay with the new token". A 401 for a token already
 * replaced is replayed at once, without a refresh. Returns a function that removes both.
 *
 * How a request ends: it resolves as usual; a 401 that persists after `maxRetries` refreshes
 * rejects with that last `AxiosError`; it rejects with `TokenRefreshError` when the refresh failed
 * (the session is over) and with `LoggedOutError` when the user logged out while it waited. With no
 * session at all (before login), requests go out without a token.
 *
 * An error counts as "token not accepted" when the coordinator's `isAuthError` says so (HTTP 401 by
 * default), so an API that signals expiry with a body code refreshes here as in your epics:
 * `createTokenRefresh({ refresh, isAuthError: e => isUnauthorized(e) || e?.response?.data?.code === 1002 })`.
 *
 * A request whose `signal` aborts while it waits for a refresh stops waiting at once and is never
 * sent: it rejects as axios rejects any aborted request, with a `CanceledError`
 * (`axios.isCancel(error)`). The refresh goes on for everyone else.
 *
 * Untouched: requests with `skipAuthRefresh: true`, requests to origins not in `allowedOrigins`,
 * and requests carrying the `signal` of a refresh call, so the refresh can use this very instance.
 * The origin is checked on the URL axios will call, after every request interceptor has run (even
 * those registered before this one, which axios runs after it): the token is set by a request
 * transform, at the last moment. A 401 that a redirect brought from another origin refreshes nothing.
 * **If your `refresh` function uses this same instance, it must pass on the `signal` it is given
 * (or send with `skipAuthRefresh: true`)**: otherwise the refresh call waits in the request
 * interceptor for the refresh it is making, until `refreshTimeoutMs` fails it.
 * axios itself is not imported: you pass your instance, and axios stays an optional peer.
 *
 * @example
 * ```ts
 * import axios from 'axios';
 * import { attachAxios } from 'redux-observable-token-refresh/axios';
 *
 * const api = axios.create({ baseURL: 'https://api.example.com' });
 * const detach = attachAxios(auth, api, { allowedOrigins: ['https://api.example.com'] });
 * const { data } = await api.get('/profile');
 * await api.post('/auth/login', credentials, { skipAuthRefresh: true });
 * ```
 */
export function attachAxios(auth: AuthClient, instance: AxiosInstance, options: AttachAxiosOptions = {}): () => void {
  checkAuth('attachAxios', auth);
  if (typeof instance?.interceptors?.request?.use !== 'function' || typeof instance.request !== 'function') {
    throw new TypeError('attachAxios: the second argument must be an axios instance, e.g. attachAxios(auth, axios.create({ baseURL })).');
  }
  const allowed = createOriginGuard('attachAxios', options ?? {});

  const isAuthError = authErrorTest(auth);

  /**
   * The token goes in at the last moment: a request transform, which axios runs after every request
   * interceptor, on the config the adapter then sends. axios runs request interceptors in reverse
   * order of registration, so one registered before `attachAxios` runs after ours and may rewrite
   * `baseURL` or `url`; checked here, the URL is the one that is called. A transform list replaced
   * by a later interceptor drops the token: the request goes out without it, never elsewhere with it.
   */
  const attachAtSend = (token: string, replay: boolean) => {
    const attach = function (this: InternalAxiosRequestConfig, data: unknown) {
      if (this?.headers && allowed(instance.getUri(this))) {
        this.headers.set('Authorization', `Bearer ${token}`);
        if (!replay) sentWith.set(this, token);
      }
      return data;
    };
    ours.add(attach);
    return attach;
  };
  const withTransform = <C extends AxiosRequestConfig>(config: C, token: string, replay: boolean): C => ({
    ...config,
    transformRequest: [...toArray(config.transformRequest).filter((fn) => !ours.has(fn)), attachAtSend(token, replay)],
  });

  const onRequest = async (config: InternalAxiosRequestConfig): Promise<InternalAxiosRequestConfig> => {
    if (config.skipAuthRefresh || isRefreshSignal(config.signal) || hasNoSession(auth)) return config;
    if (!allowed(instance.getUri(config))) return config; // no wait for a request that will not get the token
    // `authorized` with an identity request is "the token to send now": it waits for a refresh in
    // flight and refreshes first when the token is known to expire.
    const token = await unlessAborted(auth.authorized((current) => of(current)), config);
    // Aborted while waiting: handed back without a token. axios checks the signal before it sends,
    // and rejects with its own CanceledError; nothing leaves.
    if (token === undefined) return config;
    config.transformRequest = withTransform(config, token, false).transformRequest;
    return config;
  };

  const onResponseError = (error: AxiosError): Promise<unknown> => {
    const config = error?.config;
    const token = config && sentWith.get(config);
    if (!config || token === undefined || !isAuthError(error) || redirectedElsewhere(error, allowed)) return Promise.reject(error);
    let last: unknown = error; // the API's latest "not accepted", in axios' own shape
    // The first attempt is the request that already failed: re-throwing its error with the token it
    // carried lets `authorized` decide (refresh, or replay at once for a late 401) and count retries.
    const replay$ = auth.authorized((current) =>
      current === token
        ? throwError(() => error)
        : from(instance.request(withTransform(replayOf(config), current, true)).catch((failure: unknown) => Promise.reject((last = failure)))),
    );
    return unlessAborted(replay$, config).then(
      // Aborted while waiting for the refresh: axios rejects it unsent, as it rejects any aborted request.
      (answer) => (answer === undefined ? instance.request({ ...config, skipAuthRefresh: true }) : answer),
      (failure: unknown) => Promise.reject(isApiAnswer(failure, last) ? last : failure),
    );
  };

  const requestId = instance.interceptors.request.use(onRequest);
  const responseId = instance.interceptors.response.use(undefined, onResponseError);
  return () => {
    instance.interceptors.request.eject(requestId);
    instance.interceptors.response.eject(responseId);
  };
}

/** Our last-moment transforms, told apart from the user's when a replay replaces the token. */
const ours = new WeakSet<object>();

function toArray<T>(value: T | readonly T[] | undefined): T[] {
  return value === undefined ? [] : Array.isArray(value) ? [...value] : [value as T];
}

/** The failed request again, without the token it carried; the replay's own transform adds the current one. */
function replayOf(config: InternalAxiosRequestConfig): AxiosRequestConfig {
  const { Authorization: _sent, authorization: _sentLower, ...headers } = (config.headers?.toJSON?.() ?? {}) as Record<string, unknown>;
  return { ...config, headers: headers as AxiosRequestConfig['headers'], skipAuthRefresh: true };
}

/**
 * Whether axios followed a redirect to an origin that does not get the token: that server's 401
 * says nothing about our token. The final URL is `responseURL` in browsers (XHR) and
 * follow-redirects' `responseUrl` in Node.
 */
function redirectedElsewhere(error: AxiosError, allowed: (url: string) => boolean): boolean {
  const request = error.request as { responseURL?: unknown; res?: { responseUrl?: unknown } } | undefined;
  const finalUrl = request?.responseURL || request?.res?.responseUrl;
  return typeof finalUrl === 'string' && finalUrl !== '' && !allowed(finalUrl);
}

/**
 * What `source$` gives, or `undefined` when the request's signal aborted first (at once, not when
 * a refresh it waits for ends): the caller then lets axios reject the aborted request its own way.
 */
function unlessAborted<T>(source$: Observable<T>, { signal }: AxiosRequestConfig): Promise<T | undefined> {
  return firstValueFrom(source$.pipe(untilAborted(signal))).catch((failure: unknown) => {
    if (signal?.aborted) return undefined;
    throw failure;
  });
}
