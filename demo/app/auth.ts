/**
 * The one place the demo talks to the token refresh package: the `auth` instance, the refresh call,
 * and the two HTTP helpers every feature uses. A request's token comes from `auth.authorized` here;
 * the decision to refresh is the package's (src/session/machine.ts).
 *
 * Two session models (mode.ts): the refresh token in localStorage (`localStorageStorage`, shared by
 * the tabs), or in an HttpOnly cookie (`session: cookieSession()` from
 * `redux-observable-token-refresh/cookie`: the package never sees it, the browser sends it to
 * /auth/refresh, and `auth.restore()` gets a session back after a reload).
 *
 * DPoP mode (mode.ts, `?dpop=1`): `dpop = createDpop()` (its key in IndexedDB) is the clients'
 * transport. `dpop.fetch` signs every request of the login and the refresh (and answers the server's
 * nonce challenge); `dpop.resourceFetch(auth)` (here `dpop.resourceFetch(auth, send)` over each client's instrumented
 * fetch) is the `fetchFn` of `authFetch` and `authBaseQuery`, and turns their `Authorization: Bearer`
 * into `Authorization: DPoP` with a proof bound to the token; the epics call `dpop.authorized`. The
 * server binds the tokens to the key. `traceDpop` reports each proof and its answer for the activity
 * panel: the proof's claims and a fingerprint of `ath`, never a token.
 */
import { Subject, defer, type Observable } from 'rxjs';
import { fromFetch } from 'rxjs/fetch';
import { createTokenRefresh, isTransientError, localStorageStorage, type Tokens } from 'redux-observable-token-refresh';
import { cookieSession } from 'redux-observable-token-refresh/cookie';
import { createDpop, type Dpop } from 'redux-observable-token-refresh/dpop';
import { dpopMode, mode } from './mode';

/** localStorage key of the session (storage mode): a reload keeps you signed in, logout removes it. */
export const TOKEN_KEY = 'demo/tokens';
export const storage = localStorageStorage(TOKEN_KEY);

/** An HTTP answer that was not 2xx. `status` is what the package's `isUnauthorized` reads. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    message: string,
    /** The answer's headers: `dpop.authorized` learns the nonce from them and spots a nonce challenge. */
    readonly headers?: Headers,
  ) {
    super(message);
  }
}

async function toHttpError(response: Response): Promise<HttpError> {
  const body = (await response.json().catch(() => null)) as { error?: string; error_description?: string } | null;
  return new HttpError(response.status, body?.error, body?.error_description ?? `HTTP ${response.status}`, response.headers);
}

// ---------------------------------------------------------------------------------------------
// DPoP

/** What the activity panel shows of one proof and its answer. Never the token, nor the proof itself. */
export interface DpopExchange {
  /** The client that sent it (`epic`, `RTK Query`, `fetch`); null for the login and the refresh. */
  client: string | null;
  /** The proof's `jti`, first 8 characters. */
  jti: string;
  htm: string;
  /** The proof's `htu`, as a path. */
  htu: string;
  /** The nonce the proof carried, first 8 characters; null without one. */
  nonce: string | null;
  /** The last 6 characters of `ath` (the token's SHA-256): which token, without showing it. */
  ath: string | null;
  status: number;
  /** The DPoP or OAuth error of the answer: `use_dpop_nonce`, `invalid_token`, `invalid_dpop_proof`, … */
  error: string | null;
  /** The answer's `DPoP-Nonce`, first 8 characters, when it differs from the one the proof carried. */
  nextNonce: string | null;
}

/** The demo's instrumentation: each proof sent and its answer. */
export const dpopExchanges$ = new Subject<DpopExchange>();

const short = (value: unknown, length = 8): string | null => (typeof value === 'string' && value !== '' ? value.slice(0, length) : null);

function decodeSegment(segment: string | undefined): Record<string, unknown> | null {
  if (!segment) return null;
  try {
    return JSON.parse(atob(segment.replace(/-/g, '+').replace(/_/g, '/'))) as Record<string, unknown>;
  } catch {
    return null;
  }
}

/** Reports the proof in `headers` (if any) and what `response` said to it. */
export async function traceDpop(client: string | null, headers: HeadersInit | undefined, response: Response): Promise<void> {
  const claims = decodeSegment(new Headers(headers).get('DPoP')?.split('.')[1]);
  if (!claims) return;
  let error = /\bDPoP\b[^]*?\berror="?([\w-]+)/i.exec(response.headers.get('WWW-Authenticate') ?? '')?.[1] ?? null;
  if (!error && response.status >= 400) {
    const body = (await response
      .clone()
      .json()
      .catch(() => null)) as { error?: unknown } | null;
    error = typeof body?.error === 'string' ? body.error : null;
  }
  const nonce = typeof claims.nonce === 'string' ? claims.nonce : null;
  const next = response.headers.get('DPoP-Nonce');
  let htu = String(claims.htu);
  try {
    htu = new URL(htu).pathname;
  } catch {
    // shown as it is
  }
  dpopExchanges$.next({
    client,
    jti: short(claims.jti) ?? '?',
    htm: String(claims.htm),
    htu,
    nonce: short(nonce),
    ath: typeof claims.ath === 'string' ? claims.ath.slice(-6) : null,
    status: response.status,
    error,
    nextNonce: next && next !== nonce ? short(next) : null,
  });
}

