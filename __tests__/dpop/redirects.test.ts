/**
 * Redirects with DPoP. fetch re-sends every header on each hop: the proof made for the first URL
 * would go on to the next one (where it is refused: another `htu`, a `jti` already seen) and to
 * another origin, with the public key that identifies the user. Outside browsers the redirect is
 * followed by `dpop.wrap`: a new proof for each hop on the same origin, neither proof nor token elsewhere.
 */
import { createTokenRefresh } from '../../src';
import { authFetch } from '../../src/adapters/fetch';
import { createDpop, memoryKeys } from '../../src/dpop';
import { athOf, json, scriptedFetch, type Seen } from './support';
import { createStore } from '../support/harness';
import { sendJson, startScriptedServer, type ScriptedServer } from '../support/dpop/scriptedServer';

let elsewhere: ScriptedServer;
let api: ScriptedServer;
beforeAll(async () => {
  elsewhere = await startScriptedServer((_, res) => sendJson(res, 401, { elsewhere: true }));
  api = await startScriptedServer((request, res) => {
    const path = request.path;
    if (path === '/moved') return res.writeHead(307, { Location: `${elsewhere.url}/landing` }).end();
    if (path === '/slash') return res.writeHead(301, { Location: '/slash/' }).end();
    if (path === '/form') return res.writeHead(302, { Location: '/done' }).end();
    if (path === '/upload') return res.writeHead(308, { Location: '/uploaded' }).end();
    // The resource server's check: the proof is for this very request, and each proof is used once.
    const url = `${api.url}${path}`;
    const fresh = !api.received.slice(0, -1).some((r) => r.proof?.payload.jti === request.proof?.payload.jti);
    if (request.proof?.payload.htu !== url || request.proof.payload.htm !== request.method || !fresh)
      return sendJson(res, 401, {}, { 'WWW-Authenticate': 'DPoP error="invalid_dpop_proof"' });
    sendJson(res, 200, { path, method: request.method, body: request.body });
  });
});
afterAll(async () => {
  await elsewhere.close();
  await api.close();
});
beforeEach(() => {
  api.received.splice(0);
  elsewhere.received.splice(0);
});

function session() {
  let refreshes = 0;
  const auth = createTokenRefresh({ refresh: async () => (refreshes++, { accessToken: 'fresh-token', refreshToken: 'rt2' }) });
  createStore(auth);
  auth.setTokens({ accessToken: 'the-token', refreshToken: 'rt' });
  const apiFetch = authFetch(auth, { allowedOrigins: [api.origin], fetchFn: createDpop({ keys: memoryKeys() }).resourceFetch(auth) });
  return { apiFetch, refreshes: () => refreshes };
}

test('a redirect to another origin takes neither the token nor a proof there, and its 401 starts no refresh', async () => {
  const { apiFetch, refreshes } = session();
  const response = await apiFetch(`${api.url}/moved`);
  expect(response.status).toBe(401);
  expect(response.redirected).toBe(true);
  expect(response.url).toBe(`${elsewhere.url}/landing`);
  expect(elsewhere.received).toHaveLength(1);
  expect(elsewhere.received[0]!.authorization).toBeUndefined();
  expect(elsewhere.received[0]!.dpop).toBeUndefined();
  expect(refreshes()).toBe(0);
});

test('a redirect on the same origin is followed with a new proof for the new URL, with the token: no refresh', async () => {
  const { apiFetch, refreshes } = session();
  const response = await apiFetch(`${api.url}/slash`);
  expect(response.status).toBe(200);
  expect(response.redirected).toBe(true);
  expect(response.url).toBe(`${api.url}/slash/`);
  const [first, second] = api.received;
  expect(second!.proof!.payload).toMatchObject({ htm: 'GET', htu: `${api.url}/slash/`, ath: await athOf('the-token') });
  expect(second!.proof!.payload.jti).not.toBe(first!.proof!.payload.jti);
  expect(second!.authorization).toBe('DPoP the-token');
  expect(refreshes()).toBe(0);
});

test('302 after a POST goes on as a GET without the body; 308 keeps the method and the body, each with its own proof', async () => {
  const { apiFetch } = session();
  const form = await apiFetch(`${api.url}/form`, { method: 'POST', body: 'a=1', headers: { 'Content-Type': 'text/plain' } });
  expect(await form.json()).toEqual({ path: '/done', method: 'GET', body: '' });
  const upload = await apiFetch(new Request(`${api.url}/upload`, { method: 'PUT', body: 'file' }));
  expect(await upload.json()).toEqual({ path: '/uploaded', method: 'PUT', body: 'file' });
  expect(api.received.map((r) => `${r.method} ${r.proof?.payload.htm} ${new URL(r.proof!.payload.htu).pathname}`)).toEqual([
    'POST POST /form',
    'GET GET /done',
    'PUT PUT /upload',
    'PUT PUT /uploaded',
  ]);
});

