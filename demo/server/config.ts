/**
 * The demo's server settings, in one place: `npm run demo` (main.ts) starts the server with these,
 * and the browser tests (__tests__/e2e) start it with the same, so the tests run what a person gets.
 */
import type { AuthServerOptions } from './authServer';

/** Access tokens live 15 s: long enough to read a card, short enough to watch one expire. */
export const DEMO_ACCESS_TTL_S = 15;
/** Refresh tokens live 10 min from their issue; each refresh rotates them. */
export const DEMO_REFRESH_TTL_S = 600;

/**
 * DPoP: `optional` lets the app choose at sign-in (a login with a proof opens a DPoP-bound session,
 * one without stays Bearer); `required` refuses Bearer altogether.
 */
export const DEMO_DPOP: 'optional' | 'required' = 'optional';
/** The server's DPoP nonce is replaced every minute: the next proof with the old one gets a challenge. */
export const DEMO_DPOP_NONCE_TTL_S = 60;

/** What `npm run demo` passes to `startAuthServer`, before the port and the static directory. */
export function demoServerOptions({
  accessTtlS = DEMO_ACCESS_TTL_S,
  refreshTtlS = DEMO_REFRESH_TTL_S,
  dpop = DEMO_DPOP,
}: { accessTtlS?: number; refreshTtlS?: number; dpop?: AuthServerOptions['dpop'] } = {}): AuthServerOptions {
  return { accessTtlMs: accessTtlS * 1000, refreshTtlMs: refreshTtlS * 1000, dpop, dpopNonceTtlMs: DEMO_DPOP_NONCE_TTL_S * 1000 };
}
