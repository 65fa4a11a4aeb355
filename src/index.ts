export { createTokenRefresh } from './createTokenRefresh';
export type { TokenRefresh, TokenRefreshOptions, StorageModeOptions, CookieModeOptions } from './createTokenRefresh';
export type { RefreshFn, CookieRefreshFn } from './refresh/refreshEpic';
export type { AuthorizedOptions } from './authorized';
export type { AuthActions, AuthAction, EndReason, RefreshReason, SessionEnd, SessionTimes } from './actions';
export type { AuthStatus, TokenRefreshState } from './reducer';
export type { Tokens } from './tokens';
export { memoryStorage, localStorageStorage, asyncStorage } from './storage';
export { syncTabs } from './tabs/channel';
export type { TokenStorage, SyncTokenStorage, LocalStorageOptions, LocksLike, AsyncKeyValue } from './storage';
export { isUnauthorized, isTransientError, isSessionEnded, httpStatusOf } from './httpErrors';
export {
  TokenRefreshError,
  RefreshTimeoutError,
  RefreshUnavailableError,
  RetryLimitError,
  LoggedOutError,
  NotAuthenticatedError,
  EpicNotRunningError,
  isAuthRefreshError,
} from './errors';
export type { AuthRefreshError, TokenRefreshErrorCode, SerializedAuthError } from './errors';
export { serializeError } from './errors';
export { redactSecrets } from './redact';