test("redirect: 'manual' is the caller's: the redirect comes back as it is", async () => {
  const { apiFetch } = session();
  const response = await apiFetch(`${api.url}/moved`, { redirect: 'manual' });
  expect(response.status).toBe(307);
  expect(elsewhere.received).toHaveLength(0);
});

describe('each hop as fetch would send it (RFC 9110 §15.4), with its own proof', () => {
  const APP = 'https://api.example.com';
  /** A server that redirects `/from` with `status` (to `to`), and answers anything else with 200. */
  function redirecting(status: number, to = `${APP}/to`) {
    return scriptedFetch((request) =>
      new URL(request.url).pathname === '/from' ? new Response(null, { status, headers: { Location: to } }) : json(200, {}),
    );
  }
  const hops = (seen: Seen[]) =>
    seen.map(
      (s) =>
        `${s.method} ${s.url} body=${s.body ?? '-'} type=${s.headers.get('content-type') ?? '-'} dpop=${s.proof ? `${s.proof.payload.htm} ${s.proof.payload.htu}` : '-'} auth=${s.authorization ?? '-'}`,
    );

  test.each([
    [301, 'POST', 'GET'],
    [302, 'POST', 'GET'],
    [302, 'post', 'GET'],
    [303, 'POST', 'GET'],
    [303, 'PUT', 'GET'],
    [301, 'PUT', 'PUT'],
    [302, 'PUT', 'PUT'],
    [302, 'REPOST', 'REPOST'],
    [302, 'POSTAL', 'POSTAL'],
    [307, 'POST', 'POST'],
    [308, 'DELETE', 'DELETE'],
  ])('%i after %s: the next hop is a %s', async (status, method, next) => {
    const { fetchFn, seen } = redirecting(status);
    const dpop = createDpop({ keys: memoryKeys(), fetchFn });
    const response = await dpop.fetch(`${APP}/from`, {
      method,
      body: 'a=1',
      headers: { 'Content-Type': 'text/plain', Authorization: 'DPoP tok' },
    });
    expect(response.status).toBe(200);
    expect(response.redirected).toBe(true);
    const kept = next !== 'GET';
    expect(hops(seen)).toEqual([
      `${method.toUpperCase()} ${APP}/from body=a=1 type=text/plain dpop=${method.toUpperCase()} ${APP}/from auth=DPoP tok`,
      `${next} ${APP}/to body=${kept ? 'a=1' : '-'} type=${kept ? 'text/plain' : '-'} dpop=${next} ${APP}/to auth=DPoP tok`,
    ]);
  });

  test.each([
    ['HEAD', 'HEAD'],
    ['AHEAD', 'GET'],
    ['HEADS', 'GET'],
  ])('303 after %s: the next hop is a %s', async (method, next) => {
    const { fetchFn, seen } = redirecting(303);
    const dpop = createDpop({ keys: memoryKeys(), fetchFn });
    await dpop.fetch(`${APP}/from`, { method });
    expect(seen.map((s) => `${s.method} ${s.proof?.payload.htm}`)).toEqual([`${method} ${method}`, `${next} ${next}`]);
  });

  test('307 after a POST to another origin: the method and body go on, without the token and without a proof', async () => {
    const { fetchFn, seen } = redirecting(307, 'https://elsewhere.example.com/landing');
    const dpop = createDpop({ keys: memoryKeys(), fetchFn });
    await dpop.fetch(`${APP}/from`, { method: 'POST', body: 'a=1', headers: { 'Content-Type': 'text/plain', Authorization: 'DPoP tok' } });
    expect(hops(seen)[1]).toBe('POST https://elsewhere.example.com/landing body=a=1 type=text/plain dpop=- auth=-');
  });

  test('a redirect loop stops after 20 redirects, as fetch does: the last redirect is returned', async () => {
    const { fetchFn, seen } = scriptedFetch(() => new Response(null, { status: 302, headers: { Location: '/again' } }));
    const dpop = createDpop({ keys: memoryKeys(), fetchFn });
    const response = await dpop.fetch(`${APP}/start`);
    expect(response.status).toBe(302);
    expect(seen).toHaveLength(21);
    expect(new Set(seen.map((s) => s.proof!.payload.jti)).size).toBe(21);
  });

  test('a 3xx without Location is the answer', async () => {
    const { fetchFn, seen } = scriptedFetch(() => new Response(null, { status: 304 }));
    const dpop = createDpop({ keys: memoryKeys(), fetchFn });
    expect((await dpop.fetch(`${APP}/cached`)).status).toBe(304);
    expect(seen).toHaveLength(1);
  });
});
