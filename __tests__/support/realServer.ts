/**
 * The adapters' tests run against the real demo server on 127.0.0.1: real HTTP, real JWTs, real
 * rotation. These helpers log in, refresh through `/auth/refresh` with plain fetch, and run
 * `auth.epic` in a real store, the way an app does.
 */
import type { Middleware, Reducer } from '@reduxjs/toolkit';
import type { UnknownAction } from 'redux';
import type { Epic } from 'redux-observable';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeJwt } from 'jose';
import { createTokenRefresh, type RefreshFn, type TokenRefresh, type StorageModeOptions, type Tokens } from '../../src';
import { startAuthServer, type AuthServer, type AuthServerOptions } from '../../demo/server/authServer';
import { createStore, type TestStore } from './harness';

export type { AuthServer } from '../../demo/server/authServer';

/** Long-lived access tokens: in these tests only the server's controls make a token stale. */
export function startServer(options: AuthServerOptions = {}): Promise<AuthServer> {
  return startAuthServer({ quiet: true, accessTtlMs: 600_000, ...options });
}

/**
 * Two servers for one describe block: `api`, the app's own, and `elsewhere`, another origin (another
 * port) that must never see the token. Started once, reset before each test, closed after all.
 */
export function useTwoServers(): { api: AuthServer; elsewhere: AuthServer } {
  const servers = {} as { api: AuthServer; elsewhere: AuthServer };
  beforeAll(async () => {
    [servers.api, servers.elsewhere] = await Promise.all([startServer(), startServer()]);
  });
  afterAll(() => Promise.all([servers.api.close(), servers.elsewhere.close()]));
  beforeEach(() => {
    servers.api.reset();
    servers.elsewhere.reset();
  });
  return servers;
}

export async function login(server: AuthServer): Promise<Tokens> {
  const response = await fetch(`${server.url}/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: 'demo', password: 'demo' }),
  });
  const body = (await response.json()) as { accessToken: string; refreshToken: string };
  return { accessToken: body.accessToken, refreshToken: body.refreshToken };
}

/** The refresh function of a first-party API: JSON in, JSON out, the refresh's signal passed on. */
export function jsonRefresh(server: AuthServer, fetchFn: typeof fetch = (input, init) => fetch(input, init)): RefreshFn {
  return async (refreshToken, { signal }) => {
    const response = await fetchFn(`${server.url}/auth/refresh`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ refreshToken }),
      signal,
    });
    const body = (await response.json().catch(() => ({}))) as { accessToken: string; refreshToken: string; error?: string };
    if (!response.ok) throw Object.assign(new Error(`refresh answered ${response.status}`), { status: response.status, error: body.error });
    return { accessToken: body.accessToken, refreshToken: body.refreshToken };
  };
}

export interface Session {
  auth: TokenRefresh;
  /** The store: auth's reducer and epic, the app's epics (support/harness.ts `createStore`). */
  store: TestStore;
  /** Every action the store saw, types without auth's prefix. */
  types(): string[];
}

export interface SessionOptions extends Partial<StorageModeOptions> {
  /** The app's epics, run next to `auth.epic`. */
  epics?: (auth: TokenRefresh) => Array<Epic<UnknownAction, UnknownAction>>;
  reducers?: Record<string, Reducer>;
  middleware?: Middleware[];
  /** Log in and store the tokens. @default true */
  loggedIn?: boolean;
}

/** `auth` with its epic running in a real store, logged in to `server`. */
export async function startSession(
  server: AuthServer,
  { epics = () => [], reducers, middleware, loggedIn = true, ...options }: SessionOptions = {},
): Promise<Session> {
  const auth = createTokenRefresh({ refresh: jsonRefresh(server), refreshBackoffMs: 10, ...options });
  const store = createStore(auth, { epics: epics(auth), reducers, middleware });
  if (loggedIn) auth.setTokens(await login(server));
  return { auth, store, types: () => store.types() };
}

/** The generation of the session a token belongs to: 1 at login, +1 per refresh. */
export const genOf = (token: string | undefined): unknown => (token ? decodeJwt(token).gen : undefined);

/** Waits for something the server or the client will do, instead of sleeping a guessed time. */
export async function until(condition: () => boolean, what: string, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** The API requests the server recorded, as [status, generation of the token carried]. */
export const apiRecords = (server: AuthServer): Array<[number, number | null]> =>
  server
    .stats()
    .recent.filter((r) => r.path.startsWith('/api/'))
    .map((r): [number, number | null] => [r.status, r.gen])
    .sort((a, b) => a[0] - b[0] || (a[1] ?? 0) - (b[1] ?? 0));

export interface BodyCodeApi {
  url: string;
  close(): Promise<void>;
}

/**
 * A second real API on 127.0.0.1 in front of the demo server, for APIs that do not say "token
 * expired" with a 401: it forwards each `GET /api/*` with its `Authorization` to `server`, and turns
 * the server's 401 into `403 { code: 1002 }` with an `X-Error-Code: 1002` header, or with
 * `expiredStatus: 200` into `200 { code: 1002 }` and no header, as the API of seed 002 answers. Everything else
 * passes through. The server's stats still count every request and refresh.
 */
export async function startBodyCodeApi(
  server: AuthServer,
  { expiredStatus = 403 }: { expiredStatus?: 200 | 403 } = {},
): Promise<BodyCodeApi> {
  const api = createServer((req, res) => {
    const headers: Record<string, string> = req.headers.authorization ? { Authorization: req.headers.authorization } : {};
    fetch(`${server.url}${req.url}`, { headers }).then(
      async (answer) => {
        if (answer.status === 401) {
          await answer.body?.cancel();
          const headers =
            expiredStatus === 200 ? { 'Content-Type': 'application/json' } : { 'Content-Type': 'application/json', 'X-Error-Code': '1002' };
          res.writeHead(expiredStatus, headers).end(JSON.stringify({ code: 1002, message: 'token expired' }));
        } else {
          res
            .writeHead(answer.status, { 'Content-Type': answer.headers.get('content-type') ?? 'application/json' })
            .end(await answer.text());
        }
      },
      () => res.writeHead(502).end(),
    );
  });
  api.keepAliveTimeout = 100;
  await new Promise<void>((ready) => api.listen(0, '127.0.0.1', ready));
  return {
    url: `http://127.0.0.1:${(api.address() as AddressInfo).port}`,
    close: () => new Promise<void>((done) => (api.closeAllConnections(), api.close(() => done()))),
  };
}
