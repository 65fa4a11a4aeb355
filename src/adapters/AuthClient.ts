import type { TokenRefresh } from '../createTokenRefresh';

/**
 * What an adapter needs of the object `createTokenRefresh` returns: the `authorized` operator
 * (every request goes through it, so every client shares one refresh) and a look at whether
 * there is a session at all. Structural, so a test double or a wrapped `auth` fits too.
 */
export type AuthClient = Pick<TokenRefresh<string>, 'authorized' | 'getAccessToken'>;

/** @internal Throws the `TypeError` that names the argument when `auth` is not an auth object. */
export function checkAuth(adapter: string, auth: unknown): asserts auth is AuthClient {
  const candidate = auth as Partial<AuthClient> | null;
  if (typeof candidate?.authorized !== 'function' || typeof candidate.getAccessToken !== 'function') {
    throw new TypeError(`${adapter}: the first argument must be the object createTokenRefresh() returns, e.g. ${adapter}(auth, ...).`);
  }
}
