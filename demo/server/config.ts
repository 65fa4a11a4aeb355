/**
 * The demo's server settings, in one place: `npm run demo` (main.ts) starts the server with these,
 * and the browser tests (__tests__/e2e) start it with the same, so the tests run what a person gets.
 */
import type { AuthServerOptions } from './authServer';

/** Access tokens live 15 s: long enough to read a card, short enough to watch one expire. */
export const DEMO_ACCESS_TTL_S = 15;
/** Refresh tokens live 10 min from their issue; each refresh rotates them. */
export const DEMO_REFRESH_TTL_S = 600;

/** What `npm run demo` passes to `startAuthServer`, before the port and the static directory. */
export function demoServerOptions({ accessTtlS = DEMO_ACCESS_TTL_S, refreshTtlS = DEMO_REFRESH_TTL_S } = {}): AuthServerOptions {
  return { accessTtlMs: accessTtlS * 1000, refreshTtlMs: refreshTtlS * 1000 };
}
