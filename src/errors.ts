/**
 * Every way a request can end without a value, as a small class with a stable `name` and `code`.
 * `instanceof` works within one realm; the `is…` guards also accept errors from another realm
 * (an iframe, a second copy of this package) by checking `name`.
 */
export type TokenRefreshErrorCode =
  | 'REFRESH_FAILED'
  | 'REFRESH_TIMEOUT'
  | 'REFRESH_UNAVAILABLE'
  | 'RETRY_LIMIT'
  | 'LOGGED_OUT'
  | 'NOT_AUTHENTICATED'
  | 'EPIC_NOT_RUNNING';

abstract class NamedError extends Error {
  abstract override readonly name: string;
  abstract readonly code: TokenRefreshErrorCode;
}

/**
 * The session is over: the refresh endpoint rejected the refresh token (400 `invalid_grant`, 401,
 * 403, or what your `isSessionEnded` says), or `refresh` is broken (it threw, returned no tokens, or
 * tokens of the wrong shape; the message names the field). Tokens are cleared; the user must log in
 * again. `cause` is what the refresh call failed with.
 */
export class TokenRefreshError extends NamedError {
  override readonly name: string = 'TokenRefreshError';
  readonly code: TokenRefreshErrorCode = 'REFRESH_FAILED';
}

/**
 * The refresh call did not answer within `refreshTimeoutMs`. A timeout says nothing about the session,
 * so it is transient: waiting requests get a `RefreshUnavailableError` whose `cause` is this error.
 */
export class RefreshTimeoutError extends TokenRefreshError {
  override readonly name = 'RefreshTimeoutError';
  override readonly code = 'REFRESH_TIMEOUT';
  constructor(readonly timeoutMs: number) {
    super(`The token refresh did not answer within ${timeoutMs} ms (option refreshTimeoutMs).`);
  }
}

/**
 * The token could not be refreshed now (network down, timeout, 408, 429, 5xx, a captive portal's
 * page instead of tokens), even after `refreshRetries`. The session and its tokens are kept: the next
 * request (after a short cool-down), an `online` event or the page becoming visible tries again.
 * Show "you are offline", not the login page. `cause` is the last failure.
 */
export class RefreshUnavailableError extends NamedError {
  readonly name = 'RefreshUnavailableError';
  readonly code = 'REFRESH_UNAVAILABLE';
  constructor(cause: unknown) {
    super('The access token could not be refreshed now (offline, timeout or server error); the session is kept and the refresh tried again later.', { cause });
  }
}

/**
 * The call was refreshed and replayed `maxRetries` times and the API still answered with an auth
 * error, so the token is not what the API objects to. `cause` is the last auth error.
 *
 * With `replaced: true` the call kept being answered 401 for tokens that another refresh had
 * already replaced: tokens are refreshed faster than the call completes, so replaying it again
 * would not end.
 */
export class RetryLimitError extends NamedError {
  readonly name = 'RetryLimitError';
  readonly code = 'RETRY_LIMIT';
  constructor(
    readonly retries: number,
    cause: unknown,
    readonly replaced = false,
  ) {
    super(
      retries === 0
        ? 'The request got an auth error and was not replayed (maxRetries: 0); a token refresh was started for the next request.'
        : replaced
        ? `Auth errors kept coming for tokens that other refreshes had already replaced: tokens are replaced faster than this request completes. Make access tokens outlive your slowest request (maxRetries: ${retries}).`
        : `The request still failed with an auth error after ${retries} token refresh(es), so the token is not the problem: check the user's permissions, or what your isAuthError option counts as an auth error (maxRetries: ${retries}).`,
      { cause },
    );
  }
}

/**
 * The session the call started in ended (a logout, or another user's login) while it waited for a
 * refresh or before its 401 came back. It is never replayed in another session.
 */
export class LoggedOutError extends NamedError {
  readonly name = 'LoggedOutError';
  readonly code = 'LOGGED_OUT';
  constructor() {
    super('The session this request started in has ended (logout or another login); it was not sent again.');
  }
}

/** There are no tokens: nobody logged in, or the session ended. Nothing was sent. */
export class NotAuthenticatedError extends NamedError {
  readonly name = 'NotAuthenticatedError';
  readonly code = 'NOT_AUTHENTICATED';
  constructor() {
    super('No access token: log in and call auth.setTokens(tokens) first. The request was not sent.');
  }
}

/** A refresh was needed but `auth.epic` is not running, so nobody could perform it. */
export class EpicNotRunningError extends NamedError {
  readonly name = 'EpicNotRunningError';
  readonly code = 'EPIC_NOT_RUNNING';
  constructor() {
    super(
      'A token refresh is needed but auth.epic is not running: add auth.epic to your root epic (combineEpics(auth.epic, ...)) and call epicMiddleware.run(rootEpic).',
    );
  }
}

/** Any error this package ends a request with. */
export type AuthRefreshError =
  | TokenRefreshError
  | RefreshUnavailableError
  | RetryLimitError
  | LoggedOutError
  | NotAuthenticatedError
  | EpicNotRunningError;

const names = new Set([
  'TokenRefreshError',
  'RefreshTimeoutError',
  'RefreshUnavailableError',
  'RetryLimitError',
  'LoggedOutError',
  'NotAuthenticatedError',
  'EpicNotRunningError',
]);

/**
 * True for any error this package ends a request with, also across realms.
 *
 * @example
 * catchError(error => isAuthRefreshError(error) && error.code === 'REFRESH_FAILED'
 *   ? of(sessionExpired()) : of(requestFailed(error)))
 */
export function isAuthRefreshError(error: unknown): error is AuthRefreshError {
  return error instanceof NamedError || names.has((error as Error | null)?.name as string);
}

/** The `{ name, code, message }` of an error: safe for actions and state, never a token or a cause. */
export interface SerializedAuthError {
  name: string;
  code?: string;
  message: string;
}

export function serializeError(error: unknown): SerializedAuthError {
  const { name = 'Error', code, message = String(error) } = (error ?? {}) as Partial<NamedError>;
  return code === undefined ? { name, message } : { name, code, message };
}
