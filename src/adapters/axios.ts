import type { AxiosError, AxiosInstance, AxiosRequestConfig, AxiosResponse, InternalAxiosRequestConfig } from 'axios';
import { Observable, firstValueFrom, from, type Subscriber } from 'rxjs';
import { causeFilters, isAuthRefreshError } from '../errors';
import { redactSecrets } from '../redact';
import { isRefreshSignal } from '../refreshSignal';
import { untilAborted } from './abort';
import { authErrorTest, checkAuth, hasNoSession, isApiAnswer, type AuthClient } from './AuthClient';
import { createOriginGuard, type OriginOptions } from './originGuard';
import { typeError } from '../message';

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

/** One request of an attached instance, from its request interceptor to its answer. */
interface Call {
  /** The config to replay: the one that was sent, once known. */
  config: InternalAxiosRequestConfig;
  /** The API's latest "not accepted", in axios' own shape. */
  last: unknown;
  /** The first attempt ended without an auth error (or was not ours): `authorized` is done. */
  settle(response?: AxiosResponse): void;
  /** The first attempt's auth error, handed to `authorized`. */
  reject(error: unknown): void;
  /** What `authorized` ends with: the first answer, a replay's, or this package's error. */
  outcome: Promise<unknown>;
}

/**
 * The call each request belongs to, keyed by its config objects: the one the request interceptor
 * saw and the one axios sent (an interceptor may have replaced it), which is the one an answer carries.
 */
const calls = new WeakMap<object, Call>();

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
 * What it rejects with after a 401 (the last `AxiosError`, this package's errors and their `cause`)
 * carries no token and no request body: it is redacted with `redactSecrets`, as is every `cause`
 * this package's errors keep from then on (the failure of an axios refresh call), once the call's
 * interceptors ran. Other errors reach your code as axios made them, so an interceptor registered
 * after this one can still re-send `error.config`.
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
 * For DPoP, give the instance `api.defaults.adapter = dpop.axiosAdapter(auth, axios.getAdapter(api.defaults.adapter))`
 * (`createDpop()` from `redux-observable-token-refresh/dpop`): it turns the session's token into
 * `Authorization: DPoP` with a proof made as the request leaves, for the URL called.
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
  // A refresh call's AxiosError becomes the cause of this package's error: it is redacted then, once
  // every interceptor ran (one registered after this one may still re-send `error.config`).
  causeFilters.add(redactSecrets);
  if (typeof instance?.interceptors?.request?.use !== 'function' || typeof instance.request !== 'function') {
    throw typeError(
      'INVALID_ARGUMENT',
      () =>
        process.env.NODE_ENV !== 'production' &&
        'attachAxios: the second argument must be an axios instance, e.g. attachAxios(auth, axios.create({ baseURL })).',
      'attachAxios',
    );
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
  const attachAtSend = (token: string, call?: Call) => {
    const attach = function (this: InternalAxiosRequestConfig, data: unknown) {
      if (this?.headers && allowed(instance.getUri(this))) {
        this.headers.set('Authorization', `Bearer ${token}`);
        if (call) calls.set(this, call).set(call.config, call);
      } else if (call) {
        call.settle(); // not ours after all: its answer says nothing about the token
      }
      return data;
    };
    ours.add(attach);
    return attach;
  };
  const withTransform = <C extends AxiosRequestConfig>(config: C, token: string, call?: Call): C => ({
    ...config,
    transformRequest: [...toArray(config.transformRequest).filter((fn) => !ours.has(fn)), attachAtSend(token, call)],
  });

  /**
   * Each request runs inside the one `authorized` call that gave it its token, from the request
   * interceptor to the response: its 401 is handed back to that call, which knows the session the
   * token belongs to (a 401 that arrives after a logout, or after another user logged in, ends in
   * `LoggedOutError`, never in a replay with someone else's token), refreshes or replays a late 401
   * at once, and counts replays. Replays are made from inside it too.
   */
  const onRequest = async (config: InternalAxiosRequestConfig): Promise<InternalAxiosRequestConfig> => {
    if (config.skipAuthRefresh || isRefreshSignal(config.signal)) return config;
    if (!allowed(instance.getUri(config))) return config; // no wait for a request that will not get the token
    if (await hasNoSession(auth, config.signal)) return config;
    let first: Subscriber<unknown> | undefined;
    let handOut!: (token: string) => void;
    const token = new Promise<string>((resolve) => (handOut = resolve));
    const call: Call = {
      config,
      last: undefined,
      settle: (response) => {
        const attempt = first;
        first = undefined;
        if (attempt && response !== undefined) attempt.next(response);
        attempt?.complete();
      },
      reject: (error) => {
        const attempt = first;
        first = undefined;
        call.last = error;
        attempt?.error(error);
      },
      outcome: undefined as unknown as Promise<unknown>,
    };
    call.outcome = firstValueFrom(
      auth
        .authorized((current) =>
          call.last === undefined
            ? new Observable<unknown>((subscriber) => {
                first = subscriber; // settled by the response interceptors below
                handOut(current);
              })
            : from(
                instance
                  .request(withTransform(replayOf(call.config), current))
                  .catch((failure: unknown) => Promise.reject((call.last = failure))),
              ),
        )
        .pipe(untilAborted(config.signal)),
      { defaultValue: undefined },
    );
    // `authorized` waits for a refresh in flight and refreshes first when the token is known to
    // expire; it fails before handing out a token when that refresh fails or the user logs out.
    const given = await Promise.race([token, call.outcome.then(() => undefined)]).catch((failure: unknown) => {
      // Aborted while waiting: handed back without a token. axios checks the signal before it
      // sends, and rejects with its own CanceledError; nothing leaves.
      if (config.signal?.aborted) return undefined;
      throw failure;
    });
    if (given === undefined) return config;
    config.transformRequest = withTransform(config, given, call).transformRequest;
    return config;
  };

  const onResponse = (response: AxiosResponse): AxiosResponse => {
    calls.get(response.config)?.settle(response);
    return response;
  };

  const onResponseError = (error: AxiosError): Promise<unknown> => {
    const config = error?.config;
    const call = config && calls.get(config);
    if (!config || !call) return Promise.reject(error);
    if (!isAuthError(error) || redirectedElsewhere(error, allowed)) {
      call.settle();
      return Promise.reject(error);
    }
    call.config = config; // replays repeat what was sent, after every interceptor
    call.reject(error);
    return call.outcome.catch((failure: unknown) => {
      // Aborted while waiting for the refresh: axios rejects it unsent, as it rejects any aborted request.
      if (config.signal?.aborted) return instance.request({ ...config, skipAuthRefresh: true });
      // This package's error, and the causes it carries (the last 401 AxiosError of a RetryLimitError,
      // a refresh call's failure), without the token and the request body.
      if (isAuthRefreshError(failure)) redactSecrets(failure);
      return Promise.reject(isApiAnswer(failure, call.last) ? call.last : failure);
    });
  };

  const requestId = instance.interceptors.request.use(onRequest);
  const responseId = instance.interceptors.response.use(onResponse, onResponseError);
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
