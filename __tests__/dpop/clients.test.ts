/**
 * DPoP in every client, against real servers: oidc-provider enforcing DPoP with nonces (the token
 * endpoint) and a resource server that verifies every proof (signature, cnf.jkt, htm, htu, iat, jti
 * replay, ath) and rotates its own nonce. Access tokens live 3 s on the servers; the app is told they
 * live an hour, so the first calls after expiry meet the API's 401 `invalid_token`, not a proactive refresh.
 */
import axios from 'axios';
import { createApi, fetchBaseQuery } from '@reduxjs/toolkit/query';
import { JSDOM } from 'jsdom';
import { firstValueFrom, from } from 'rxjs';
import { ajax, type AjaxError } from 'rxjs/ajax';
import { createTokenRefresh, type TokenRefresh } from '../../src';
import { authFetch } from '../../src/adapters/fetch';
import { attachAxios } from '../../src/adapters/axios';
import { authBaseQuery } from '../../src/adapters/rtkQuery';
import { oauth2RefreshGrant } from '../../src/adapters/oauth2';
import { createDpop, memoryKeys, type Dpop } from '../../src/dpop';
import type { Middleware } from '@reduxjs/toolkit';
import { createStore, type StoreOptions, type TestStore } from '../support/harness';
import { generateDpopKeyPair } from '../support/dpop/proof';
import { startDpopServers, type DpopServers } from '../support/dpop/servers';

jest.setTimeout(30_000);

let servers: DpopServers;
beforeAll(async () => {
  servers = await startDpopServers({ accessTokenTtlSeconds: 3, lifetimeSeconds: 150 });
});
afterAll(() => servers?.stop());
const after: Array<() => void> = [];
afterEach(() => after.splice(0).forEach((cleanup) => cleanup()));
beforeEach(() => servers.clearLog());

interface Client {
  get: (store: TestStore) => Promise<number>;
  store?: StoreOptions;
}

/** The app: one DPoP key, a session logged in through the real code flow, the store, and a client. */
async function signIn(make: (auth: TokenRefresh, dpop: Dpop) => Client = () => ({ get: async () => 0 })) {
  const keyPair = await generateDpopKeyPair();
  const keys = memoryKeys();
  await keys.add(keyPair);
  const dpop = createDpop({ keys });
  const login = await servers.login(keyPair);
  const auth = createTokenRefresh({
    refresh: oauth2RefreshGrant({ tokenEndpoint: servers.tokenEndpoint, clientId: servers.clientId, fetchFn: dpop.fetch }),
  });
  const client = make(auth, dpop);
  const store = createStore(auth, client.store);
  auth.setTokens({ accessToken: login.access_token, refreshToken: login.refresh_token, expiresAt: Date.now() + 3_600_000 });
  return { dpop, auth, store, login, jkt: await dpop.thumbprint(), get: () => client.get(store) };
}

/**
 * Waits out the 3 s access token on the servers' clock (a real server's expiry cannot run in virtual
 * time). 3 s, not less: the refreshed token must outlive ten replays on a loaded machine.
 */
const expire = () => new Promise((resolve) => setTimeout(resolve, 3_300));

const clients: Record<string, (auth: TokenRefresh, dpop: Dpop) => Client> = {
  authFetch: (auth, dpop) => {
    const apiFetch = authFetch(auth, { allowedOrigins: [servers.resourceOrigin], fetchFn: dpop.resourceFetch(auth) });
    return { get: async () => (await apiFetch(servers.resourceUrl)).status };
  },
  'authFetch in an epic (auth.authorized)': (auth, dpop) => {
    const apiFetch = authFetch(auth, { allowedOrigins: [servers.resourceOrigin], fetchFn: dpop.resourceFetch(auth) });
    return {
      get: () =>
        new Promise((resolve, reject) => from(apiFetch(servers.resourceUrl)).subscribe({ next: (r) => resolve(r.status), error: reject })),
    };
  },
  'rxjs ajax in an epic (dpop.authorized)': (auth, dpop) => {
    // A browser's XMLHttpRequest (jsdom's, real HTTP with CORS) for rxjs ajax, in this Node test.
    const { window } = new JSDOM('', { url: 'http://localhost/' });
    after.push(() => window.close());
    const url = servers.resourceUrl;
    return {
      get: () =>
        firstValueFrom(
          dpop.authorized(auth, { method: 'GET', url }, (headers) =>
            ajax({ url, headers, crossDomain: true, createXHR: () => new window.XMLHttpRequest() }),
          ),
        ).then(
          (response) => response.status,
          (error: AjaxError) => error.status ?? 0,
        ),
    };
  },
  authBaseQuery: (auth, dpop) => {
    const api = createApi({
      keepUnusedDataFor: 0,
      baseQuery: authBaseQuery(auth, { fetchBaseQuery, baseUrl: servers.resourceOrigin, fetchFn: dpop.resourceFetch(auth) }),
      endpoints: (build) => ({ items: build.query<unknown, number>({ query: () => '/api/items' }) }),
    });
    let n = 0;
    return {
      store: { reducers: { [api.reducerPath]: api.reducer }, middleware: [api.middleware as Middleware] },
      get: async (store) => {
        const result = await store.dispatch(api.endpoints.items.initiate(++n, { subscribe: false }));
        return result.error ? ((result.error as { status: number }).status ?? 0) : 200;
      },
    };
  },
  attachAxios: (auth, dpop) => {
    const instance = axios.create({ baseURL: servers.resourceOrigin });
    instance.defaults.adapter = dpop.axiosAdapter(auth, axios.getAdapter(instance.defaults.adapter));
    attachAxios(auth, instance, { allowedOrigins: [servers.resourceOrigin] });
    return {
      get: () =>
        instance.get('/api/items').then(
          (response) => response.status,
          (error: { response?: { status: number } }) => error.response?.status ?? 0,
        ),
    };
  },
};

