/**
 * The demo auth server over real HTTP on 127.0.0.1: the demo, the integration tests and the benchmarks
 * all trust these behaviours, so they are pinned here rather than assumed.
 */
import { mkdtemp, mkdir, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt, jwtVerify } from 'jose';
import { REFRESH_COOKIE, startAuthServer, type AuthServer, type AuthServerOptions } from '../demo/server/authServer';

const SECRET = 'test-secret-that-is-long-enough-for-hs256';

let server: AuthServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(options: AuthServerOptions = {}): Promise<AuthServer> {
  server = await startAuthServer({ quiet: true, jwtSecret: SECRET, ...options });
  return server;
}

interface Tokens {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
  tokenType: string;
}

async function post(path: string, body: unknown): Promise<Response> {
  return fetch(server!.url + path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
}

async function login(): Promise<Tokens> {
  const response = await post('/auth/login', { username: 'demo', password: 'demo' });
  expect(response.status).toBe(200);
  return (await response.json()) as Tokens;
}

async function refresh(refreshToken: string): Promise<Response> {
  return post('/auth/refresh', { refreshToken });
}

async function api(path: string, accessToken?: string): Promise<Response> {
  return fetch(server!.url + path, { headers: accessToken ? { Authorization: `Bearer ${accessToken}` } : {} });
}

/** Waits for the server to have seen a request, instead of guessing how long the trip takes. */
async function until(seen: () => boolean): Promise<void> {
  for (let tries = 0; !seen(); tries++) {
    if (tries > 200) throw new Error('the server never saw the expected request');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function oauth(params: Record<string, string>, basic?: string): Promise<Response> {
  const headers: Record<string, string> = { 'Content-Type': 'application/x-www-form-urlencoded' };
  if (basic) headers.Authorization = `Basic ${Buffer.from(basic).toString('base64')}`;
  return fetch(`${server!.url}/oauth/token`, { method: 'POST', headers, body: new URLSearchParams(params) });
}

describe('demo auth server', () => {
  test('login issues a signed JWT with sub, iat, exp, sid, gen and jti that the API accepts', async () => {
    await start({ accessTtlMs: 30_000 });
    const tokens = await login();
    expect(tokens).toMatchObject({ tokenType: 'Bearer', expiresIn: 30 });

    const { payload, protectedHeader } = await jwtVerify(tokens.accessToken, new TextEncoder().encode(SECRET));
    expect(protectedHeader.alg).toBe('HS256');
    expect(payload).toMatchObject({ sub: 'demo', gen: 1, sid: expect.any(String), jti: expect.any(String) });
    expect(payload.exp! - payload.iat!).toBeGreaterThanOrEqual(30);
    expect(payload.exp! - payload.iat!).toBeLessThanOrEqual(31);

    const profile = await api('/api/profile', tokens.accessToken);
    expect(profile.status).toBe(200);
    expect(await profile.json()).toMatchObject({ username: 'demo' });
    expect(((await (await api('/api/items', tokens.accessToken)).json()) as { items: unknown[] }).items).toHaveLength(5);
    expect(await (await api('/api/echo', tokens.accessToken)).json()).toEqual({ sub: 'demo', gen: 1, sid: payload.sid });
  });

  test('wrong credentials are 401 invalid_credentials', async () => {
    await start();
    const response = await post('/auth/login', { username: 'demo', password: 'nope' });
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ error: 'invalid_credentials' });
  });

  test('a request without a token gets a bare Bearer challenge; a forged token gets invalid_token', async () => {
    await start();
    const missing = await api('/api/heartbeat');
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer');

    const { accessToken } = await login();
    const forged = `${accessToken.slice(0, -4)}AAAA`;
    const rejected = await api('/api/heartbeat', forged);
    expect(rejected.status).toBe(401);
    expect(rejected.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token"/);
    expect(server!.stats()).toMatchObject({ requestsWithoutToken: 1, api401: 2, apiRequests: 2 });
  });

  test('expire control rejects issued access tokens with invalid_token while their exp claim is unchanged', async () => {
    await start();
    const { accessToken } = await login();
    expect((await api('/api/heartbeat', accessToken)).status).toBe(200);

    expect((await post('/control/expire', {})).status).toBe(204);
    const response = await api('/api/heartbeat', accessToken);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer error="invalid_token", error_description="token expired"');
    expect(await response.json()).toMatchObject({ error: 'invalid_token' });
    expect(decodeJwt(accessToken).exp! * 1000).toBeGreaterThan(Date.now());
  });

  test('refresh rotates the refresh token, bumps gen, and supersedes the old access token', async () => {
    await start();
    const first = await login();
    const response = await refresh(first.refreshToken);
    expect(response.status).toBe(200);
    const second = (await response.json()) as Tokens;
    expect(second.refreshToken).not.toBe(first.refreshToken);
    expect(decodeJwt(second.accessToken)).toMatchObject({ gen: 2, sid: decodeJwt(first.accessToken).sid });

    const stale = await api('/api/echo', first.accessToken);
    expect(stale.status).toBe(401);
    expect(stale.headers.get('www-authenticate')).toContain('superseded');
    expect(await (await api('/api/echo', second.accessToken)).json()).toMatchObject({ gen: 2 });
    expect(server!.stats()).toMatchObject({ refreshCalls: 1, refreshOk: 1, requestsWithReplacedToken: 1 });
    expect(server!.stats().recent.at(-2)).toMatchObject({ path: '/api/echo', status: 401, gen: 1, replaced: true });
  });

  test('with onlyNewestAccessToken off, a superseded but unexpired token still works and is counted', async () => {
    await start({ onlyNewestAccessToken: false });
    const first = await login();
    await refresh(first.refreshToken);
    expect((await api('/api/heartbeat', first.accessToken)).status).toBe(200);
    expect(server!.stats().requestsWithReplacedToken).toBe(1);
  });

  test('reusing a spent refresh token revokes the whole family', async () => {
    await start();
    const first = await login();
    const second = (await (await refresh(first.refreshToken)).json()) as Tokens;

    const reuse = await refresh(first.refreshToken);
    expect(reuse.status).toBe(401);
    expect(await reuse.json()).toMatchObject({ error: 'invalid_grant', error_description: expect.any(String) });
    expect((await refresh(second.refreshToken)).status).toBe(401);
    expect((await api('/api/heartbeat', second.accessToken)).status).toBe(401);
    expect(server!.stats()).toMatchObject({ reuseDetections: 1, refreshCalls: 3, refreshOk: 1, refreshFailed: 2 });
  });

  test('unknown refresh tokens and logged-out sessions are invalid_grant', async () => {
    await start();
    expect(await (await refresh('nope')).json()).toMatchObject({ error: 'invalid_grant' });
    const tokens = await login();
    expect((await post('/auth/logout', { refreshToken: tokens.refreshToken })).status).toBe(204);
    expect((await refresh(tokens.refreshToken)).status).toBe(401);
    expect((await api('/api/heartbeat', tokens.accessToken)).status).toBe(401);
    expect(server!.stats().reuseDetections).toBe(0);
  });

  test('failNextRefresh answers 500 once, without spending the refresh token', async () => {
    await start();
    const tokens = await login();
    server!.control.failNextRefresh();
    const failed = await refresh(tokens.refreshToken);
    expect(failed.status).toBe(500);
    expect(await failed.json()).toEqual(expect.objectContaining({ error: 'server_error' }));
    expect((await refresh(tokens.refreshToken)).status).toBe(200);
    expect(server!.stats()).toMatchObject({ refreshCalls: 2, refreshOk: 1, refreshFailed: 1, reuseDetections: 0 });
  });

  test('fail-refresh and revoke control routes', async () => {
    await start();
    const tokens = await login();
    expect((await post('/control/fail-refresh', { status: 503, times: 2 })).status).toBe(204);
    expect((await refresh(tokens.refreshToken)).status).toBe(503);
    expect((await refresh(tokens.refreshToken)).status).toBe(503);
    expect((await post('/control/revoke', {})).status).toBe(204);
    expect((await refresh(tokens.refreshToken)).status).toBe(401);
    expect((await api('/api/heartbeat', tokens.accessToken)).status).toBe(200);
    expect((await post('/control/fail-refresh', { times: 0 })).status).toBe(400);
  });

  test('a request sent with the old token during a slow refresh is a late 401', async () => {
    await start({ apiLatencyMs: 150 });
    const first = await login();
    server!.control.slowNextRefresh(100);
    const events: string[] = [];
    const refreshing = refresh(first.refreshToken).then(async (response) => {
      events.push('refreshed');
      return (await response.json()) as Tokens;
    });
    // The rotation is committed when the refresh arrives, so this request is already stale on arrival.
    await until(() => server!.stats().refreshCalls === 1);
    const stale = await api('/api/heartbeat', first.accessToken);
    events.push(`api ${stale.status}`);
    const second = await refreshing;

    expect(stale.status).toBe(401);
    expect(events).toEqual(['refreshed', 'api 401']);
    expect((await api('/api/heartbeat', second.accessToken)).status).toBe(200);
    expect(server!.stats()).toMatchObject({ api401: 1, apiOk: 1, requestsWithReplacedToken: 1 });
  });

  test('the verdict is taken on arrival: a token superseded during the API latency still gets its 200', async () => {
    await start({ apiLatencyMs: 200 });
    const first = await login();
    const inFlight = api('/api/echo', first.accessToken);
    await until(() => server!.stats().apiOk === 1);
    expect((await refresh(first.refreshToken)).status).toBe(200);
    const response = await inFlight;
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ gen: 1 });
  });

  describe('/oauth/token (RFC 6749)', () => {
    test('password and refresh_token grants for the public client', async () => {
      await start();
      const granted = await oauth({ grant_type: 'password', username: 'demo', password: 'demo', client_id: 'demo-app' });
      expect(granted.status).toBe(200);
      expect(granted.headers.get('cache-control')).toBe('no-store');
      const first = (await granted.json()) as Record<string, string | number>;
      expect(first).toMatchObject({ token_type: 'Bearer', expires_in: 15, scope: 'profile items', refresh_token: expect.any(String) });

      const refreshed = await oauth({
        grant_type: 'refresh_token',
        refresh_token: String(first.refresh_token),
        client_id: 'demo-app',
        scope: 'items',
      });
      expect(refreshed.status).toBe(200);
      const second = (await refreshed.json()) as Record<string, string>;
      expect(second.refresh_token).not.toBe(first.refresh_token);
      expect(second.scope).toBe('items');
      expect((await api('/api/echo', second.access_token)).status).toBe(200);

      const reuse = await oauth({ grant_type: 'refresh_token', refresh_token: String(first.refresh_token), client_id: 'demo-app' });
      expect(reuse.status).toBe(400);
      expect(await reuse.json()).toMatchObject({ error: 'invalid_grant' });
      expect(server!.stats()).toMatchObject({ logins: 1, refreshOk: 1, refreshFailed: 1, reuseDetections: 1 });
    });

    test('the confidential client authenticates with Basic or body credentials; a bad secret is invalid_client', async () => {
      await start();
      const granted = await oauth({ grant_type: 'password', username: 'demo', password: 'demo' }, 'demo-confidential:demo-secret');
      expect(granted.status).toBe(200);
      const { refresh_token } = (await granted.json()) as { refresh_token: string };

      const viaBody = await oauth({
        grant_type: 'refresh_token',
        refresh_token,
        client_id: 'demo-confidential',
        client_secret: 'demo-secret',
      });
      expect(viaBody.status).toBe(200);
      const { refresh_token: next } = (await viaBody.json()) as { refresh_token: string };

      const badSecret = await oauth({ grant_type: 'refresh_token', refresh_token: next }, 'demo-confidential:wrong');
      expect(badSecret.status).toBe(401);
      expect(badSecret.headers.get('www-authenticate')).toMatch(/^Basic /);
      expect(await badSecret.json()).toMatchObject({ error: 'invalid_client' });
      expect((await oauth({ grant_type: 'refresh_token', refresh_token: next }, 'demo-confidential:demo-secret')).status).toBe(200);

      const otherClient = await oauth({ grant_type: 'refresh_token', refresh_token: 'x', client_id: 'demo-app' });
      expect(await otherClient.json()).toMatchObject({ error: 'invalid_grant' });
      expect(await (await oauth({ grant_type: 'implicit', client_id: 'demo-app' })).json()).toMatchObject({
        error: 'unsupported_grant_type',
      });
      expect(await (await oauth({ grant_type: 'password', client_id: 'demo-app' })).json()).toMatchObject({ error: 'invalid_request' });
    });

    test('with oauthRotateRefreshTokens off the refresh response omits refresh_token and the old one stays valid', async () => {
      await start({ oauthRotateRefreshTokens: false });
      const granted = await oauth({ grant_type: 'password', username: 'demo', password: 'demo', client_id: 'demo-app' });
      const { refresh_token } = (await granted.json()) as { refresh_token: string };
      for (const gen of [2, 3]) {
        const response = await oauth({ grant_type: 'refresh_token', refresh_token, client_id: 'demo-app' });
        expect(response.status).toBe(200);
        const body = (await response.json()) as Record<string, unknown>;
        expect(body).not.toHaveProperty('refresh_token');
        expect(decodeJwt(String(body.access_token)).gen).toBe(gen);
      }
      expect(server!.stats().reuseDetections).toBe(0);
    });
  });

  test('/stats counts requests and keeps recent entries; reset zeroes them', async () => {
    await start();
    const tokens = await login();
    await api('/api/heartbeat', tokens.accessToken);
    await api('/api/heartbeat');
    await refresh(tokens.refreshToken);
    const stats = (await (await fetch(`${server!.url}/stats`)).json()) as ReturnType<AuthServer['stats']>;
    expect(stats).toMatchObject({ logins: 1, apiRequests: 2, apiOk: 1, api401: 1, requestsWithoutToken: 1, refreshCalls: 1, refreshOk: 1 });
    expect(stats.recent.map((entry) => `${entry.method} ${entry.path} ${entry.status} ${entry.gen}`)).toEqual([
      'POST /auth/login 200 1',
      'GET /api/heartbeat 200 1',
      'GET /api/heartbeat 401 null',
      'POST /auth/refresh 200 2',
    ]);
    expect((await post('/control/reset', {})).status).toBe(204);
    expect(server!.stats()).toMatchObject({ logins: 0, apiRequests: 0, recent: [] });
  });

  describe('cookie mode: the refresh token in an HttpOnly cookie', () => {
    /** Each Set-Cookie answer, as a browser would keep it: the value and its attributes. */
    const cookieOf = (response: Response) => {
      const header = response.headers.get('set-cookie') ?? '';
      const [pair = '', ...attributes] = header.split(';').map((part) => part.trim());
      const [name, value] = [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)];
      return { header, name, value, attributes };
    };
    const postWithCookie = (path: string, cookie?: string) =>
      fetch(server!.url + path, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...(cookie ? { Cookie: `${REFRESH_COOKIE}=${cookie}` } : {}) },
        body: '{}',
      });

    test('login sets an HttpOnly, SameSite=Strict, Path=/auth cookie and leaves the refresh token out of the body', async () => {
      await start({ refreshTtlMs: 60_000 });
      const response = await post('/auth/login', { username: 'demo', password: 'demo', refreshTokenIn: 'cookie' });
      expect(response.status).toBe(200);
      const body = (await response.json()) as Record<string, unknown>;
      expect(body).toMatchObject({ accessToken: expect.any(String), expiresIn: 15, tokenType: 'Bearer' });
      expect(body).not.toHaveProperty('refreshToken');
      const cookie = cookieOf(response);
      expect(cookie.name).toBe(REFRESH_COOKIE);
      expect(cookie.value.length).toBeGreaterThan(20);
      expect(cookie.attributes).toEqual(['HttpOnly', 'SameSite=Strict', 'Path=/auth', 'Max-Age=60']);
      expect((await post('/auth/login', { username: 'demo', password: 'demo', refreshTokenIn: 'header' })).status).toBe(400);
    });

    test('refresh reads the cookie, rotates it, and a spent cookie presented again revokes the session', async () => {
      await start();
      const first = cookieOf(await post('/auth/login', { username: 'demo', password: 'demo', refreshTokenIn: 'cookie' })).value;
      const refreshed = await postWithCookie('/auth/refresh', first);
      expect(refreshed.status).toBe(200);
      const body = (await refreshed.json()) as { accessToken: string };
      expect(body).not.toHaveProperty('refreshToken');
      expect(decodeJwt(body.accessToken).gen).toBe(2);
      const second = cookieOf(refreshed).value;
      expect(second).not.toBe(first);

      // Two tabs spending the same cookie: the second one is reuse, and the whole session ends.
      const reused = await postWithCookie('/auth/refresh', first);
      expect(reused.status).toBe(401);
      expect(await reused.json()).toMatchObject({ error: 'invalid_grant' });
      expect(cookieOf(reused).attributes).toContain('Max-Age=0');
      expect((await postWithCookie('/auth/refresh', second)).status).toBe(401);
      expect(server!.stats()).toMatchObject({ refreshCalls: 3, cookieRefreshCalls: 3, refreshOk: 1, reuseDetections: 1 });
    });

    test("no cookie: 401 invalid_grant (no session to restore); logout revokes the cookie's session and clears it", async () => {
      await start();
      const none = await postWithCookie('/auth/refresh');
      expect(none.status).toBe(401);
      expect(await none.json()).toMatchObject({ error: 'invalid_grant' });

      const cookie = cookieOf(await post('/auth/login', { username: 'demo', password: 'demo', refreshTokenIn: 'cookie' })).value;
      const logout = await postWithCookie('/auth/logout', cookie);
      expect(logout.status).toBe(204);
      expect(cookieOf(logout)).toMatchObject({ value: '', attributes: expect.arrayContaining(['Max-Age=0', 'Path=/auth']) });
      expect((await postWithCookie('/auth/refresh', cookie)).status).toBe(401);
      // The body's refresh token still wins where both are sent: the storage mode is unchanged.
      const tokens = await login();
      expect(
        (
          await fetch(`${server!.url}/auth/refresh`, {
            method: 'POST',
            headers: { 'Content-Type': 'application/json', Cookie: `${REFRESH_COOKIE}=garbage` },
            body: JSON.stringify({ refreshToken: tokens.refreshToken }),
          })
        ).status,
      ).toBe(200);
    });
  });

  test('/control/reset-stats zeroes the counters only: an injected fault and the sessions stay', async () => {
    await start();
    const tokens = await login();
    expect((await post('/control/fail-refresh', { status: 503, times: 1 })).status).toBe(204);
    expect((await post('/control/reset-stats', {})).status).toBe(204);
    expect(server!.stats()).toMatchObject({ logins: 0, refreshCalls: 0, recent: [] });
    expect((await refresh(tokens.refreshToken)).status).toBe(503);
    expect((await refresh(tokens.refreshToken)).status).toBe(200);
    expect(server!.stats()).toMatchObject({ refreshCalls: 2, refreshOk: 1, refreshFailed: 1 });
  });

  test('the terminal log has a line for each login, refresh (with its outcome) and logout, as `quiet` says', async () => {
    const lines: string[] = [];
    const spy = jest.spyOn(console, 'log').mockImplementation((line: unknown) => void lines.push(String(line)));
    try {
      await start({ quiet: false });
      const tokens = await login();
      await post('/control/fail-refresh', { status: 500, times: 1 });
      expect((await refresh(tokens.refreshToken)).status).toBe(500);
      const rotated = (await (await refresh(tokens.refreshToken)).json()) as Tokens;
      expect((await refresh(tokens.refreshToken)).status).toBe(401); // reuse of a spent token
      await post('/auth/logout', { refreshToken: rotated.refreshToken });
    } finally {
      spy.mockRestore();
    }
    const sid = /login demo \(session (\w+)\)/.exec(lines.join('\n'))?.[1];
    expect(sid).toBeDefined();
    expect(lines).toEqual([
      `[auth-server] login demo (session ${sid})`,
      '[auth-server] control: next 1 refresh call(s) fail with 500',
      '[auth-server] refresh 500 server_error: failure injected by failNextRefresh',
      `[auth-server] refresh 200: session ${sid} now at token gen 2`,
      `[auth-server] refresh token reuse detected: session ${sid} revoked`,
      '[auth-server] refresh 401 invalid_grant: refresh token already used; session revoked',
      `[auth-server] logout: session ${sid} revoked`,
    ]);
  });

  test('every request ends: bad JSON is 400, unknown routes 404, wrong methods 405', async () => {
    await start();
    const badJson = await fetch(`${server!.url}/auth/login`, { method: 'POST', body: '{nope' });
    expect(badJson.status).toBe(400);
    expect(await badJson.json()).toMatchObject({ error: 'invalid_request' });
    expect((await fetch(`${server!.url}/nowhere`)).status).toBe(404);
    expect((await fetch(`${server!.url}/api/nowhere`)).status).toBe(404);
    expect((await fetch(`${server!.url}/auth/login`)).status).toBe(405);
    expect((await post('/control/slow-refresh', { ms: 'soon' })).status).toBe(400);
  });

  test('close() returns promptly despite keep-alive sockets and a pending slow report', async () => {
    await start();
    const { accessToken } = await login();
    const report = api('/api/report?ms=5000', accessToken).then(
      (response) => response.status,
      () => 'aborted',
    );
    await until(() => server!.stats().apiRequests === 1);
    const startedAt = Date.now();
    await server!.close();
    expect(Date.now() - startedAt).toBeLessThan(500);
    expect(await report).toBe('aborted');
  });

  test('serves static files with an SPA fallback to index.html, never outside the directory', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'demo-dist-'));
    try {
      await mkdir(join(dir, 'assets'));
      await writeFile(join(dir, 'index.html'), '<!doctype html><title>demo</title>');
      await writeFile(join(dir, 'assets', 'app.js'), 'console.log(1)');
      await start({ staticDir: dir });
      const page = await fetch(`${server!.url}/settings/profile`);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toContain('text/html');
      expect(await page.text()).toContain('<title>demo</title>');
      expect((await fetch(`${server!.url}/assets/app.js`)).headers.get('content-type')).toBe('text/javascript');
      expect((await fetch(`${server!.url}/assets/missing.js`)).status).toBe(404);
      expect((await fetch(`${server!.url}/..%2f..%2f..%2fetc%2fpasswd`)).status).toBe(404);
      expect((await fetch(`${server!.url}/api/nowhere`)).status).toBe(404);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
