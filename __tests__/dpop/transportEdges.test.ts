/**
 * The DPoP transports at their edges: answers whose Content-Type says nothing, credentials of the
 * app's own that are not the session's token, axios settling 4xx as answers, key stores that fail,
 * redirects to other origins, streams, clocks, and the count of invalid_dpop_proof.
 */
import axios from 'axios';
import { Readable } from 'node:stream';
import { finalize, lastValueFrom, of, throwError } from 'rxjs';
import { createTokenRefresh, isSessionEnded } from '../../src';
import { attachAxios } from '../../src/adapters/axios';
import { authFetch } from '../../src/adapters/fetch';
import { oauth2RefreshGrant } from '../../src/adapters/oauth2';
import { createDpop, DpopError, memoryKeys, type AxiosConfigLike, type DpopKeyStore } from '../../src/dpop';
import { createStore } from '../support/harness';
import { sendJson, startScriptedServer, type ScriptedServer } from '../support/dpop/scriptedServer';
import { json, scriptedFetch } from './support';

const TOKEN_ENDPOINT = 'https://auth.example.com/token';
/** The session whose token the transports send as DPoP (`auth` in an app). */
const session = { getAccessToken: () => 'tok' };
const API = 'https://api.example.com';

/** A JSON text whose answer says nothing (or not "JSON") in Content-Type, as some proxies and servers send it. */
const untyped = (status: number, body: unknown, contentType?: string, headers: Record<string, string> = {}) =>
  new Response(new TextEncoder().encode(JSON.stringify(body)), {
    status,
    headers: { ...(contentType ? { 'content-type': contentType } : {}), ...headers },
  });

describe('dpop.fetch reads a token answer whatever its Content-Type says, as oauth2RefreshGrant does', () => {
  const refreshThrough = (answer: () => Response) => {
    const { fetchFn, seen } = scriptedFetch(answer);
    const dpop = createDpop({ keys: memoryKeys(), fetchFn });
    const refresh = oauth2RefreshGrant({ tokenEndpoint: TOKEN_ENDPOINT, clientId: 'spa', fetchFn: dpop.fetch });
    return { call: () => refresh('rt', { signal: new AbortController().signal }), seen };
  };

  test.each([
    ['no Content-Type', undefined],
    ['text/plain', 'text/plain'],
  ])('a Bearer token answer with %s is never used (DPOP_NOT_BOUND)', async (_, contentType) => {
    const { call } = refreshThrough(() =>
      untyped(200, { access_token: 'unbound', token_type: 'Bearer', refresh_token: 'rt2' }, contentType),
    );
    await expect(call()).rejects.toMatchObject({ name: 'DpopError', code: 'DPOP_NOT_BOUND' });
  });

  test.each([
    ['use_dpop_nonce', { 'dpop-nonce': 'n1' }],
    ['invalid_dpop_proof', {}],
  ])('a 400 %s without a JSON Content-Type does not end the session', async (code, headers) => {
    const { call } = refreshThrough(() => untyped(400, { error: code }, 'text/plain', headers));
    const error = await call().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DpopError);
    expect(isSessionEnded(error)).toBe(false);
  });
});

describe("dpop.resourceFetch signs the session's token only, not the app's own credentials that authFetch sends as written", () => {
  const session = () => {
    const auth = createTokenRefresh({ refresh: async () => ({ accessToken: 'fresh' }) });
    createStore(auth);
    auth.setTokens({ accessToken: 'session-token', refreshToken: 'rt' });
    const { fetchFn, seen } = scriptedFetch(() => json(200, {}));
    const apiFetch = authFetch(auth, { allowedOrigins: [API], fetchFn: createDpop({ keys: memoryKeys(), fetchFn }).resourceFetch(auth) });
    return { apiFetch, seen };
  };

  test('a request to another origin with its own Bearer key goes untouched: no proof, no public key, Bearer kept', async () => {
    const { apiFetch, seen } = session();
    await apiFetch('https://partner.example.com/v1/charges', { headers: { Authorization: 'Bearer partner-api-key' } });
    expect(seen[0]).toMatchObject({ authorization: 'Bearer partner-api-key', raw: null });
  });

  test('skipAuthRefresh: true with its own Bearer goes as written', async () => {
    const { apiFetch, seen } = session();
    await apiFetch(`${API}/service`, { headers: { Authorization: 'Bearer service-key' }, skipAuthRefresh: true });
    expect(seen[0]).toMatchObject({ authorization: 'Bearer service-key', raw: null });
  });
});