describe.each(Object.entries(clients))('DPoP through %s', (_, make) => {
  test('ten calls after the access token expired cause one refresh and all succeed, each attempt with a new jti, never as Bearer, with one key', async () => {
    const { dpop, store, jkt, get } = await signIn(make);
    expect(await get()).toBe(200);
    await expire();
    const statuses = await Promise.all(Array.from({ length: 10 }, () => get()));
    expect(statuses).toEqual(Array(10).fill(200));
    expect(store.types().filter((type) => type === 'refreshSucceeded')).toHaveLength(1);
    expect(store.types()).not.toContain('loggedOut');
    const log = await servers.log();
    expect(log.filter((entry) => entry.outcome === 'invalid_token').length).toBeGreaterThanOrEqual(1);
    expect(log.every((entry) => entry.scheme === 'DPoP')).toBe(true);
    const jtis = log.map((entry) => entry.jti);
    expect(new Set(jtis).size).toBe(jtis.length);
    expect(log.filter((entry) => entry.status === 200).every((entry) => entry.jktOk && entry.athOk)).toBe(true);
    expect(await dpop.thumbprint()).toBe(jkt);
  });

  test("the resource server's nonce rotating in the middle of a burst costs each call at most one retry, and no refresh", async () => {
    const { store, get } = await signIn(make);
    expect(await get()).toBe(200);
    await servers.clearLog();
    const burst = Array.from({ length: 10 }, (_, i) => (i === 5 ? servers.rotateNonce().then(get) : get()));
    expect(await Promise.all(burst)).toEqual(Array(10).fill(200));
    const log = await servers.log();
    expect(log.length).toBeLessThanOrEqual(20);
    expect(log.filter((entry) => entry.outcome === 'use_dpop_nonce').length).toBeGreaterThanOrEqual(1);
    expect(store.types()).not.toContain('refreshRequested');
  });
});

describe('DPoP sessions', () => {
  test("the token endpoint's nonce challenge is passed without losing the session or spending the refresh token", async () => {
    const { auth, store, login } = await signIn();
    await auth.refresh(); // the first refresh meets 400 use_dpop_nonce: this client has not talked to the server yet
    expect(store.state.status).toBe('authenticated');
    await auth.refresh(); // the rotated refresh token still works: the challenge spent nothing
    expect(store.types().filter((type) => type === 'refreshSucceeded')).toHaveLength(2);
    expect(auth.getAccessToken()).not.toBe(login.access_token);
  });

  test("the access token replayed without a proof, as a thief would, is refused; with the thief's own key too", async () => {
    const { auth } = await signIn();
    const token = auth.getAccessToken()!;
    expect((await fetch(servers.resourceUrl, { headers: { Authorization: `Bearer ${token}` } })).status).toBe(401);
    expect((await fetch(servers.resourceUrl, { headers: { Authorization: `DPoP ${token}` } })).status).toBe(401);
    const thief = createDpop({ keys: memoryKeys() });
    const stolen = await thief.fetch(servers.resourceUrl, { headers: { Authorization: `DPoP ${token}` } });
    expect(stolen.status).toBe(401);
    expect(stolen.headers.get('www-authenticate')).toMatch(/invalid_dpop_proof/);
  });

  test('the refreshed token stays bound to the same key (cnf.jkt)', async () => {
    const { auth, jkt } = await signIn();
    await auth.refresh();
    const claims = JSON.parse(Buffer.from(auth.getAccessToken()!.split('.')[1]!, 'base64url').toString()) as { cnf: { jkt: string } };
    expect(claims.cnf.jkt).toBe(jkt);
  });

  test("a client whose clock is 7 minutes behind still works: it learns the servers' clock from their Date header", async () => {
    const keyPair = await generateDpopKeyPair();
    const keys = memoryKeys();
    await keys.add(keyPair);
    const dpop = createDpop({ keys, now: () => Date.now() - 7 * 60_000 });
    const login = await servers.login(keyPair);
    const auth = createTokenRefresh({
      refresh: oauth2RefreshGrant({ tokenEndpoint: servers.tokenEndpoint, clientId: servers.clientId, fetchFn: dpop.fetch }),
    });
    createStore(auth);
    auth.setTokens({ accessToken: login.access_token, refreshToken: login.refresh_token, expiresAt: Date.now() + 3_600_000 });
    const apiFetch = authFetch(auth, { allowedOrigins: [servers.resourceOrigin], fetchFn: dpop.resourceFetch(auth) });
    expect((await apiFetch(servers.resourceUrl)).status).toBe(200);
    expect((await apiFetch(servers.resourceUrl)).status).toBe(200);
    await auth.refresh();
    expect((await apiFetch(servers.resourceUrl)).status).toBe(200);
  });

  test('a refresh signed with another key is refused: the session ends, it is not used as Bearer', async () => {
    const { auth, dpop, store } = await signIn();
    await dpop.clear(); // the key is gone (another app wiped IndexedDB): the next proof has a new key
    await expect(auth.refresh()).rejects.toMatchObject({ name: 'TokenRefreshError' });
    expect(store.state.status).toBe('unauthenticated');
  });

  test('the key the test logged in with is the one the server bound', async () => {
    const { login, jkt } = await signIn();
    const claims = JSON.parse(Buffer.from(login.access_token.split('.')[1]!, 'base64url').toString()) as { cnf: { jkt: string } };
    expect(claims.cnf.jkt).toBe(jkt);
  });
});
