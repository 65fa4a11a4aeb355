import { startFaultProxy, type FaultProxy } from './support/faultProxy';
import { login, startServer, until, type AuthServer } from './support/realServer';

/**
 * The fault proxy itself, against the real demo server on 127.0.0.1: each fault does to a real
 * client (Node's fetch) what the network would, and the server sees (or does not see) the request
 * exactly as the fault says.
 */
let server: AuthServer;
let proxy: FaultProxy;
beforeEach(async () => {
  server = await startServer();
  proxy = await startFaultProxy(server.url);
});
afterEach(() => Promise.all([proxy.close(), server.close()]));

/** Node's fetch rejects with a TypeError of its own realm (not Jest's), so match it by name. */
const networkError = { name: 'TypeError', message: 'fetch failed' };

const refreshVia = (base: string, refreshToken: string, init: RequestInit = {}) =>
  fetch(`${base}/auth/refresh`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ refreshToken }),
    ...init,
  });

test('without a fault it is transparent: login, API call and refresh through it work and reach the server', async () => {
  const tokens = await login({ ...server, url: proxy.url });
  const api = await fetch(`${proxy.url}/api/echo`, { headers: { Authorization: `Bearer ${tokens.accessToken}` } });
  expect(api.status).toBe(200);
  expect(await api.json()).toMatchObject({ sub: 'demo', gen: 1 });
  const refreshed = await refreshVia(proxy.url, tokens.refreshToken!);
  expect(refreshed.status).toBe(200);
  expect(await refreshed.json()).toMatchObject({ accessToken: expect.any(String), refreshToken: expect.any(String) });
  expect(server.stats()).toMatchObject({ logins: 1, apiOk: 1, refreshOk: 1 });
  expect(proxy.requests.map((r) => [r.path, r.fault, r.forwarded, r.upstreamStatus])).toEqual([
    ['/auth/login', 'pass', true, 200],
    ['/api/echo', 'pass', true, 200],
    ['/auth/refresh', 'pass', true, 200],
  ]);
});

test('drop: the client gets a network error and the server never sees the request', async () => {
  const tokens = await login(server);
  proxy.inject({ kind: 'drop' }, { path: '/auth/refresh', times: 1 });
  await expect(refreshVia(proxy.url, tokens.refreshToken!)).rejects.toMatchObject(networkError);
  expect(server.stats().refreshCalls).toBe(0);
  // only the next one: the refresh token is still good
  expect((await refreshVia(proxy.url, tokens.refreshToken!)).status).toBe(200);
});

test('reset after the response: the server rotated the refresh token, the client only sees a reset', async () => {
  const tokens = await login(server);
  proxy.inject({ kind: 'reset-after-response' }, { path: '/auth/refresh', times: 1 });
  await expect(refreshVia(proxy.url, tokens.refreshToken!)).rejects.toMatchObject(networkError);
  expect(server.stats()).toMatchObject({ refreshCalls: 1, refreshOk: 1 });
  expect(proxy.requests[0]).toMatchObject({ fault: 'reset-after-response', forwarded: true, upstreamStatus: 200 });
  // The client still holds the spent token: presenting it again is reuse, and the server revokes the session.
  const retried = await refreshVia(proxy.url, tokens.refreshToken!);
  expect(retried.status).toBe(401);
  expect(server.stats().reuseDetections).toBe(1);
});

test('html: a captive portal answers 200 text/html instead of tokens, and the server sees nothing', async () => {
  const tokens = await login(server);
  proxy.inject({ kind: 'html' }, { path: '/auth/refresh' });
  const response = await refreshVia(proxy.url, tokens.refreshToken!);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/html/);
  await expect(response.json()).rejects.toMatchObject({ name: 'SyntaxError' });
  expect(server.stats().refreshCalls).toBe(0);
});

test('garbage: 200 application/json whose body is not JSON', async () => {
  proxy.inject({ kind: 'garbage' });
  const response = await refreshVia(proxy.url, 'anything');
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toBe('application/json');
  await expect(response.json()).rejects.toMatchObject({ name: 'SyntaxError' });
  expect(server.stats().refreshCalls).toBe(0);
});

test('truncate: the server answered (and rotated), the client gets the status and half a body, then the connection is cut', async () => {
  const tokens = await login(server);
  proxy.inject({ kind: 'truncate' }, { path: '/auth/refresh', times: 1 });
  const response = await refreshVia(proxy.url, tokens.refreshToken!);
  expect(response.status).toBe(200);
  await expect(response.json()).rejects.toThrow();
  expect(server.stats()).toMatchObject({ refreshCalls: 1, refreshOk: 1 });
});

