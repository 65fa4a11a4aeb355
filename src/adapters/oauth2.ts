import { typeError } from '../message';
import type { Tokens } from '../tokens';
import { optionChecker } from '../checkOption';
import { redactSecrets } from '../redact';
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
  /**
   * The token endpoint's URL, e.g. `https://auth.example.com/oauth/token`. It must be `https`,
   * except on loopback (`http://localhost`, `127.0.0.1`, `[::1]`) for development: the refresh
   * token must not cross a network in clear text. A relative URL is resolved once, at creation,
   * against the page's own URL, so a `<base href>` injected later cannot move it.
   */
  tokenEndpoint: string | URL;
  /** The client's `client_id`. */
  clientId: string;
  /**
   * The secret of a confidential client. Omit it for a public client (a browser app): then
   * `client_id` goes in the body, as RFC 6749 §3.2.1 asks. A secret shipped to a browser is not
   * secret; in development a warning says so.
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
   * The scope to ask for; it may not exceed the one originally granted. When an answer grants
   * less (its `scope`), the next refresh with that answer's refresh token asks for what was
   * granted, not more, which the server would refuse with `invalid_scope`.
   * @default undefined (the originally granted scope)
   */
  scope?: string | readonly string[];
  /**
   * The `fetch` that calls the token endpoint. For DPoP, `dpop.fetch` (`createDpop()` from
   * `redux-observable-token-refresh/dpop`): each refresh carries a proof and must come back bound to the key.
   * @default (...args) => globalThis.fetch(...args)
   */
  fetchFn?: (input: string | URL, init?: RequestInit) => Promise<Response>;
  /**
   * The clock that dates the response's arrival; `expires_in` counts from it.
   * @default Date.now
   */
  now?: () => number;
  /**
   * Whether cookies go with the call: `'include'` for a token endpoint that keeps the refresh token
   * in an HttpOnly cookie (with `session: cookieSession()`, the form then carries no refresh token).
   * @default 'omit'
   */
  credentials?: RequestCredentials;
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
export type OAuth2RefreshFn = (refreshToken: string | undefined, context: { signal: AbortSignal }) => Promise<Tokens>;

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
 *   and not retried; 5xx and network failures are transient, retried by `refreshRetries`. The
 *   server's `error_description` is kept in `errorDescription`, never in the message. Whatever
 *   server text is kept has what the call sent (refresh token, client secret) replaced by `[redacted]`.
 * - An answer that is not JSON (a captive portal's page, a proxy's error page) rejects with a
 *   `SyntaxError` written by this package: transient, the session is kept.
 * - A redirect is not followed (`redirect: 'manual'`): following a 307/308 would post the refresh
 *   token and the client secret to wherever it points. It rejects with
 *   `OAuth2Error { error: 'invalid_response' }`.
 * - The request carries the refresh's abort `signal`, so a logout or a timeout cancels it.
 * - A `fetchFn` that fails with an axios error (one built on axios) has its request's secrets
 *   removed (`redactSecrets`) before the error becomes a cause.
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
    throw typeError(
      'INVALID_ARGUMENT',
      () =>
        process.env.NODE_ENV !== 'production' &&
        'oauth2RefreshGrant: pass an options object, e.g. oauth2RefreshGrant({ tokenEndpoint, clientId }).',
      'oauth2RefreshGrant',
    );
  }
  const {
    tokenEndpoint,
    clientId,
    clientSecret,
    clientAuthentication = 'basic',
    scope,
    fetchFn = defaultFetchFn,
    now = Date.now,
    credentials = 'omit',
  } = options;
  check(
    tokenEndpoint instanceof URL || (typeof tokenEndpoint === 'string' && tokenEndpoint !== ''),
    'tokenEndpoint',
    () => process.env.NODE_ENV !== 'production' && "the token endpoint's URL",
  );
  check(typeof clientId === 'string' && clientId !== '', 'clientId', () => process.env.NODE_ENV !== 'production' && 'a non-empty string');
  check(
    clientSecret === undefined || (typeof clientSecret === 'string' && clientSecret !== ''),
    'clientSecret',
    () => process.env.NODE_ENV !== 'production' && 'a non-empty string, or omitted for a public client',
  );
  check(
    clientAuthentication === 'basic' || clientAuthentication === 'body',
    'clientAuthentication',
    () => process.env.NODE_ENV !== 'production' && "'basic' or 'body'",
  );
  check(
    scope === undefined || typeof scope === 'string' || (Array.isArray(scope) && scope.every((s) => typeof s === 'string')),
    'scope',
    () => process.env.NODE_ENV !== 'production' && 'a string or an array of strings',
  );
  check(
    typeof fetchFn === 'function',
    'fetchFn',
    () => process.env.NODE_ENV !== 'production' && 'a function (url, init) => Promise<Response>',
  );
  check(typeof now === 'function', 'now', () => process.env.NODE_ENV !== 'production' && 'a function returning epoch milliseconds');
  const endpoint = resolveEndpoint(tokenEndpoint);
  check(
    endpoint === undefined || isSafeEndpoint(endpoint),
    'tokenEndpoint',
    () => process.env.NODE_ENV !== 'production' && 'an https URL (plain http only on loopback: localhost, 127.0.0.1, [::1])',
  );
  const scopeParam = Array.isArray(scope) ? scope.join(' ') : (scope as string | undefined);
  try {
    if (
      process.env.NODE_ENV !== 'production' &&
      clientSecret !== undefined &&
      typeof window !== 'undefined' &&
      typeof document !== 'undefined'
    ) {
      console.warn(
        'oauth2RefreshGrant: a clientSecret in code that runs in a browser is readable by anyone who loads the page. Register the app as a public client (no secret, PKCE at login), or refresh through your backend.',
      );
    }
  } catch {
    // no `process` (an ES module loaded without a bundler): no development warnings
  }
  // The scope granted by the latest answer, for the refresh token that answer came with.
  let granted: { refreshToken: string | undefined; scope: readonly string[] } | undefined;

  // Everything but the refresh token is fixed: build it once.
  const headers: Record<string, string> = { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' };
  const fixed: Array<[string, string]> = [['grant_type', 'refresh_token']];
  const sentSecrets = [clientSecret];
  if (clientSecret !== undefined && clientAuthentication === 'basic') {
    sentSecrets.push(base64(`${formEncode(clientId)}:${formEncode(clientSecret)}`));
    headers.Authorization = `Basic ${sentSecrets[1]}`;
  } else {
    fixed.push(['client_id', clientId]);
    if (clientSecret !== undefined) fixed.push(['client_secret', clientSecret]);
  }

  return async (refreshToken, { signal }) => {
    // Whatever the server says is kept only without what this call sent: servers echo it ("refresh
    // token RT… not found"), and an error's text ends up in logs and error trackers.
    const scrub = (value: unknown) => (typeof value === 'string' ? redact(value, [...sentSecrets, refreshToken]) : undefined);
    const body = new URLSearchParams(fixed);
    const asked =
      scopeParam && granted?.refreshToken === refreshToken
        ? scopeParam
            .split(' ')
            .filter((s) => granted!.scope.includes(s))
            .join(' ')
        : scopeParam;
    if (asked) body.set('scope', asked);
    if (refreshToken !== undefined) body.set('refresh_token', refreshToken); // cookie mode: the cookie carries it
    let response: Response;
    try {
      response = await fetchFn(endpoint ?? tokenEndpoint, {
        method: 'POST',
        headers,
        body,
        signal,
        cache: 'no-store',
        credentials,
        redirect: 'manual',
      });
    } catch (failure) {
      // A fetchFn built on axios fails with an AxiosError that holds the form and the Basic header.
      throw redactSecrets(failure);
    }
    const arrivedAt = now();
    if (response.type === 'opaqueredirect' || (response.status >= 300 && response.status < 400)) {
      await response.body?.cancel().catch(() => {});
      throw new OAuth2Error(response.status, 'invalid_response', 'the token endpoint answered with a redirect, which is not followed');
    }
    const raw = await response.text();
    let answer: unknown;
    try {
      answer = JSON.parse(raw);
    } catch {
      // Not JSON: a captive portal, a proxy's error page. The parser's message would quote the
      // body; this one does not. Without a status of its own it counts as transient.
      if (response.ok)
        throw new SyntaxError(
          `The token endpoint answered ${response.status} with a body that is not JSON (${scrub(response.headers.get('content-type')) ?? 'no content-type'}).`,
        );
    }
    const fields = (typeof answer === 'object' && answer !== null ? answer : {}) as Record<string, unknown>;
    if (!response.ok) {
      throw new OAuth2Error(response.status, errorCode(scrub(fields.error)) ?? 'invalid_response', text(scrub(fields.error_description)));
    }
    const accessToken = text(fields.access_token);
    if (!accessToken) throw new OAuth2Error(response.status, 'invalid_response', 'the answer has no access_token');
    const tokenType = text(fields.token_type);
    // DPoP: `fetchFn: dpop.fetch` refuses an answer that is not DPoP-bound before it gets here.
    if (tokenType && !/^(?:bearer|dpop)$/i.test(tokenType)) {
      throw new OAuth2Error(response.status, 'invalid_response', `token_type '${scrub(tokenType)}' is neither Bearer nor DPoP`);
    }
    const tokens: Tokens = { accessToken };
    const refreshTokenNext = text(fields.refresh_token);
    if (refreshTokenNext) tokens.refreshToken = refreshTokenNext; // absent: the core keeps the old one
    const grantedScope = text(fields.scope);
    granted = grantedScope ? { refreshToken: refreshTokenNext ?? refreshToken, scope: grantedScope.split(' ') } : undefined;
    const expiresIn = seconds(fields.expires_in);
    if (expiresIn !== undefined) {
      tokens.expiresAt = arrivedAt + expiresIn * 1000;
    }
    return tokens;
  };
}

