/**
 * The one place the demo talks to the token refresh package: the `auth` instance, the refresh call,
 * and the two HTTP helpers every feature uses. A request's token comes from `auth.authorized` here;
 * the decision to refresh is the package's (src/session/machine.ts).
 *
 * Two session models (mode.ts): the refresh token in localStorage (`localStorageStorage`, shared by
 * the tabs), or in an HttpOnly cookie (`session: cookieSession()` from
 * `redux-observable-token-refresh/cookie`: the package never sees it, the browser sends it to
 * /auth/refresh, and `auth.restore()` gets a session back after a reload).
 */
import { Subject, defer, type Observable } from 'rxjs';
import { fromFetch } from 'rxjs/fetch';
import { createTokenRefresh, isTransientError, localStorageStorage, type Tokens } from 'redux-observable-token-refresh';
import { cookieSession } from 'redux-observable-token-refresh/cookie';
import { mode } from './mode';

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
  ) {
    super(message);
  }
}

async function toHttpError(response: Response): Promise<HttpError> {
  const body = (await response.json().catch(() => null)) as { error?: string; error_description?: string } | null;
  return new HttpError(response.status, body?.error, body?.error_description ?? `HTTP ${response.status}`);
}

async function postJson<T>(path: string, body: unknown, signal?: AbortSignal): Promise<T> {
  const response = await fetch(path, {
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
    const tokens = toTokens(await postJson<TokenResponse>('/auth/refresh', refreshToken === undefined ? {} : { refreshToken }, signal));
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
  return fromFetch(path, {
    headers: { Authorization: `Bearer ${token}` },
    selector: async (response) => {
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
  ).then(toTokens);

/**
 * Tell the server to revoke the session: of `refreshToken` (storage mode), or of the refresh cookie,
 * which the server also clears (cookie mode). Best effort: the tokens are already gone here.
 */
export const revokeSession = (refreshToken: string | undefined): Observable<void> =>
  defer(() => postJson<void>('/auth/logout', refreshToken === undefined ? {} : { refreshToken }));

/** The demo server's fault controls (`/control/*`). Lazy: the POST is sent on subscription, so `concat` orders them. */
export const control = (
  path: 'expire' | 'revoke' | 'slow-refresh' | 'fail-refresh' | 'reset' | 'reset-stats',
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
