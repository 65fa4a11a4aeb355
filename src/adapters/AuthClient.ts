import type { TokenRefresh } from '../createTokenRefresh';
import { RetryLimitError } from '../errors';
import { isUnauthorized } from '../httpErrors';
import type { AbortSignalLike } from './abort';
import { typeError } from '../message';

/**
 * What an adapter needs of the object `createTokenRefresh` returns: the `authorized` operator
 * (every request goes through it, so every client shares one refresh), a look at whether there is
 * a session at all, and `isAuthError`, so that a client's error means "token not accepted" exactly
 * when it does for `authorized`. Structural, so a test double or a wrapped `auth` fits too; one
 * without `isAuthError` gets the default, HTTP 401 (`isUnauthorized`).
 *
 * @example
 * ```ts
 * // The real thing
 * const client: AuthClient = createTokenRefresh({ refresh });
 * // A wrapper that logs every call an adapter makes
 * const logged: AuthClient = { ...auth, authorized: (request) => (console.log('request'), auth.authorized(request)) };
 * ```
 */
export type AuthClient = Pick<TokenRefresh<string>, 'authorized' | 'getAccessToken'> &
  Partial<Pick<TokenRefresh<string>, 'isAuthError' | 'getStatus' | 'restore'>>;

/** @internal Throws the `TypeError` that names the argument when `auth` is not an auth object. */
export function checkAuth(adapter: string, auth: unknown): asserts auth is AuthClient {
  const candidate = auth as Partial<AuthClient> | null;
  if (typeof candidate?.authorized !== 'function' || typeof candidate.getAccessToken !== 'function') {
    throw typeError(
      'INVALID_ARGUMENT',
      () =>
        process.env.NODE_ENV !== 'production' &&
        `${adapter}: the first argument must be the object createTokenRefresh() returns, e.g. ${adapter}(auth, ...).`,
      adapter,
    );
  }
  if (candidate.isAuthError !== undefined && typeof candidate.isAuthError !== 'function') {
    throw typeError(
      'INVALID_ARGUMENT',
      () => process.env.NODE_ENV !== 'production' && `${adapter}: auth.isAuthError must be a function (error) => boolean, or absent.`,
      adapter,
    );
  }
}

/** @internal The coordinator's `isAuthError`, or HTTP 401 for a test double without one. */
export function authErrorTest(auth: AuthClient): (error: unknown) => boolean {
  return auth.isAuthError ?? isUnauthorized;
}

/**
 * @internal No session at all (before login, after logout): the request goes out as written. That is
 * how a login call through the same client works, and why a pre-login 401 is not refreshed. While a
 * session is being restored (the cookie asked at page load, an async storage read) nobody knows yet:
 * the answer is a Promise of the outcome, so that nothing leaves without the token it would have had.
 * An abort ends the wait with `false`: the request then goes to `authorized`, which rejects with the
 * abort before anything is sent.
 */
export function hasNoSession(auth: AuthClient, signal?: AbortSignalLike | null): boolean | Promise<boolean> {
  if (auth.getStatus?.() !== 'restoring' || !auth.restore) return auth.getAccessToken() === undefined;
  return new Promise((resolve) => {
    const aborted = () => resolve(false);
    if (signal?.aborted) return aborted();
    signal?.addEventListener?.('abort', aborted, { once: true });
    // Offline, the restore rejects: there is still no token to send, so the request goes as written.
    const settled = () => (signal?.removeEventListener?.('abort', aborted), resolve(auth.getAccessToken() === undefined));
    auth.restore!().then(settled, settled);
  });
}

/**
 * @internal Whether `failure`, what `authorized` ended with, is the API's own answer `last`: the API
 * still said "not accepted" after `maxRetries` refreshes (`RetryLimitError` whose cause it is), or
 * `authorized` passed it on as it was. Each adapter then answers in its client's shape (the last 401
 * `Response`, `AxiosError` or `{ error: { status: 401 } }`) instead of this package's error.
 */
export function isApiAnswer(failure: unknown, last: unknown): boolean {
  return last !== undefined && (failure === last || (failure instanceof RetryLimitError && failure.cause === last));
}
