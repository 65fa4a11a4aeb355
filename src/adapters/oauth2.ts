import type { Tokens } from '../tokens';
import { optionChecker } from '../checkOption';
import { defaultFetchFn } from './defaultFetchFn';
import { OAuth2Error } from './OAuth2Error';

export { OAuth2Error } from './OAuth2Error';

/**
 * Where the token endpoint is and how this client authenticates to it.
 *
 * @example
 * ```ts
 * const options: OAuth2RefreshGrantOptions = {
 *   tokenEndpoint: 'https://auth.example.com/oauth/token',
 *   clientId: 'backoffice',
 *   clientSecret: process.env.CLIENT_SECRET,
 *   scope: ['profile', 'items'],
 * };
 * ```
 */
export interface OAuth2RefreshGrantOptions {
  /** The token endpoint's URL, e.g. `https://auth.example.com/oauth/token`. */
  tokenEndpoint: string | URL;
  /** The client's `client_id`. */
  clientId: string;
  /**
   * The secret of a confidential client. Omit it for a public client (a browser app): then
   * `client_id` goes in the body, as RFC 6749 §3.2.1 asks.
   * @default undefined (public client)
   */
  clientSecret?: string;
  /**
   * How a confidential client authenticates: HTTP Basic (RFC 6749 §2.3.1, which servers must
   * support) or `client_id` and `client_secret` in the body.
   * @default 'basic'
   */
  clientAuthentication?: 'basic' | 'body';
  /**
   * The scope to ask for; it may not exceed the one originally granted.
   * @default undefined (the originally granted scope)
   */
  scope?: string | readonly string[];
  /**
   * The `fetch` that calls the token endpoint.
   * @default (...args) => globalThis.fetch(...args)
   */
  fetchFn?: (input: string | URL, init?: RequestInit) => Promise<Response>;
  /**
   * The clock that dates the response's arrival; `expires_in` counts from it.
   * @default Date.now
   */
  now?: () => number;
}

/**
 * A `refresh` for `createTokenRefresh`: spends `refreshToken` at the token endpoint.
 *
 * @example
 * ```ts
 * const refresh: OAuth2RefreshFn = oauth2RefreshGrant({ tokenEndpoint, clientId: 'my-spa' });
 * const auth = createTokenRefresh({ refresh });
 * ```
 */
export type OAuth2RefreshFn = (refreshToken: string, context: { signal: AbortSignal }) => Promise<Tokens>;

const check = optionChecker('oauth2RefreshGrant');

/**
 * Makes the `refresh` function for `createTokenRefresh` from an OAuth 2.0 token endpoint, following
 * RFC 6749 §6: a form-encoded `grant_type=refresh_token` POST; `access_token`, `refresh_token`,
 * `expires_in` and `token_type` read from the answer.
 *
 * - `expiresAt` is `expires_in` counted from when the answer arrived on this machine's clock, so a
 *   wrong client clock does not matter.
 * - A response without `refresh_token` keeps the current one (the server does not rotate).
 * - An error answer rejects with `OAuth2Error { status, error }`: `invalid_grant` (400) is final
 *   and not retried; 5xx and network failures are transient, retried by `refreshRetries`.
 * - The request carries the refresh's abort `signal`, so a logout or a timeout cancels it.
 *
 * @example
 * ```ts
 * import { createTokenRefresh } from 'redux-observable-token-refresh';
 * import { oauth2RefreshGrant } from 'redux-observable-token-refresh/oauth2';
 *
 * const auth = createTokenRefresh({
 *   refresh: oauth2RefreshGrant({ tokenEndpoint: 'https://auth.example.com/oauth/token', clientId: 'my-spa' }),
 * });
 * ```
 */
export function oauth2RefreshGrant(options: OAuth2RefreshGrantOptions): OAuth2RefreshFn {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError("oauth2RefreshGrant: pass an options object, e.g. oauth2RefreshGrant({ tokenEndpoint, clientId }).");
  }
  const { tokenEndpoint, clientId, clientSecret, clientAuthentication = 'basic', scope, fetchFn = defaultFetchFn, now = Date.now } = options;
  check(tokenEndpoint instanceof URL || (typeof tokenEndpoint === 'string' && tokenEndpoint !== ''), 'tokenEndpoint', "the token endpoint's URL");
  check(typeof clientId === 'string' && clientId !== '', 'clientId', 'a non-empty string');
  check(clientSecret === undefined || (typeof clientSecret === 'string' && clientSecret !== ''), 'clientSecret', 'a non-empty string, or omitted for a public client');
  check(clientAuthentication === 'basic' || clientAuthentication === 'body', 'clientAuthentication', "'basic' or 'body'");
  check(scope === undefined || typeof scope === 'string' || (Array.isArray(scope) && scope.every((s) => typeof s === 'string')), 'scope', 'a string or an array of strings');
  check(typeof fetchFn === 'function', 'fetchFn', 'a function (url, init) => Promise<Response>');
  check(typeof now === 'function', 'now', 'a function returning epoch milliseconds');
  const scopeParam = Array.isArray(scope) ? scope.join(' ') : (scope as string | undefined);

  // Everything but the refresh token is fixed: build it once.
  const headers: Record<string, string> = { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' };
  const fixed: Array<[string, string]> = [['grant_type', 'refresh_token']];
  if (scopeParam) fixed.push(['scope', scopeParam]);
  if (clientSecret !== undefined && clientAuthentication === 'basic') {
    headers.Authorization = `Basic ${base64(`${formEncode(clientId)}:${formEncode(clientSecret)}`)}`;
  } else {
    fixed.push(['client_id', clientId]);
    if (clientSecret !== undefined) fixed.push(['client_secret', clientSecret]);
  }

  return async (refreshToken, { signal }) => {
    const body = new URLSearchParams(fixed);
    body.set('refresh_token', refreshToken);
    const response = await fetchFn(tokenEndpoint, { method: 'POST', headers, body, signal, cache: 'no-store', credentials: 'omit' });
    const arrivedAt = now();
    const answer = await response.json().catch(() => undefined);
    const fields = (typeof answer === 'object' && answer !== null ? answer : {}) as Record<string, unknown>;
    if (!response.ok) {
      throw new OAuth2Error(response.status, text(fields.error) ?? 'invalid_response', text(fields.error_description));
    }
    const accessToken = text(fields.access_token);
    if (!accessToken) throw new OAuth2Error(response.status, 'invalid_response', 'the answer has no access_token');
    const tokenType = text(fields.token_type);
    if (tokenType && tokenType.toLowerCase() !== 'bearer') {
      throw new OAuth2Error(response.status, 'invalid_response', `token_type '${tokenType}' is not Bearer, the only type this package sends`);
    }
    const tokens: Tokens = { accessToken };
    const refreshTokenNext = text(fields.refresh_token);
    if (refreshTokenNext) tokens.refreshToken = refreshTokenNext; // absent: the core keeps the old one
    const expiresIn = seconds(fields.expires_in);
    if (expiresIn !== undefined) {
      tokens.expiresAt = arrivedAt + expiresIn * 1000;
    }
    return tokens;
  };
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** RFC 6749 says a number of seconds; some servers send it as a string ("3600"). */
function seconds(value: unknown): number | undefined {
  const number = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  return Number.isFinite(number) && number >= 0 ? number : undefined;
}

/** RFC 6749 §2.3.1: client credentials are form-urlencoded before they go into Basic. */
function formEncode(value: string): string {
  return new URLSearchParams([['', value]]).toString().slice(1);
}

function base64(value: string): string {
  const bytes = new TextEncoder().encode(value);
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}
