/**
 * A nonce challenge met by the replay that follows a refresh: the replay carries the new token
 * and a proof with the nonce known so far, and the resource server rotated its nonce meanwhile. That
 * challenge says nothing about the new token: it is answered with the nonce, never with a second refresh.
 */
import axios, { type InternalAxiosRequestConfig } from 'axios';
import { createTokenRefresh } from '../../src';
import { attachAxios } from '../../src/adapters/axios';
import { authFetch } from '../../src/adapters/fetch';
import { createDpop, memoryKeys } from '../../src/dpop';
import { createStore } from '../support/harness';
import { sendJson, startScriptedServer, type ScriptedServer } from '../support/dpop/scriptedServer';

let api: ScriptedServer;
beforeAll(async () => {
  api = await startScriptedServer((request, res) => {
    if (request.path.startsWith('/plain/')) return sendJson(res, 200, { path: request.path });
    if (request.authorization !== 'DPoP new-token')
      return sendJson(res, 401, {}, { 'WWW-Authenticate': 'DPoP error="invalid_token"', 'DPoP-Nonce': 'n1' });
    if (request.proof?.payload.nonce !== 'n2')
      return sendJson(res, 401, {}, { 'WWW-Authenticate': 'DPoP error="use_dpop_nonce"', 'DPoP-Nonce': 'n2' });
    sendJson(res, 200, { ok: true });
  });
});
afterAll(() => api.close());
beforeEach(() => api.received.splice(0));

function session() {
  let refreshes = 0;
  const auth = createTokenRefresh({ refresh: async () => (refreshes++, { accessToken: 'new-token', refreshToken: 'rt2' }) });
  createStore(auth);
  auth.setTokens({ accessToken: 'old-token', refreshToken: 'rt1' });
  const dpop = createDpop({ keys: memoryKeys() });
  return { auth, dpop, refreshes: () => refreshes };
}

const sent = () => api.received.map((r) => `${r.authorization} ${r.proof?.payload.nonce ?? '-'}`);
const expected = ['DPoP old-token -', 'DPoP new-token n1', 'DPoP new-token n2'];

test('attachAxios: the replay after a refresh answers its nonce challenge with one retry, and refreshes once', async () => {
  const { auth, dpop, refreshes } = session();
  const instance = axios.create({ baseURL: api.url });
  instance.defaults.adapter = dpop.axiosAdapter(auth, axios.getAdapter(instance.defaults.adapter));
  attachAxios(auth, instance, { allowedOrigins: [api.origin] });
  const response = await instance.get('/items');
  expect(response.status).toBe(200);
  expect(refreshes()).toBe(1);
  expect(sent()).toEqual(expected);
});

test('authFetch: the same', async () => {
  const { auth, dpop, refreshes } = session();
  const apiFetch = authFetch(auth, { allowedOrigins: [api.origin], fetchFn: dpop.resourceFetch(auth) });
  expect((await apiFetch(`${api.url}/items`)).status).toBe(200);
  expect(refreshes()).toBe(1);
  expect(sent()).toEqual(expected);
});

describe('attachAxios: the proof is for the request that leaves', () => {
  function axiosSession(interceptor: Parameters<ReturnType<typeof axios.create>['interceptors']['request']['use']>[0]) {
    const { auth, dpop } = session();
    const instance = axios.create({ baseURL: api.url });
    instance.interceptors.request.use(interceptor); // registered before attachAxios: runs after it
    instance.defaults.adapter = dpop.axiosAdapter(auth, axios.getAdapter(instance.defaults.adapter));
    attachAxios(auth, instance, { allowedOrigins: [api.origin] });
    auth.setTokens({ accessToken: 'new-token', refreshToken: 'rt2' });
    return instance;
  }

  test.each([
    ['moves it to another path', (config: InternalAxiosRequestConfig) => ({ ...config, url: '/plain/elsewhere' }), 'GET /plain/elsewhere'],
    ['changes its method', (config: InternalAxiosRequestConfig) => ({ ...config, method: 'post' }), 'POST /plain/items'],
  ])('an interceptor that %s after attachAxios ran: the proof is for the request as it leaves', async (_, interceptor, leaves) => {
    const instance = axiosSession(interceptor);
    expect((await instance.get('/plain/items')).status).toBe(200);
    const [method, path] = leaves.split(' ');
    expect(api.received.map((r) => `${r.authorization} ${r.proof?.payload.htm} ${r.proof?.payload.htu}`)).toEqual([
      `DPoP new-token ${method} ${api.url}${path}`,
    ]);
  });

  test('an interceptor that leaves method and URL as they were (a header added, the same URL) is sent with its proof', async () => {
    const instance = axiosSession((config) => (config.headers.set('X-Trace', '1'), config));
    const response = await instance.get('/plain/items?page=2');
    expect(response.data).toEqual({ path: '/plain/items?page=2' });
    expect(api.received.map((r) => `${String(r.headers['x-trace'])} ${r.proof?.payload.htm} ${r.proof?.payload.htu}`)).toEqual([
      `1 GET ${api.url}/plain/items`,
    ]);
  });
});
