export { createTokenRefresh } from './createTokenRefresh';
export type { TokenRefresh, TokenRefreshOptions } from './createTokenRefresh';
export type { RefreshFn } from '../epics/refreshEpic';
export type { AuthActions, AuthAction, RefreshReason } from './actions';
export type { AuthStatus, TokenRefreshState } from './reducer';
export type { Tokens } from './tokens';
export { memoryStorage, localStorageStorage } from './storage';
export type { TokenStorage, LocalStorageOptions, LocksLike } from './storage';
export { isUnauthorized, isTransientError, httpStatusOf } from './httpErrors';
export {
  TokenRefreshError,
  RefreshTimeoutError,
  RetryLimitError,
  LoggedOutError,
  NotAuthenticatedError,
  EpicNotRunningError,
  isAuthRefreshError,
} from './errors';
export type { AuthRefreshError, TokenRefreshErrorCode, SerializedAuthError } from './errors';
export { serializeError } from './errors';