/** A 401 that is the API's nonce challenge (`WWW-Authenticate: DPoP error="use_dpop_nonce"`): no verdict on the token. */
export const isNonceChallenge = (status: number, headers: Headers | undefined): boolean =>
  dpop !== undefined && headers !== undefined && dpop.isNonceChallenge(status, headers);

/**
 * The `fetch` under `dpop.fetch` (the login and the refresh): the browser's, and a report of each
 * proof. (`dpop.resourceFetch` would send through it too; the demo's API clients use
 * `dpop.resourceFetch(auth, send)` over their own instrumented fetch instead, so each proof is told once.)
 */
async function tracedFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  const response = await fetch(input, init);
  await traceDpop(null, init?.headers, response);
  return response;
}

/**
 * DPoP mode's one `dpop`: the key pair in IndexedDB (shared by the tabs, deleted at logout by
 * `dpop.epic(auth)` in store.ts). Undefined in Bearer mode.
 */
export const dpop: Dpop | undefined = dpopMode ? createDpop({ fetchFn: tracedFetch }) : undefined;

/** The login's and the refresh's `fetch`: `dpop.fetch` in DPoP mode (a proof, the nonce challenge answered). */
const tokenRouteFetch = (input: RequestInfo | URL, init?: RequestInit): Promise<Response> =>
  dpop ? dpop.fetch(input, init) : fetch(input, init);

type FetchFn = (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>;

/**
 * The `fetchFn` of an API client (`authFetch`, `authBaseQuery`) over `send`: `dpop.resourceFetch(auth, send)`
 * in DPoP mode (what `dpop.resourceFetch` is over the browser's fetch), so each request that carries
 * the token goes as `Authorization: DPoP` with a proof bound to it, and `send` sees that proof in its
 * headers and the one retry of a nonce challenge as a second call; `send` itself in Bearer mode.
 */
export const resourceFetchOver = (send: FetchFn): FetchFn => (dpop ? dpop.resourceFetch(auth, send) : send);

/** base64url(SHA-256(token)), the proof's `ath`: its last characters name a token without showing it. */
export async function tokenFingerprint(token: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(token)));
  const base64 = btoa(String.fromCharCode(...digest));
  return base64.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '').slice(-6);
}

// ---------------------------------------------------------------------------------------------

/** POST JSON; the login and the refresh go through `dpop.fetch` in DPoP mode (a proof, the nonce challenge answered). */
async function postJson<T>(
  path: string,
  body: unknown,
  signal?: AbortSignal,
  send: (input: RequestInfo | URL, init?: RequestInit) => Promise<Response> = fetch,
): Promise<T> {
  const response = await send(path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body ?? {}),
    signal,
  });
  if (!response.ok) throw await toHttpError(response);
  return (response.status === 204 ? undefined : await response.json()) as T;
}

/** In cookie mode the server sets the refresh token as a cookie and leaves it out of the body. */
interface TokenResponse {
  accessToken: string;
  refreshToken?: string;
  expiresIn: number;
}

const toTokens = ({ accessToken, refreshToken }: TokenResponse): Tokens =>
  mode === 'cookie' ? { accessToken } : { accessToken, refreshToken };

/**
 * The package's timing options, spelled out because the activity panel explains them: a request
 * this long before a known expiry refreshes first (but never before half the token's life), and a
 * transient refresh failure is retried after a backoff that doubles.
 */
export const EXPIRY_SKEW_MS = 30_000;
export const REFRESH_RETRIES = 2;
export const REFRESH_BACKOFF_MS = 500;

/** One refresh call as the activity panel shows it: each attempt, its answer, its backoff. */
export type RefreshAttemptEvent =
  | { type: 'sent'; at: number }
  | { type: 'answered'; at: number; gen: number | null }
  | { type: 'failed'; at: number; status: number | null; message: string; transient: boolean };

/** The demo's instrumentation: `refresh` below reports each call here; an app does not need it. */
export const refreshAttempts$ = new Subject<RefreshAttemptEvent>();

/** POST /auth/refresh: the refresh token in the body (storage mode), or none and the cookie goes (cookie mode). */
async function refreshCall(refreshToken: string | undefined, signal: AbortSignal): Promise<Tokens> {
  refreshAttempts$.next({ type: 'sent', at: Date.now() });
  try {
    const tokens = toTokens(
      await postJson<TokenResponse>('/auth/refresh', refreshToken === undefined ? {} : { refreshToken }, signal, tokenRouteFetch),
    );
    refreshAttempts$.next({ type: 'answered', at: Date.now(), gen: tokenInfo(tokens.accessToken)?.gen ?? null });
    return tokens;
  } catch (error) {
    if (!signal.aborted) {
      const { status, code, message } = error as Partial<HttpError>;
      refreshAttempts$.next({
        type: 'failed',
        at: Date.now(),
        status: status ?? null,
        message: code ?? message ?? String(error),
        transient: isTransientError(error),
      });
    }
    throw error;
  }
}

