import { jwtDecode } from 'jwt-decode';

/** What a login or a refresh gives you. */
export interface Tokens {
  accessToken: string;
  /** Omitted by a refresh response that does not rotate it: the old one is kept. */
  refreshToken?: string;
  /** Epoch milliseconds after which the access token is expired, if known. */
  expiresAt?: number;
}

/**
 * The tokens as the coordinator holds them, with the two instants derived once per token so that
 * the per-request path only compares numbers.
 */
export interface Session {
  readonly accessToken: string;
  readonly refreshToken: string | undefined;
  readonly expiresAt: number | undefined;
  /** From this instant a request refreshes first instead of sending the token. */
  readonly refreshAt: number;
}

/**
 * When the token expires on the local clock. An explicit `expiresAt` wins; else the JWT's
 * `exp`, shifted by how far the issuer's clock (`iat`) is from ours at receipt, so that a client
 * whose clock is off by minutes neither refreshes constantly nor sends expired tokens.
 */
export function expiryOf(tokens: Tokens, now: number): number | undefined {
  if (tokens.expiresAt !== undefined) return tokens.expiresAt;
  let claims: { exp?: unknown; iat?: unknown };
  try {
    claims = jwtDecode(tokens.accessToken);
  } catch {
    return undefined; // an opaque token: only the server's 401 tells
  }
  if (typeof claims.exp !== 'number') return undefined;
  return typeof claims.iat === 'number' ? now + (claims.exp - claims.iat) * 1000 : claims.exp * 1000;
}

/**
 * @param fresh the tokens come from the server just now (a login or a refresh), rather than from
 *   storage (a reload, another tab), whose tokens may have aged or expired meanwhile.
 */
export function toSession(
  tokens: Tokens,
  previous: Session | null | undefined,
  now: number,
  skewMs: number,
  fresh = true,
): Session {
  if (typeof tokens?.accessToken !== 'string' || tokens.accessToken === '') {
    throw new TypeError(
      'Tokens must be { accessToken: string, refreshToken?: string, expiresAt?: number }: accessToken is missing. Check what your login or refresh function returns.',
    );
  }
  const expiresAt = expiryOf(tokens, now);
  // Refresh `skewMs` early, but never before half the lifetime of a fresh token has passed: a 15 s
  // token with a 30 s skew would otherwise be "about to expire" the moment it arrives and refresh
  // forever. A fresh token that arrives already expired (a wrong clock) is sent anyway and the
  // server's answer decides; a stored one that has expired is refreshed before it is sent.
  const refreshAt =
    expiresAt === undefined
      ? Infinity
      : !fresh
        ? expiresAt - skewMs
        : expiresAt <= now
          ? Infinity
          : Math.max(expiresAt - skewMs, now + (expiresAt - now) / 2);
  return {
    accessToken: tokens.accessToken,
    // A refresh response without a refresh token keeps the old one (RFC 6749 §6).
    refreshToken: tokens.refreshToken ?? previous?.refreshToken,
    expiresAt,
    refreshAt,
  };
}
