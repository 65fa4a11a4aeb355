import { firstValueFrom, from, map, type Observable } from 'rxjs';
import { isRefreshSignal } from '../refreshSignal';
import { untilAborted } from './abort';
import { authErrorTest, checkAuth, hasNoSession, isApiAnswer, type AuthClient } from './AuthClient';
import { defaultFetchFn } from './defaultFetchFn';
import { createOriginGuard, type OriginOptions } from './originGuard';
import { typeError } from '../message';

export type { AuthClient } from './AuthClient';
export type { OriginOptions } from './originGuard';

/**
 * Options of `authFetch`: where the token may go (`allowedOrigins`, `baseOrigin`) and the transport.
 *
 * @example
 * ```ts
 * const apiFetch = authFetch(auth, {
 *   allowedOrigins: ['https://api.example.com'],
 *   fetchFn: (input, init) => window.fetch(input, { ...init, credentials: 'include' }),
 * });
 * ```
 */
export interface AuthFetchOptions extends OriginOptions {
  /**
   * The `fetch` that sends the requests. Inject one in tests or to add your own layer. For DPoP,
   * `dpop.resourceFetch(auth)` (`createDpop()` from `redux-observable-token-refresh/dpop`): the
   * session's token goes as `Authorization: DPoP` with a proof for the URL called.
   * @default (...args) => globalThis.fetch(...args), looked up on every call so that a later polyfill or mock counts
   */
  fetchFn?: (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>;
}

/**
 * `RequestInit`, plus a way for one request to opt out.
 *
 * @example
 * ```ts
 * await apiFetch('https://api.example.com/auth/login', { method: 'POST', body, skipAuthRefresh: true });
 * ```
 */
export interface AuthFetchInit extends RequestInit {
  /** Send this request as written: no token, no refresh on its 401 (a login call, a public URL). */
  skipAuthRefresh?: boolean;
}

/**
 * A drop-in `fetch` that carries the access token and shares the refresh with everything else.
 *
 * @example
 * ```ts
 * const apiFetch: AuthFetch = authFetch(auth, { allowedOrigins: ['https://api.example.com'] });
 * const controller = new AbortController();
 * const response = await apiFetch('https://api.example.com/profile', { signal: controller.signal });
 * ```
 */
export type AuthFetch = (input: RequestInfo | URL, init?: AuthFetchInit) => Promise<Response>;

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
 * A response counts as "token not accepted" when the coordinator's `isAuthError` says so (HTTP 401
 * by default; the `Response` itself is what it is given, so an API that answers 403 with an
 * `X-Error-Code` header can say `e => isUnauthorized(e) || e?.headers?.get?.('x-error-code') === '1002'`).
 *
 * The caller's `signal` (in `init` or on a `Request`) is watched while the request waits for a
 * refresh: aborting rejects at once with the signal's reason (an `AbortError`), and the request is
 * never sent. The refresh goes on for everyone else.
 *
 * The URL checked is the one fetch will call: a relative one is resolved against `document.baseURI`
 * (so an injected `<base href>` moves the check with the request), a `Request` of any realm is
 * read by its `url`, a `URL` object is read once and sent as that string. A 401 that a redirect
 * brought from another origin is returned as is, with no refresh.
 *
 * Requests elsewhere, with `skipAuthRefresh: true`, or carrying the `signal` of a refresh call are
 * passed through untouched, so the refresh call can use this `fetch` without waiting on itself.
 * **If your `refresh` function calls this same `authFetch`, it must pass on the `signal` it is
 * given (or send with `skipAuthRefresh: true`)**: otherwise the refresh call waits for the refresh
 * it is making, until `refreshTimeoutMs` fails it.
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
  if (typeof fetchFn !== 'function')
    throw typeError(
      'INVALID_OPTION',
      () => process.env.NODE_ENV !== 'production' && 'authFetch: option "fetchFn" must be a function (input, init) => Promise<Response>.',
      'authFetch: option "fetchFn"',
    );
  const allowed = createOriginGuard('authFetch', origins);

  return (input, init) => {
    const { skipAuthRefresh, ...requestInit } = init ?? {};
    const request = isRequest(input) ? input : undefined;
    // Read once, as fetch does: a URL object (or anything with a toString) changed after this
    // call cannot move the request after the check. What is checked is what is sent.
    // eslint-disable-next-line @typescript-eslint/no-base-to-string -- not a Request here: a string, a URL or anything fetch stringifies itself
    const target = request ?? String(input);
    const url = request ? request.url : (target as string);
    const signal = requestInit.signal ?? request?.signal;
    const asWritten = () => fetchFn(target, init === undefined ? undefined : requestInit);
    if (skipAuthRefresh || isRefreshSignal(signal) || !allowed(url)) return asWritten();
    const none = hasNoSession(auth, signal);
    if (none === true) return asWritten();
    if (none !== false) return none.then((noSession) => (noSession ? asWritten() : withToken()));
    return withToken();

    function withToken(): Promise<Response> {
      const isAuthError = authErrorTest(auth);
      let rejected: Response | undefined;
      const send = (token: string): Observable<Response> => {
        discard(rejected); // a replay: the rejected answer before it is not needed any more
        rejected = undefined;
        const headers = new Headers(requestInit.headers ?? request?.headers);
        headers.set('Authorization', `Bearer ${token}`);
        return from(fetchFn(request ? request.clone() : target, { ...requestInit, headers })).pipe(
          map((response) => {
            // Redirected to another origin: that server's 401 says nothing about our token.
            if (!isAuthError(response) || (response.redirected && response.url && !allowed(response.url))) return response;
            // Thrown to `authorized`, which refreshes (or replays a late one) and counts the retries.
            rejected = response;
            // eslint-disable-next-line @typescript-eslint/only-throw-error -- the API's own answer, handed to `authorized` as its auth error
            throw response;
          }),
        );
      };
      return firstValueFrom(auth.authorized(send).pipe(untilAborted(signal))).catch((error: unknown) => {
        // The API still says no after a refresh (RetryLimitError), or a test double's `authorized`
        // passed the answer on: either way it is the API's answer, and fetch resolves with it.
        if (isApiAnswer(error, rejected)) return rejected!;
        discard(rejected);
        throw error;
      });
    }
  };
}

/**
 * A `Request` by its shape, not `instanceof`: one from an iframe, from the undici package or from a
 * polyfill is not an instance of this realm's `Request`, and stringified it reads as the relative
 * URL "[object Request]", which the check would allow while fetch sends it to its real `url`.
 */
function isRequest(input: unknown): input is Request {
  const candidate = input as Partial<Request> | null;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.url === 'string' &&
    typeof candidate.clone === 'function' &&
    typeof candidate.headers === 'object'
  );
}

/** Frees the connection an unread 401 body would hold. */
function discard(response: Response | undefined): void {
  response?.body?.cancel().catch(() => {});
}