const timing = { expirySkewMs: EXPIRY_SKEW_MS, refreshRetries: REFRESH_RETRIES, refreshBackoffMs: REFRESH_BACKOFF_MS };

// The refresh token rotates: the server answers with a new one (body or cookie) and the old one is
// spent. In cookie mode the package never has a refresh token: `refresh` gets `undefined` and the
// browser sends the cookie; tabs share the session through Web Locks and a BroadcastChannel.
export const auth =
  mode === 'cookie'
    ? createTokenRefresh({ session: cookieSession(), refresh: (_none, { signal }) => refreshCall(undefined, signal), ...timing })
    : createTokenRefresh({ refresh: (refreshToken, { signal }) => refreshCall(refreshToken, signal), storage, ...timing });

/**
 * Ask for a session once at page load: in cookie mode one refresh with the cookie (requests made
 * meanwhile wait, the status is `restoring`); `false` when there is none (no cookie, or a revoked
 * one), and the login page shows, quietly.
 */
export const restoreSession = (): Promise<boolean> => auth.restore();

/**
 * When the package will refresh this token before sending a request (its known-expiry rule):
 * `EXPIRY_SKEW_MS` before it expires, but not before half its lifetime has passed. `expiresAt` is
 * the store's (`auth.selectState(state).expiresAt`: the JWT's exp on the local clock); the lifetime
 * is the JWT's `exp - iat`.
 */
export function refreshWindowOpensAt(token: TokenInfo | null, expiresAt: number | null): number | null {
  const expiry = expiresAt ?? token?.exp ?? null;
  if (!token || expiry === null) return null;
  const lifetime = token.exp !== null && token.iat !== null ? token.exp - token.iat : 0;
  return Math.max(expiry - EXPIRY_SKEW_MS, expiry - lifetime / 2);
}

/** GET a protected API route with `token`; a non-2xx answer errors with `HttpError` (401 included). */
export function getJson<T>(path: string, token: string): Observable<T> {
  return getJsonWith<T>(path, { Authorization: `Bearer ${token}` });
}

/**
 * GET a protected API route with these headers (`Authorization` and, in DPoP mode, the `DPoP`
 * proof that `dpop.authorized` made); `client` names who sent it in the DPoP trace.
 */
export function getJsonWith<T>(path: string, headers: Record<string, string>, client = 'epic'): Observable<T> {
  return fromFetch(path, {
    headers,
    selector: async (response) => {
      if (headers.DPoP) await traceDpop(client, headers, response);
      if (!response.ok) throw await toHttpError(response);
      return (await response.json()) as T;
    },
  });
}

/**
 * Sign in with a password: POST /auth/login, asking for the refresh token in a cookie in cookie mode
 * (`refreshTokenIn` here is a field of the demo server's login body, not an option of the package).
 */
export const login = (username: string, password: string): Promise<Tokens> =>
  postJson<TokenResponse>(
    '/auth/login',
    mode === 'cookie' ? { username, password, refreshTokenIn: 'cookie' } : { username, password },
    undefined,
    tokenRouteFetch,
  ).then(toTokens);

/**
 * Tell the server to revoke the session: of `refreshToken` (storage mode), or of the refresh cookie,
 * which the server also clears (cookie mode). Best effort: the tokens are already gone here.
 */
export const revokeSession = (refreshToken: string | undefined): Observable<void> =>
  defer(() => postJson<void>('/auth/logout', refreshToken === undefined ? {} : { refreshToken }));

/** The demo server's fault controls (`/control/*`). Lazy: the POST is sent on subscription, so `concat` orders them. */
export const control = (
  path: 'expire' | 'revoke' | 'slow-refresh' | 'fail-refresh' | 'reset' | 'reset-stats' | 'rotate-nonce',
  body?: unknown,
): Observable<void> => defer(() => postJson<void>(`/control/${path}`, body));

/** What the demo shows of a token: its subject, its generation, issue and expiry (ms). Never the token itself. */
export interface TokenInfo {
  sub: string;
  gen: number | null;
  iat: number | null;
  exp: number | null;
}

export function tokenInfo(token: string | undefined): TokenInfo | null {
  const part = token?.split('.')[1];
  if (!part) return null;
  try {
    const claims = JSON.parse(atob(part.replace(/-/g, '+').replace(/_/g, '/'))) as {
      sub?: string;
      gen?: number;
      iat?: number;
      exp?: number;
    };
    const ms = (seconds: unknown) => (typeof seconds === 'number' ? seconds * 1000 : null);
    return { sub: claims.sub ?? '?', gen: claims.gen ?? null, iat: ms(claims.iat), exp: ms(claims.exp) };
  } catch {
    return null;
  }
}
