import { firstValueFrom, from, map, type Observable } from 'rxjs';
import { RetryLimitError } from '../errors';
import { isRefreshSignal } from '../refreshSignal';
import { checkAuth, type AuthClient } from './AuthClient';
import { createOriginGuard, type OriginOptions } from './originGuard';

export type { AuthClient } from './AuthClient';
export type { OriginOptions } from './originGuard';

export interface AuthFetchOptions extends OriginOptions {
  /**
   * The `fetch` that sends the requests. Inject one in tests or to add your own layer.
   * @default (...args) => globalThis.fetch(...args), looked up on every call so that a later polyfill or mock counts
   */
  fetchFn?: (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>;
}

/** `RequestInit`, plus a way for one request to opt out. */
export interface AuthFetchInit extends RequestInit {
  /** Send this request as written: no token, no refresh on its 401 (a login call, a public URL). */
  skipAuthRefresh?: boolean;
}

/** A drop-in `fetch` that carries the access token and shares the refresh with everything else. */
export type AuthFetch = (input: RequestInfo | URL, init?: AuthFetchInit) => Promise<Response>;

const defaultFetchFn: NonNullable<AuthFetchOptions['fetchFn']> = (input, init) => fetch(input, init);

/**
 * A drop-in `fetch` on the same refresh coordinator as your epics: it adds `Authorization: Bearer`
 * to requests for `allowedOrigins`, waits while a refresh is in flight, refreshes first when the
 * token is known to expire, and on a 401 joins the one shared refresh and replays the request.
 *
 * How it ends, so existing `fetch` code keeps working:
 * - resolves with the `Response`, as `fetch` does, whatever its status: a 401 that persists after
 *   `maxRetries` refreshes resolves with that last 401 (the token was fine; the API says no);
 * - rejects with `TokenRefreshError` when the refresh failed and the session is over, and with
 *   `LoggedOutError` when the user logged out while the request waited;
 * - with no session at all (before login), requests go out without a token, like the login call.
 *
 * Requests elsewhere, with `skipAuthRefresh: true`, or carrying the `signal` of a refresh call are
 * passed through untouched, so the refresh call can use this `fetch` without waiting on itself.
 * Replaying needs a body that can be sent twice: a string, `FormData`, `Blob`, `URLSearchParams`
 * or a `Request` (cloned per attempt), not a one-shot `ReadableStream`.
 *
 * @example
 * ```ts
 * import { authFetch } from 'redux-observable-token-refresh/fetch';
 *
 * const apiFetch = authFetch(auth, { allowedOrigins: ['https://api.example.com'] });
 * const response = await apiFetch('https://api.example.com/profile');
 * if (response.ok) render(await response.json());
 * ```
 */
export function authFetch(auth: AuthClient, options: AuthFetchOptions = {}): AuthFetch {
  checkAuth('authFetch', auth);
  const { fetchFn = defaultFetchFn, ...origins } = options ?? {};
  if (typeof fetchFn !== 'function') throw new TypeError('authFetch: option "fetchFn" must be a function (input, init) => Promise<Response>.');
  const allowed = createOriginGuard('authFetch', origins);

  return (input, init) => {
    const { skipAuthRefresh, ...requestInit } = init ?? {};
    const request = isRequest(input) ? input : undefined;
    const url = request ? request.url : input instanceof URL ? input : String(input);
    if (skipAuthRefresh || isRefreshSignal(requestInit.signal ?? request?.signal) || !allowed(url) || auth.getAccessToken() === undefined) {
      return fetchFn(input, init === undefined ? undefined : requestInit);
    }
    let rejected: Response | undefined;
    const send = (token: string): Observable<Response> => {
      discard(rejected); // a replay: the 401 before it is not needed any more
      rejected = undefined;
      const headers = new Headers(requestInit.headers ?? request?.headers);
      headers.set('Authorization', `Bearer ${token}`);
      return from(fetchFn(request ? request.clone() : input, { ...requestInit, headers })).pipe(
        map((response) => {
          if (response.status !== 401) return response;
          // Thrown as is: the default isAuthError reads `status` from a Response.
          rejected = response;
          throw response;
        }),
      );
    };
    return firstValueFrom(auth.authorized(send)).catch((error: unknown) => {
      // The API still says 401 after a refresh (RetryLimitError), or your isAuthError did not take
      // this 401 as an auth error: either way it is the API's answer, and fetch resolves with it.
      if (rejected && (error === rejected || (error instanceof RetryLimitError && error.cause === rejected))) return rejected;
      discard(rejected);
      throw error;
    });
  };
}

function isRequest(input: unknown): input is Request {
  return typeof Request !== 'undefined' && input instanceof Request;
}

/** Frees the connection an unread 401 body would hold. */
function discard(response: Response | undefined): void {
  response?.body?.cancel().catch(() => {});
}
