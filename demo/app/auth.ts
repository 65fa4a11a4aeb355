/**
 * The one place the demo talks to the token refresh package: the `auth` instance, the refresh call,
 * and the two HTTP helpers every feature uses. A request's token comes from `auth.authorized` here;
 * the decision to refresh is the package's (src/coordinator.ts).
 */
import { from, type Observable } from 'rxjs';
import { fromFetch } from 'rxjs/fetch';
import { createTokenRefresh, localStorageStorage, type Tokens } from 'redux-observable-token-refresh';

/** localStorage key of the session: a reload keeps you signed in, logout removes it. */
export const TOKEN_KEY = 'demo/tokens';
export const storage = localStorageStorage(TOKEN_KEY);

/** An HTTP answer that was not 2xx. `status` is what the package's `isUnauthorized` reads. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(readonly status: number, readonly code: string | undefined, message: string) {
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

interface TokenResponse { accessToken: string; refreshToken: string; expiresIn: number }

const toTokens = ({ accessToken, refreshToken }: TokenResponse): Tokens => ({ accessToken, refreshToken });

export const auth = createTokenRefresh({
  // The refresh token rotates: the server answers with a new one and the old one is spent.
  refresh: (refreshToken, { signal }) => postJson<TokenResponse>('/auth/refresh', { refreshToken }, signal).then(toTokens),
  storage,
});

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

/** Sign in with a password: POST /auth/login. */
export const login = (username: string, password: string): Promise<Tokens> =>
  postJson<TokenResponse>('/auth/login', { username, password }).then(toTokens);

/** Tell the server to revoke the session of `refreshToken`. Best effort: the tokens are already gone here. */
export const revokeSession = (refreshToken: string): Observable<void> => from(postJson<void>('/auth/logout', { refreshToken }));

/** The demo server's fault controls (`/control/*`). */
export const control = (path: 'expire' | 'revoke' | 'slow-refresh' | 'fail-refresh' | 'reset', body?: unknown): Observable<void> =>
  from(postJson<void>(`/control/${path}`, body));

/** What the demo shows of a token: its subject, its generation and its expiry. Never the token itself. */
export interface TokenInfo { sub: string; gen: number | null; exp: number | null }

export function tokenInfo(token: string | undefined): TokenInfo | null {
  const part = token?.split('.')[1];
  if (!part) return null;
  try {
    const claims = JSON.parse(atob(part.replace(/-/g, '+').replace(/_/g, '/'))) as { sub?: string; gen?: number; exp?: number };
    return { sub: claims.sub ?? '?', gen: claims.gen ?? null, exp: typeof claims.exp === 'number' ? claims.exp * 1000 : null };
  } catch {
    return null;
  }
}