test('status: a 503 from the gateway, never forwarded; a custom status and body too', async () => {
  proxy.inject({ kind: 'status' }, { times: 1 });
  proxy.inject({ kind: 'status', status: 502, body: 'Bad Gateway', contentType: 'text/plain' }, { times: 1 });
  const first = await refreshVia(proxy.url, 'x');
  expect([first.status, await first.json()]).toEqual([503, { error: 'service_unavailable' }]);
  const second = await refreshVia(proxy.url, 'x');
  expect([second.status, await second.text()]).toEqual([502, 'Bad Gateway']);
  expect(server.stats().refreshCalls).toBe(0);
});

test('delay-response: the server decides on arrival, the client hears only after the delay', async () => {
  const tokens = await login(server);
  proxy.inject({ kind: 'delay-response', ms: 300 }, { path: '/auth/refresh', times: 1 });
  let answered = false;
  const pending = refreshVia(proxy.url, tokens.refreshToken!).then((r) => ((answered = true), r));
  await until(() => server.stats().refreshOk === 1, 'the server rotated the token');
  expect(answered).toBe(false);
  expect((await pending).status).toBe(200);
});

test('delay-request: the server sees the request only after the delay', async () => {
  const tokens = await login(server);
  proxy.inject({ kind: 'delay-request', ms: 200 }, { path: '/auth/refresh', times: 1 });
  const pending = refreshVia(proxy.url, tokens.refreshToken!);
  await until(() => proxy.count('/auth/refresh') === 1, 'the proxy received it');
  expect(server.stats().refreshCalls).toBe(0);
  expect((await pending).status).toBe(200);
  expect(server.stats().refreshCalls).toBe(1);
});

test('hang: no answer until the client gives up; the server never sees it', async () => {
  proxy.inject({ kind: 'hang' }, { path: '/auth/refresh' });
  const controller = new AbortController();
  const pending = refreshVia(proxy.url, 'x', { signal: controller.signal });
  await until(() => proxy.count('/auth/refresh') === 1, 'the proxy received it');
  controller.abort();
  await expect(pending).rejects.toThrow(/abort/i);
  await proxy.waitFor('/auth/refresh', 1);
  expect(server.stats().refreshCalls).toBe(0);
});

test('rules: by path, by method, for the next N requests, in order; offline() and heal()', async () => {
  const tokens = await login(server);
  proxy.inject({ kind: 'status', status: 500 }, { path: '/auth/refresh', times: 2 });
  proxy.inject({ kind: 'status', status: 418 }, { path: /^\/api\//, method: 'POST' });
  const api = () => fetch(`${proxy.url}/api/echo`, { headers: { Authorization: `Bearer ${tokens.accessToken}` } }).then((r) => r.status);
  expect(await api()).toBe(200); // a GET: the POST-only rule does not apply
  expect((await refreshVia(proxy.url, tokens.refreshToken!)).status).toBe(500);
  expect((await refreshVia(proxy.url, tokens.refreshToken!)).status).toBe(500);
  expect((await refreshVia(proxy.url, tokens.refreshToken!)).status).toBe(200);
  const restore = proxy.offline({ path: '/api/echo' });
  await expect(api()).rejects.toMatchObject(networkError);
  await expect(api()).rejects.toMatchObject(networkError);
  restore();
  expect(await api()).toBe(401); // the token was replaced by the refresh above: the server says so
  proxy.offline();
  await expect(api()).rejects.toMatchObject(networkError);
  proxy.heal();
  expect(await api()).toBe(401);
  expect(proxy.count('/api/echo', (r) => r.fault === 'drop')).toBe(3);
});

test('bounded: loopback upstream only, a request budget, and close() cuts hanging connections and stops listening', async () => {
  await expect(startFaultProxy('http://example.com')).rejects.toThrow(/loopback only/);
  await expect(startFaultProxy('http://0.0.0.0:80')).rejects.toThrow(/127\.0\.0\.1/);

  const small = await startFaultProxy(server.url, { maxRequests: 2 });
  try {
    expect((await fetch(`${small.url}/api/echo`)).status).toBe(401);
    expect((await fetch(`${small.url}/api/echo`)).status).toBe(401);
    expect((await fetch(`${small.url}/api/echo`)).status).toBe(503);
    expect(server.stats().apiRequests).toBe(2);
  } finally {
    await small.close();
  }

  proxy.inject({ kind: 'hang' });
  const hanging = fetch(`${proxy.url}/api/echo`);
  await until(() => proxy.count('/api/echo') === 1, 'the proxy received it');
  await proxy.close();
  await expect(hanging).rejects.toMatchObject(networkError);
  await expect(fetch(`${proxy.url}/api/echo`)).rejects.toMatchObject(networkError);
  await proxy.close(); // idempotent
});

test('it closes itself after its lifetime', async () => {
  const shortLived = await startFaultProxy(server.url, { lifetimeMs: 50 });
  expect(shortLived.closed).toBe(false);
  await until(() => shortLived.closed, 'the proxy closed itself');
  await expect(fetch(`${shortLived.url}/api/echo`)).rejects.toMatchObject(networkError);
});
