import { createAction } from './createAction';
import type { SerializedAuthError } from './errors';

/** Why a refresh started: a 401, a token known to expire, a timer, a heartbeat, or you. */
export type RefreshReason = 'unauthorized' | 'expired' | 'scheduled' | 'heartbeat' | 'manual';

/**
 * The package's actions, namespaced by `name` (default `tokenRefresh`). None carries a token:
 * only expiry times, reasons and serialized errors, so DevTools and persisted state show no secret.
 */
export function createAuthActions<Name extends string>(name: Name) {
  return {
    /** `auth.setTokens()` stored new tokens (after a login). */
    tokensSet: createAction<{ expiresAt: number | null }>(`${name}/tokensSet`),
    /** A refresh started; every request that needs a token now waits for it. */
    refreshRequested: createAction<{ reason: RefreshReason }>(`${name}/refreshRequested`),
    /** The refresh stored new tokens; the waiting requests are replayed with them. */
    refreshSucceeded: createAction<{ expiresAt: number | null }>(`${name}/refreshSucceeded`),
    /** The refresh failed for good; tokens are cleared and every waiting request failed. */
    refreshFailed: createAction<{ error: SerializedAuthError }>(`${name}/refreshFailed`),
    /**
     * The session ended. Dispatch it yourself to log out (auth.epic clears the tokens and fails
     * the waiting requests), or call `auth.clearTokens()`, which dispatches it.
     */
    loggedOut: createAction(`${name}/loggedOut`),
  };
}

export type AuthActions = ReturnType<typeof createAuthActions<string>>;
export type AuthAction = ReturnType<AuthActions[keyof AuthActions]>;
