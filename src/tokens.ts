import { jwtClaims } from './jwt';
import { typeError } from './message';

/** What a login or a refresh gives you. */
export interface Tokens {
  accessToken: string;
  /** Omitted by a refresh response that does not rotate it: the old one is kept. Never in cookie mode. */
  refreshToken?: string;
  /**
   * When the access token expires, if known: epoch milliseconds, a `Date`, or an ISO 8601 string (what
   * `response.json()` gives from many servers); it is converted to epoch milliseconds on arrival.
   */
  expiresAt?: number | Date | string;
}

/**
 * One login: refreshes of it keep it, a logout or another user's login ends it. A request belongs
 * to the identity it first got a token from, so it can never be replayed in somebody else's session.
 */
export interface Identity {
  /**
   * Written to storage with the tokens, so that the tabs of one login know it is one login. A tab
   * takes another tab's id when both hold the same login under two ids (a restore from the cookie).
   */
  id: string;
  /** How many times this login's tokens were stored: a tab adopts only newer ones. */
  version: number;
  /** Why it ended, once it has: what its requests still in flight fail with. */
  ended?: unknown;
}

/** Tokens as they are stored: with the login they belong to. */
export interface StoredTokens extends Tokens {
  sessionId?: string;
  version?: number;
  /** Restored from the cookie the tabs share: the login the other tabs already have, not a new one. */
  restored?: boolean;
}

/** A new login's identity, or the one a stored session carries. */
export const newIdentity = ({ sessionId, version }: StoredTokens = { accessToken: '' }): Identity => ({
  id: typeof sessionId === 'string' ? sessionId : Math.random().toString(36).slice(2),
  version: typeof version === 'number' ? version : 0,
});

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
  readonly identity: Identity;
}

/** The one message of a bad token shape: which field, and what to do. */
const invalid = (field: string, value: unknown) =>
  typeError(
    'INVALID_TOKENS',
    () =>
      process.env.NODE_ENV !== 'production' &&
      `Tokens must be { accessToken: string, refreshToken?: string, expiresAt?: epoch ms | Date | ISO 8601 string }, but ${field} is ${value === undefined ? 'missing' : typeof value === 'number' ? value : typeof value}: fix what your login or refresh function returns.`,
    field,
  );

/**
 * Turns the `expiresAt` a server or an app handed us into epoch milliseconds, or says what is wrong.
 * Only what cannot be misread is converted: a bare number in a string could be seconds or
 * milliseconds. (A number in seconds reads as a date in 1970: the token counts as arrived expired,
 * is sent, and the server's 401 decides; it never loops.)
 */
function toEpochMs(value: unknown): number | undefined {
  if (value == null) return undefined;
  const ms =
    value instanceof Date ? value.getTime() : typeof value === 'string' && /^\d{4}-\d\d-\d\d/.test(value) ? Date.parse(value) : value;
  if (typeof ms === 'number' && Number.isFinite(ms)) return ms;
  throw invalid('expiresAt', value);
}

/**
 * When the token expires on the local clock. An explicit `expiresAt` wins; else the JWT's
 * `exp`, shifted by how far the issuer's clock (`iat`) is from ours at receipt, so that a client
 * whose clock is off by minutes neither refreshes constantly nor sends expired tokens.
 */
export function expiryOf(tokens: Tokens, now: number): number | undefined {
  const explicit = toEpochMs(tokens.expiresAt);
  if (explicit !== undefined) return explicit;
  const { exp, iat } = jwtClaims(tokens.accessToken) ?? {}; // an opaque token: only the server's 401 tells
  if (typeof exp !== 'number' || !Number.isFinite(exp)) return undefined;
  return typeof iat === 'number' && Number.isFinite(iat) ? now + (exp - iat) * 1000 : exp * 1000;
}

/** The JWT `sub` of a token, if it has one: how a second login tells it is the same user. */
export function subjectOf(accessToken: string): unknown {
  return jwtClaims(accessToken)?.sub;
}

/**
 * Checks tokens at the border (a login, a refresh answer, storage, another tab) and derives when to
 * refresh. Throws a `TypeError` naming the field and the fix.
 *
 * @param fresh the tokens come from the server just now (a login or a refresh), rather than from
 *   storage, whose tokens may have expired while the app was closed.
 * @param cookie the refresh token lives in an HttpOnly cookie: none is kept here.
 */
export function toSession(
  tokens: Tokens,
  previous: Session | null | undefined,
  now: number,
  skewMs: number,
  identity: Identity,
  fresh = true,
  cookie = false,
): Session {
  const { accessToken, refreshToken } = (tokens ?? {}) as Partial<Tokens>;
  if (typeof accessToken !== 'string' || accessToken === '') throw invalid('accessToken', accessToken);
  if (refreshToken != null && typeof refreshToken !== 'string') throw invalid('refreshToken', refreshToken);
  const expiresAt = expiryOf(tokens, now);
  // Refresh `skewMs` early, but never before half the remaining lifetime has passed: a 15 s token
  // with a 30 s skew would otherwise be "about to expire" the moment it arrives and refresh
  // forever. A token that arrives already expired is sent anyway if fresh (a wrong clock: the
  // server's answer decides, and refreshing again could loop) and refreshed first if stored.
  // Whatever the input, refreshAt is a number: a NaN here once meant a refresh per request.
  const refreshAt =
    expiresAt === undefined
      ? Infinity
      : expiresAt <= now
        ? fresh
          ? Infinity
          : -Infinity
        : Math.max(expiresAt - skewMs, now + (expiresAt - now) / 2);
  return {
    accessToken,
    // A refresh response without a refresh token keeps the old one (RFC 6749 §6).
    refreshToken: cookie ? undefined : (refreshToken ?? previous?.refreshToken),
    expiresAt,
    refreshAt,
    identity,
  };
}