/** Secrets shorter than this are matched whole; longer ones also by any run of this many of their characters. */
const FRAGMENT = 8;

/**
 * `text` with every secret replaced by `[redacted]`: whole or in part (a server may cut a token
 * short), as sent or URL-, form- or JSON-encoded (a server may echo the body it got), in any case
 * (`%2f` for `%2F`). Fragments are matched as sets of FRAGMENT-character windows: linear time.
 */
function redact(text: string, secrets: ReadonlyArray<string | undefined>): string {
  const lower = (value: string) => value.replace(/[A-Z]+/g, (run) => run.toLowerCase()); // keeps the length
  const haystack = lower(text);
  const hidden = new Uint8Array(text.length);
  for (const secret of secrets) {
    if (!secret) continue;
    const json = JSON.stringify(secret).slice(1, -1);
    for (const form of new Set([secret, encodeURIComponent(secret), formEncode(secret), json, json.replace(/\//g, '\\/')])) {
      const needle = lower(form);
      const size = Math.min(FRAGMENT, needle.length);
      const windows = new Set<string>();
      for (let i = 0; i + size <= needle.length; i++) windows.add(needle.slice(i, i + size));
      for (let i = 0; i + size <= haystack.length; i++) if (windows.has(haystack.slice(i, i + size))) hidden.fill(1, i, i + size);
    }
  }
  let out = '';
  for (let i = 0; i < text.length; i++) out += !hidden[i] ? text[i] : hidden[i - 1] ? '' : '[redacted]';
  return out;
}

/** RFC 6749 §5.2: an error code is a short word of printable ASCII; anything else is not one. */
function errorCode(value: unknown): string | undefined {
  return typeof value === 'string' && /^[\x20-\x21\x23-\x5B\x5D-\x7E]{1,64}$/.test(value) ? value : undefined;
}

/** The endpoint as an absolute URL, resolved once against the page (not `document.baseURI`), or undefined where there is no page. */
function resolveEndpoint(tokenEndpoint: string | URL): URL | undefined {
  try {
    return new URL(String(tokenEndpoint));
  } catch {
    const href = (globalThis as { location?: { href?: unknown } }).location?.href;
    return typeof href === 'string' ? new URL(String(tokenEndpoint), href) : undefined;
  }
}

function isSafeEndpoint(url: URL): boolean {
  if (url.protocol === 'https:') return true;
  if (url.protocol !== 'http:') return false;
  const host = url.hostname;
  return host === 'localhost' || host.endsWith('.localhost') || host === '[::1]' || /^127(\.\d{1,3}){3}$/.test(host);
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
