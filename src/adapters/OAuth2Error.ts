/**
 * The token endpoint refused the refresh grant (RFC 6749 §5.2), or answered with something that is
 * not a token response. `status` is what the default `isTransientError` reads: 5xx, 408 and 429 are
 * retried, everything else (`invalid_grant` above all: the refresh token is spent, expired or
 * revoked) is final and ends the session with a `TokenRefreshError` whose `cause` is this error.
 *
 * @example
 * ```ts
 * import { OAuth2Error } from 'redux-observable-token-refresh/oauth2';
 *
 * try {
 *   await auth.refresh();
 * } catch (error) {
 *   // TokenRefreshError; its cause says what the token endpoint answered
 *   if (error.cause instanceof OAuth2Error && error.cause.error === 'invalid_grant') showLogin('Your session has ended.');
 * }
 * ```
 */
export class OAuth2Error extends Error {
  override readonly name = 'OAuth2Error';
  constructor(
    /** The HTTP status of the answer. */
    readonly status: number,
    /** RFC 6749's error code: `invalid_grant`, `invalid_client`, … or `invalid_response` for a malformed answer. */
    readonly error: string,
    /**
     * The server's `error_description`, if any: the server's own words, kept out of `message`
     * (which loggers print) and out of the store. Read it here when you need it. Anything the
     * call sent that the server quotes (the refresh token, the client secret) reads `[redacted]`.
     */
    readonly errorDescription?: string,
  ) {
    super(`The token endpoint answered ${status} ${error}.`);
  }
}