describe('dpop.axiosAdapter and an axios instance whose validateStatus accepts 4xx', () => {
  let server: ScriptedServer;
  beforeAll(async () => {
    server = await startScriptedServer((request, res) =>
      request.proof?.payload.nonce === 'n1'
        ? sendJson(res, 200, { ok: true })
        : sendJson(res, 401, {}, { 'WWW-Authenticate': 'DPoP error="use_dpop_nonce"', 'DPoP-Nonce': 'n1' }),
    );
  });
  afterAll(() => server.close());

  test("the API's nonce challenge is answered inside the request, as with the default validateStatus", async () => {
    const dpop = createDpop({ keys: memoryKeys() });
    const http = axios.create({ validateStatus: (status) => status < 500, adapter: dpop.axiosAdapter(session, axios.getAdapter('http')) });
    const response = await http.get(`${server.url}/items`, { headers: { Authorization: 'Bearer tok' } });
    expect(response.status).toBe(200);
    expect(server.received).toHaveLength(2);
  });

  test('a 4xx that axios resolves does not reset the invalid_dpop_proof count (docs: "answered 2xx")', async () => {
    const { fetchFn } = scriptedFetch(() => json(400, { error: 'invalid_dpop_proof' }));
    const dpop = createDpop({ keys: memoryKeys(), fetchFn });
    const outcome = () =>
      dpop.fetch(TOKEN_ENDPOINT, { method: 'POST', body: 'grant_type=refresh_token&refresh_token=rt' }).then(
        (response) => String(response.status),
        (error: DpopError) => error.code,
      );
    expect([await outcome(), await outcome()]).toEqual(['DPOP_PROOF', 'DPOP_PROOF']);
    const notFound = async (_config: AxiosConfigLike) => ({ status: 404, headers: {} }); // what axios' adapter resolves with validateStatus: () => true
    await dpop.axiosAdapter(
      session,
      notFound,
    )({
      url: `${API}/missing`,
      headers: { get: () => 'Bearer tok', set: () => undefined, delete: () => undefined },
    });
    expect(await outcome()).toBe('400');
  });
});

describe('a key store that fails under dpop.axiosAdapter: attachAxios settles the call (it finds it by error.config)', () => {
  let server: ScriptedServer;
  beforeAll(async () => (server = await startScriptedServer((_, res) => sendJson(res, 200, {}))));
  afterAll(() => server.close());

  test.each([
    ['a DpopError (DPOP_KEY_STORAGE)', () => new DpopError('DPOP_KEY_STORAGE', () => 'no storage')],
    ["a key store's own error (a native keystore, IndexedDB's InvalidStateError)", () => new Error('keystore locked')],
  ])('a key store that fails with %s: the request rejects and its auth.authorized call ends', async (_, failure) => {
    const auth = createTokenRefresh({ refresh: async () => ({ accessToken: 'fresh' }) });
    createStore(auth);
    auth.setTokens({ accessToken: 'tok', refreshToken: 'rt' });
    let open = 0;
    const counted = {
      ...auth,
      authorized: ((request, options) => {
        open++;
        return auth.authorized(request, options).pipe(finalize(() => open--));
      }) as typeof auth.authorized,
    };
    const keys: DpopKeyStore = { get: () => Promise.reject(failure()), add: async (pair) => pair, delete: async () => undefined };
    const dpop = createDpop({ keys });
    const http = axios.create({ adapter: dpop.axiosAdapter(session, axios.getAdapter('http')) });
    attachAxios(counted, http, { allowedOrigins: [server.origin] });
    await expect(http.get(`${server.url}/items`)).rejects.toBeDefined();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(server.received).toHaveLength(0);
    expect(open).toBe(0);
  });
});

describe('what leaves on a redirect to another origin (Node)', () => {
  let elsewhere: ScriptedServer;
  let api: ScriptedServer;
  beforeAll(async () => {
    elsewhere = await startScriptedServer((_, res) => sendJson(res, 200, { elsewhere: true }));
    api = await startScriptedServer((_, res) => res.writeHead(307, { Location: `${elsewhere.url}/landing` }).end());
  });
  afterAll(async () => {
    await elsewhere.close();
    await api.close();
  });
  beforeEach(() => elsewhere.received.splice(0));

  test("dpop.resourceFetch drops Cookie and Proxy-Authorization there, as Node's fetch does", async () => {
    const headers = { Cookie: 'sid=secret-session', 'Proxy-Authorization': 'Basic cHJveHk6cHc=' };
    await fetch(`${api.url}/moved`, { headers }); // Node's own redirect handling, for comparison
    expect(elsewhere.received[0]!.headers).not.toHaveProperty('cookie');
    expect(elsewhere.received[0]!.headers).not.toHaveProperty('proxy-authorization');
    elsewhere.received.splice(0);
    const dpop = createDpop({ keys: memoryKeys() });
    await dpop.resourceFetch(session)(`${api.url}/moved`, { headers: { ...headers, Authorization: 'Bearer tok' } });
    expect(elsewhere.received[0]!.authorization).toBeUndefined();
    expect(elsewhere.received[0]!.headers).not.toHaveProperty('cookie');
    expect(elsewhere.received[0]!.headers).not.toHaveProperty('proxy-authorization');
  });

  test('dpop.axiosAdapter (axios http adapter) takes no proof, so no public key, there', async () => {
    const dpop = createDpop({ keys: memoryKeys() });
    const http = axios.create({ adapter: dpop.axiosAdapter(session, axios.getAdapter('http')) });
    await http.get(`${api.url}/moved`, { headers: { Authorization: 'Bearer tok' } });
    expect(elsewhere.received[0]!.authorization).toBeUndefined(); // follow-redirects drops it
    expect(elsewhere.received[0]!.dpop).toBeUndefined();
  });
});

