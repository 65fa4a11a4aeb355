import { memoryStorage } from './storage/memory';
import type { TokenStorage } from './storage/types';
import { syncTabs } from './tabs/channel';

/** What `cookieSession()` returns: pass it as `createTokenRefresh({ session })`. */
export interface CookieSession {
  readonly kind: 'cookie';
  /** @internal The storage for the coordinator named `name`: `given`, or memory, shared by the tabs. */
  storage(name: string, given?: TokenStorage): TokenStorage;
}

/**
 * The refresh token lives in an HttpOnly cookie that scripts cannot read: the package never sees,
 * stores or passes one. `setTokens({ accessToken })` is the login; at page load the session is
 * restored from the cookie once `auth.epic` runs, and requests made meanwhile wait for it. The
 * access token is kept in memory and shared by the tabs of the origin (`syncTabs`), which refresh
 * one at a time, since the cookie they share rotates.
 *
 * @param options.syncTabs `false`: each tab keeps its own access token and refreshes on its own (only
 *   if your server lets one cookie refresh twice). The `storage` option of `createTokenRefresh` still
 *   picks where the access token lives; it is kept in step across tabs unless this is `false`.
 * @example
 * ```ts
 * import { createTokenRefresh } from 'redux-observable-token-refresh';
 * import { cookieSession } from 'redux-observable-token-refresh/cookie';
 *
 * const auth = createTokenRefresh({
 *   session: cookieSession(),
 *   refresh: (_, { signal }) =>
 *     fetch('/auth/refresh', { method: 'POST', credentials: 'include', signal }).then((r) => (r.ok ? r.json() : Promise.reject(r))),
 * });
 * ```
 */
export function cookieSession({ syncTabs: shared = true }: { syncTabs?: boolean } = {}): CookieSession {
  return { kind: 'cookie', storage: (name, given = memoryStorage()) => (shared ? syncTabs(given, name) : given) };
}
