import { createAction } from './createAction';
import type { SerializedAuthError } from './errors';
import type { StorageOperation } from './storage/guarded';

/**
 * Why a refresh started: a 401, a token known to expire, a timer, a heartbeat, you, the restore of a
 * session at page load, or the network / the page coming back after a refresh could not be done.
 */
export type RefreshReason = 'unauthorized' | 'expired' | 'scheduled' | 'heartbeat' | 'manual' | 'restore' | 'online' | 'visible';

/**
 * Why a session ended, as every tab hears it: `logout` (`auth.clearTokens()` or a dispatched
 * `loggedOut`), `rejected` (the refresh endpoint refused the refresh token: the session expired or
 * was revoked), `refreshError` (the refresh could not give valid tokens: a bug in `refresh`, a bad
 * answer), `otherUser` (another user's login replaced it), `storageCleared` (other code removed the
 * stored tokens), `noSession` (a restore found none: there was no session to end).
 */
export type EndReason = 'logout' | 'rejected' | 'refreshError' | 'otherUser' | 'storageCleared' | 'noSession';

/**
 * When the access token expires (epoch ms, if known), and from when the package refreshes before
 * sending it: `expirySkewMs` before expiry, but never before half its lifetime. `null` when unknown
 * (only the server's 401 tells). The one definition of "due", which the scheduled refresh uses too.
 */
export interface SessionTimes {
  expiresAt: number | null;
  refreshAt: number | null;
}

/** The end of a session: why, and whether it happened in another tab (`elsewhere`). */
export interface SessionEnd {
  reason: EndReason;
  elsewhere: boolean;
}

/**
 * The package's actions, namespaced by `name` (default `tokenRefresh`). None carries a token:
 * only expiry times, reasons and serialized errors, so DevTools and persisted state show no secret.
 *
 * They are notifications: `auth.epic` emits them as the session changes, and the reducer shows what
 * the coordinator is in whoever dispatches what. Two of them are also commands when you dispatch
 * them: `refreshRequested` starts a refresh (like `auth.refresh()`), `loggedOut` logs out (like
 * `auth.clearTokens()`). Dispatching the others yourself changes nothing.
 */
export function createAuthActions<Name extends string>(name: Name) {
  return {
    /** A session began: `auth.setTokens()` (a login), a restored session, or another tab's login. */
    tokensSet: createAction<SessionTimes>(`${name}/tokensSet`),
    /** A refresh started; every request that needs a token now waits for it. Dispatch it to ask for one. */
    refreshRequested: createAction<{ reason: RefreshReason }>(`${name}/refreshRequested`),
    /** The refresh stored new tokens; the waiting requests are replayed with them. */
    refreshSucceeded: createAction<SessionTimes>(`${name}/refreshSucceeded`),
    /** The server ended the session (or `refresh` is broken): tokens cleared, every waiting request failed. */
    refreshFailed: createAction<{ error: SerializedAuthError }>(`${name}/refreshFailed`),
    /**
     * The token could not be refreshed now (offline, timeout, 5xx): the session and its tokens are
     * kept, waiting requests failed with `RefreshUnavailableError`; it is tried again later.
     */
    refreshUnavailable: createAction<{ error: SerializedAuthError }>(`${name}/refreshUnavailable`),
    /** The storage threw or rejected; the session goes on in memory. */
    storageFailed: createAction<{ operation: StorageOperation; error: SerializedAuthError }>(`${name}/storageFailed`),
    /**
     * The session ended, in this tab or another, with why: `{ reason, elsewhere }`. Every tab gets
     * it for every end (after `refreshFailed` in the tab that refreshed), so one epic on it works
     * everywhere. Dispatch it yourself, without a payload, to log out (auth.epic clears the tokens
     * and fails the waiting requests), or call `auth.clearTokens()`, which dispatches it.
     */
    loggedOut: createAction<SessionEnd | undefined>(`${name}/loggedOut`),
  };
}

/**
 * The action creators of `auth.actions`.
 *
 * @example
 * ```ts
 * const sessionExpiredEpic = (action$: Observable<UnknownAction>) =>
 *   action$.pipe(filter(auth.actions.refreshFailed.match), map(() => navigateTo('/login')));
 * ```
 */
export type AuthActions = ReturnType<typeof createAuthActions<string>>;

/**
 * Any action of this package, for a reducer or an epic that handles them all.
 *
 * @example
 * ```ts
 * const isAuthAction = (action: UnknownAction): action is AuthAction => action.type.startsWith(`${auth.reducerPath}/`);
 * ```
 */
export type AuthAction = ReturnType<AuthActions[keyof AuthActions]>;
