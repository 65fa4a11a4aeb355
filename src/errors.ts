import { httpDetail, httpStatusOf } from './httpErrors';
import { msg } from './message';

/**
 * Every way a request can end without a value, as a small class with a stable `name` and `code`.
 * `instanceof` works within one realm; the `is…` guards also accept errors from another realm
 * (an iframe, a second copy of this package) by checking `name`.
 */
export type TokenRefreshErrorCode =
  'REFRESH_FAILED' | 'REFRESH_TIMEOUT' | 'REFRESH_UNAVAILABLE' | 'RETRY_LIMIT' | 'LOGGED_OUT' | 'NOT_AUTHENTICATED' | 'EPIC_NOT_RUNNING';

/**
 * @internal What cleans a `cause` as this package wraps it, after every interceptor of the call ran:
 * `attachAxios` adds `redactSecrets` (src/redact.ts), so only an app that imports it pays for it. Else
 * a cause is kept as it came; an app whose `refresh` calls axios directly wraps it with `redactSecrets`.
 */
export const causeFilters = new Set<(cause: unknown) => unknown>();

abstract class NamedError extends Error {
  constructor(message?: string, options?: { cause?: unknown }) {
    super(message, options);
    if (options) for (const filter of causeFilters) filter(options.cause);
  }

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
    super(
      msg(
        'REFRESH_TIMEOUT',
        () => process.env.NODE_ENV !== 'production' && `The token refresh did not answer within ${timeoutMs} ms (refreshTimeoutMs).`,
      ),
    );
  }
}

/** @internal The refresh endpoint's "no" (`isSessionEnded`), as opposed to a broken `refresh`. */
const refusals = new WeakSet<object>();
/** @internal */
export const refused = <E extends object>(error: E): E => (refusals.add(error), error);
/** @internal */
export const isRefusal = (error: unknown): boolean => refusals.has(error as object); // false for a primitive, as WeakSet does

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
    super(
      msg(
        'REFRESH_UNAVAILABLE',
        () =>
          process.env.NODE_ENV !== 'production' &&
          'Could not refresh the access token now (offline, timeout or server error); the session is kept and the refresh retried later.',
      ),
      { cause },
    );
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
      msg(
        'RETRY_LIMIT',
        () =>
          process.env.NODE_ENV !== 'production' &&
          (retries === 0
            ? 'Auth error; not replayed (maxRetries: 0).'
            : replaced
              ? `Auth errors kept coming for tokens already replaced: tokens expire faster than this request completes; make them outlive it (maxRetries: ${retries}).`
              : `Still an auth error after ${retries} refresh(es), so the token is not the problem: check permissions, or your isAuthError (maxRetries: ${retries}).`),
      ),
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
    super(
      msg(
        'LOGGED_OUT',
        () =>
          process.env.NODE_ENV !== 'production' &&
          'The session this request started in has ended (logout or another login); not sent again.',
      ),
    );
  }
}

/** There are no tokens: nobody logged in, or the session ended. Nothing was sent. */
export class NotAuthenticatedError extends NamedError {
  readonly name = 'NotAuthenticatedError';
  readonly code = 'NOT_AUTHENTICATED';
  constructor() {
    super(
      msg(
        'NOT_AUTHENTICATED',
        () => process.env.NODE_ENV !== 'production' && 'No access token: log in and call auth.setTokens() first; not sent.',
      ),
    );
  }
}

/** A refresh was needed but `auth.epic` is not running, so nobody could perform it. */
export class EpicNotRunningError extends NamedError {
  readonly name = 'EpicNotRunningError';
  readonly code = 'EPIC_NOT_RUNNING';
  constructor() {
    super(
      msg(
        'EPIC_NOT_RUNNING',
        () =>
          process.env.NODE_ENV !== 'production' &&
          'A refresh is needed but auth.epic is not running: add auth.epic to your root epic and call epicMiddleware.run().',
      ),
    );
  }
}

/** Any error this package ends a request with. */
export type AuthRefreshError =
  TokenRefreshError | RefreshUnavailableError | RetryLimitError | LoggedOutError | NotAuthenticatedError | EpicNotRunningError;

const names: ReadonlySet<unknown> = new Set([
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
  return error instanceof NamedError || names.has((error as { name?: unknown } | null)?.name);
}

/**
 * What of an error may go into actions, state and RTK Query's `CUSTOM_ERROR`: its `name`, its
 * `code`, its HTTP `status` and a `message` written by this package. Never the error's own message,
 * its cause or a server body: those can quote a token (a JSON parse error of a plain-text token,
 * an error page that echoes the request), and the store is what DevTools, loggers and persisted
 * state show.
 */
export interface SerializedAuthError {
  name: string;
  code?: string;
  /** The HTTP status of the error or of its cause, when there is one. */
  status?: number;
  message: string;
}

/** A name or code worth keeping: short and identifier-like, so it cannot carry a token or a sentence. */
const keep = (value: unknown): string | undefined =>
  typeof value === 'string' && /^[A-Za-z_$][\w$.-]{0,63}$/.test(value) ? value : undefined;

/**
 * The error as it may be stored: `{ name, code?, status?, message }`, where `message` is this
 * package's text for the error's `code` (or a generic one naming the status or the error's class)
 * and `name`/`code` are kept only when they are short identifiers. The error's own `message`, its
 * `cause` and any server body stay out, so a token quoted by a server or a parser never reaches
 * DevTools. The error object itself, with its cause, is still what your `catchError` receives.
 *
 * @example
 * ```ts
 * serializeError(new SyntaxError(`Unexpected token 'R', "RT0-SECRET" is not valid JSON`));
 * // { name: 'SyntaxError', message: 'Failed with SyntaxError (details are kept out of the store).' }
 * serializeError(Object.assign(new Error('invalid refresh token RT0-SECRET'), { status: 400 }));
 * // { name: 'Error', status: 400, message: 'Failed with HTTP 400 (details are kept out of the store).' }
 * ```
 */
export function serializeError(error: unknown): SerializedAuthError {
  const object = typeof error === 'object' && error !== null;
  const e = (object ? error : {}) as {
    name?: unknown;
    code?: unknown;
    cause?: unknown;
    message?: unknown;
  };
  const name = keep(e.name) ?? (object ? 'Error' : typeof error);
  const code = keep(e.code);
  const ours = error instanceof NamedError;
  const status = httpStatusOf(error) ?? (ours ? httpStatusOf(e.cause) : undefined);
  const detail = httpDetail(status);
  // REFRESH_FAILED's message may be built from foreign text (the refresh's failure, a field's value),
  // so it gets fixed words here. The other errors of this package have fixed messages of their own.
  const message = !ours
    ? `Failed with ${detail ?? name} (details are kept out of the store).`
    : code === 'REFRESH_FAILED'
      ? msg(
          'REFRESH_FAILED',
          () =>
            process.env.NODE_ENV !== 'production' &&
            (status === undefined
              ? 'The token refresh failed; the user must log in again.'
              : `The refresh token was rejected (HTTP ${status}); the user must log in again.`),
          detail,
        )
      : String(e.message);
  return { name, ...(code === undefined ? {} : { code }), ...(status === undefined ? {} : { status }), message };
}