describe("dpop.axiosAdapter's URL and axios' buildFullPath", () => {
  test('a baseURL with several trailing slashes: the proof is for the URL axios calls', async () => {
    let htu: string | undefined;
    const adapter = async (config: AxiosConfigLike) => {
      htu = (JSON.parse(Buffer.from(String(config.headers.get('dpop')).split('.')[1]!, 'base64url').toString()) as { htu: string }).htu;
      return { status: 200, headers: {} };
    };
    const headers = new Map<string, string>([['authorization', 'Bearer tok']]);
    await createDpop({ keys: memoryKeys() }).axiosAdapter(
      session,
      adapter,
    )({
      baseURL: 'https://api.example.com/v1///',
      url: 'items',
      headers: {
        get: (n) => headers.get(n.toLowerCase()),
        set: (n, v) => headers.set(n.toLowerCase(), v),
        delete: (n) => headers.delete(n),
      },
    });
    // axios' combineURLs strips every trailing slash: it calls https://api.example.com/v1/items.
    expect(htu).toBe('https://api.example.com/v1/items');
  });
});

describe('dpop.axiosAdapter and a nonce challenge to a request whose body can be sent once', () => {
  test('a stream body is not sent again empty: the retry is skipped (DPOP_NONCE) or the request rejects', async () => {
    const server = await startScriptedServer((request, res) =>
      request.proof?.payload.nonce === 'n1'
        ? sendJson(res, 200, { received: request.body })
        : sendJson(res, 401, {}, { 'WWW-Authenticate': 'DPoP error="use_dpop_nonce"', 'DPoP-Nonce': 'n1' }),
    );
    try {
      const dpop = createDpop({ keys: memoryKeys() });
      const http = axios.create({ adapter: dpop.axiosAdapter(session, axios.getAdapter('http')) });
      const upload = http.post(`${server.url}/upload`, Readable.from(['the file']), {
        headers: { Authorization: 'Bearer tok', 'Content-Type': 'application/octet-stream' },
      });
      const outcome = await upload.then(
        (response) => response.data as { received: string },
        (error: Error) => error,
      );
      expect(server.received.map((r) => r.body)).not.toContain('');
      if (!(outcome instanceof Error)) expect(outcome.received).toBe('the file');
    } finally {
      await server.close();
    }
  });
});

describe('dpop.authorized and a proof refused for its iat (invalid_dpop_proof with a far Date)', () => {
  test('is retried once on the server clock, as the docs say of every transport: no refresh', async () => {
    let refreshes = 0;
    const auth = createTokenRefresh({ refresh: async () => (refreshes++, { accessToken: 'fresh', refreshToken: 'rt2' }) });
    createStore(auth);
    auth.setTokens({ accessToken: 'the-token', refreshToken: 'rt' });
    const dpop = createDpop({ keys: memoryKeys() });
    const refused = Object.assign(new Error('ajax error'), {
      name: 'AjaxError',
      status: 401,
      response: null,
      xhr: {
        getResponseHeader: (name: string) =>
          ({ 'www-authenticate': 'DPoP error="invalid_dpop_proof"', date: new Date(Date.now() + 10 * 60_000).toUTCString() })[name] ?? null,
      },
    });
    let attempts = 0;
    const answer = await lastValueFrom(
      dpop.authorized(auth, { method: 'GET', url: `${API}/items` }, () => (++attempts === 1 ? throwError(() => refused) : of('ok'))),
    );
    expect(answer).toBe('ok');
    expect(refreshes).toBe(0);
  });
});

describe('the invalid_dpop_proof count and 2xx answers of other servers', () => {
  test("a public API endpoint's 2xx between refreshes does not keep a dead refresh token alive forever", async () => {
    const grant = { method: 'POST', body: 'grant_type=refresh_token&refresh_token=rt' };
    const { fetchFn } = scriptedFetch((seen) =>
      seen.url.startsWith(TOKEN_ENDPOINT) ? json(400, { error: 'invalid_dpop_proof' }) : json(200, { public: true }),
    );
    const dpop = createDpop({ keys: memoryKeys(), fetchFn });
    const outcomes: string[] = [];
    for (let i = 0; i < 4; i++) {
      outcomes.push(
        await dpop.fetch(TOKEN_ENDPOINT, grant).then(
          (r) => String(r.status),
          (e: DpopError) => e.code,
        ),
      );
      // The app polls a public endpoint (it ignores the token) through authFetch between refreshes.
      await dpop.resourceFetch(session)(`${API}/public/status`, { headers: { Authorization: 'Bearer tok' } });
    }
    expect(outcomes).toContain('400');
  });
});
