import { Subject, toArray, firstValueFrom } from 'rxjs';
import { createDpop, DpopError, memoryKeys, type DpopKeyStore } from '../../src/dpop';
import { createTokenRefresh } from '../../src';
import { athOf, decodeProof, json, scriptedFetch, thumbprint, verifyProof } from './support';

const API = 'https://api.example.com';

describe('a proof per request (RFC 9449 §4)', () => {
  test('has typ dpop+jwt, ES256, the public key without private members, htm, htu without query or fragment, iat and a fresh jti', async () => {
    const now = Date.UTC(2026, 11, 2, 12, 0, 0);
    const dpop = createDpop({ keys: memoryKeys(), now: () => now });
    const one = await dpop.proof('get', `${API}/items?page=2#top`);
    const two = await dpop.proof('GET', `${API}/items?page=2#top`);
    const { header, payload } = decodeProof(one);
    expect(header).toEqual({
      typ: 'dpop+jwt',
      alg: 'ES256',
      jwk: { kty: 'EC', crv: 'P-256', x: expect.any(String), y: expect.any(String) },
    });
    expect(payload).toEqual({ jti: expect.any(String), htm: 'GET', htu: `${API}/items`, iat: now / 1000 });
    expect(decodeProof(two).payload.jti).not.toBe(payload.jti);
    await expect(verifyProof(one)).resolves.toBe(true);
    await expect(verifyProof(two)).resolves.toBe(true);
  });

  test('carries ath, the SHA-256 of the access token, when it goes with one', async () => {
    const dpop = createDpop({ keys: memoryKeys() });
    const { payload } = decodeProof(await dpop.proof('POST', `${API}/items`, 'the-access-token'));
    expect(payload.ath).toBe(await athOf('the-access-token'));
  });

  test('one key for every proof, whose thumbprint is what the server binds (cnf.jkt)', async () => {
    const dpop = createDpop({ keys: memoryKeys() });
    const keys = new Set<string>();
    for (let i = 0; i < 3; i++) keys.add(await thumbprint(decodeProof(await dpop.proof('GET', `${API}/x`)).header.jwk));
    expect([...keys]).toEqual([await dpop.thumbprint()]);
  });

  test('the private key cannot be exported', async () => {
    const stored: CryptoKeyPair[] = [];
    const keys: DpopKeyStore = { ...memoryKeys(), add: async (pair) => (stored.push(pair), pair), get: async () => stored[0] };
    await createDpop({ keys }).ready();
    expect(stored[0]!.privateKey.extractable).toBe(false);
    await expect(crypto.subtle.exportKey('jwk', stored[0]!.privateKey)).rejects.toThrow();
  });

  test('clear() deletes the key: the next proof is made with a new one', async () => {
    const dpop = createDpop({ keys: memoryKeys() });
    const before = await dpop.thumbprint();
    await dpop.clear();
    expect(await dpop.thumbprint()).not.toBe(before);
  });

  test('dated on the server clock learned from its Date header, per server', async () => {
    let now = Date.UTC(2026, 11, 2, 12, 0, 0);
    const dpop = createDpop({ keys: memoryKeys(), now: () => now });
    // This machine is 7 minutes behind the API's clock.
    dpop.learn(`${API}/items`, new Headers({ date: new Date(now + 7 * 60_000).toUTCString() }));
    now += 1_000;
    expect(decodeProof(await dpop.proof('GET', `${API}/items`)).payload.iat).toBe((now + 7 * 60_000) / 1000);
    expect(decodeProof(await dpop.proof('GET', 'https://auth.example.com/token')).payload.iat).toBe(now / 1000);
  });
});

describe('nonces (RFC 9449 §8, §9)', () => {
  test('learned per server from any answer, a 200 included, and sent only to that server', async () => {
    const dpop = createDpop({ keys: memoryKeys() });
    dpop.learn(`${API}/items`, new Headers({ 'DPoP-Nonce': 'api-nonce' }));
    dpop.learn('https://auth.example.com/token', { 'dpop-nonce': 'as-nonce' }); // axios' plain headers
    expect(decodeProof(await dpop.proof('GET', `${API}/other`)).payload.nonce).toBe('api-nonce');
    expect(decodeProof(await dpop.proof('POST', 'https://auth.example.com/token')).payload.nonce).toBe('as-nonce');
    expect(decodeProof(await dpop.proof('GET', 'https://files.example.com/a')).payload.nonce).toBeUndefined();
  });

  test('a nonce that is not 1*NQCHAR is not kept, so it is never echoed', async () => {
    const dpop = createDpop({ keys: memoryKeys() });
    dpop.learn(API, new Headers({ 'DPoP-Nonce': 'good' }));
    dpop.learn(API, { 'dpop-nonce': 'has "quotes" and spaces' });
    expect(decodeProof(await dpop.proof('GET', API)).payload.nonce).toBe('good');
  });

  test("an API's 401 use_dpop_nonce is retried once, with the nonce and a new proof", async () => {
    const { fetchFn, seen } = scriptedFetch((request) =>
      request.proof?.payload.nonce === 'n1'
        ? json(200, { ok: true })
        : json(401, {}, { 'www-authenticate': 'DPoP error="use_dpop_nonce", error_description="nonce required"', 'dpop-nonce': 'n1' }),
    );
    const dpop = createDpop({ keys: memoryKeys(), fetchFn });
    const response = await dpop.fetch(`${API}/items`, { headers: { Authorization: 'DPoP tok' } });
    expect(response.status).toBe(200);
    expect(seen.map((s) => s.proof?.payload.nonce)).toEqual([undefined, 'n1']);
    expect(seen[0]!.proof!.payload.jti).not.toBe(seen[1]!.proof!.payload.jti);
    expect(seen.map((s) => s.proof?.payload.ath)).toEqual([await athOf('tok'), await athOf('tok')]);
  });

  test("a token endpoint's 400 use_dpop_nonce is retried once with the same body", async () => {
    const { fetchFn, seen } = scriptedFetch((request) =>
      request.proof?.payload.nonce === 'as1'
        ? json(200, { access_token: 'a' })
        : json(400, { error: 'use_dpop_nonce' }, { 'DPoP-Nonce': 'as1' }),
    );
    const dpop = createDpop({ keys: memoryKeys(), fetchFn });
    const response = await dpop.fetch('https://auth.example.com/token', {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'rt' }),
    });
    expect(response.status).toBe(200);
    expect(seen.map((s) => s.body)).toEqual(['grant_type=refresh_token&refresh_token=rt', 'grant_type=refresh_token&refresh_token=rt']);
    expect(seen.map((s) => s.proof?.payload.ath)).toEqual([undefined, undefined]);
  });

  test('a server that keeps challenging gets one retry, not a loop, and its answer is returned', async () => {
    let n = 0;
    const { fetchFn, seen } = scriptedFetch(() =>
      json(401, {}, { 'www-authenticate': 'DPoP error="use_dpop_nonce"', 'dpop-nonce': `n${++n}` }),
    );
    const dpop = createDpop({ keys: memoryKeys(), fetchFn });
    expect((await dpop.fetch(`${API}/items`)).status).toBe(401);
    expect(seen).toHaveLength(2);
  });

  test('a challenge is retried even when another request learned the same nonce first', async () => {
    // Two requests leave with the old nonce; the first answer teaches the new one before the second arrives.
    const gates: Array<() => void> = [];
    const { fetchFn, seen } = scriptedFetch((request) =>
      request.proof?.payload.nonce === 'new'
        ? json(200, {})
        : json(401, {}, { 'www-authenticate': 'DPoP error="use_dpop_nonce"', 'dpop-nonce': 'new' }),
    );
    const gated = (input: RequestInfo | URL, init?: RequestInit) =>
      fetchFn(input, init).then((r) => new Promise<Response>((resolve) => gates.push(() => resolve(r))));
    const dpop = createDpop({ keys: memoryKeys(), fetchFn: gated });
    dpop.learn(API, new Headers({ 'DPoP-Nonce': 'old' }));
    const a = dpop.fetch(`${API}/a`);
    const b = dpop.fetch(`${API}/b`);
    while (gates.length < 2) await new Promise((r) => setImmediate(r));
    gates.splice(0).forEach((open) => open());
    while (gates.length < 2) await new Promise((r) => setImmediate(r));
    gates.splice(0).forEach((open) => open());
    expect([(await a).status, (await b).status]).toEqual([200, 200]);
    expect(seen.map((s) => s.proof?.payload.nonce)).toEqual(['old', 'old', 'new', 'new']);
  });

  test('a proof refused for its iat by a server whose clock was just learned is retried once on that clock', async () => {
    const now = Date.UTC(2026, 11, 2, 12, 0, 0);
    const serverNow = now + 10 * 60_000;
    const { fetchFn, seen } = scriptedFetch((request) =>
      Math.abs(request.proof!.payload.iat * 1000 - serverNow) < 60_000
        ? json(200, {}, { date: new Date(serverNow).toUTCString() })
        : json(401, {}, { 'www-authenticate': 'DPoP error="invalid_dpop_proof"', date: new Date(serverNow).toUTCString() }),
    );
    const dpop = createDpop({ keys: memoryKeys(), fetchFn, now: () => now });
    expect((await dpop.fetch(`${API}/items`)).status).toBe(200);
    expect((await dpop.fetch(`${API}/items`)).status).toBe(200);
    expect(seen).toHaveLength(3);
  });
});

describe('the key and the session', () => {
  const loggedOut = (payload?: unknown) => ({ type: 'tokenRefresh/loggedOut', payload });

  async function keyAfter(actions: unknown[]) {
    const auth = createTokenRefresh({ refresh: async () => ({ accessToken: 'x' }) });
    const deleted: number[] = [];
    const keys: DpopKeyStore = { ...memoryKeys(), delete: async () => void deleted.push(1) };
    const dpop = createDpop({ keys });
    const action$ = new Subject<unknown>();
    const done = firstValueFrom(dpop.epic(auth)(action$).pipe(toArray()));
    for (const action of actions) action$.next(action);
    action$.complete();
    expect(await done).toEqual([]); // the epic emits nothing
    await new Promise((resolve) => setImmediate(resolve));
    return deleted.length;
  }

  test.each([
    ['a logout', 1, loggedOut({ reason: 'logout', elsewhere: false })],
    ['loggedOut() dispatched by the app', 1, loggedOut()],
    ['a refused refresh', 1, loggedOut({ reason: 'rejected', elsewhere: false })],
    ['a broken refresh', 1, loggedOut({ reason: 'refreshError', elsewhere: false })],
    ['storage cleared by other code', 1, loggedOut({ reason: 'storageCleared', elsewhere: false })],
    ['another user logging in (made with this key)', 0, loggedOut({ reason: 'otherUser', elsewhere: false })],
    ['no session at page load', 0, loggedOut({ reason: 'noSession', elsewhere: false })],
    ['an end in another tab (that tab deletes the shared key)', 0, loggedOut({ reason: 'logout', elsewhere: true })],
    ["another auth's logout", 0, { type: 'other/loggedOut', payload: { reason: 'logout', elsewhere: false } }],
  ])('after %s, dpop.epic(auth) deletes the key %i time(s)', async (_, times, action) => {
    expect(await keyAfter([action])).toBe(times);
  });

  test('a proof asked for right after a logout is made with the new key, not the deleted one', async () => {
    const dpop = createDpop({ keys: memoryKeys() });
    const before = await dpop.thumbprint();
    void dpop.clear();
    const after = await dpop.thumbprint();
    expect(after).not.toBe(before);
    expect(await dpop.thumbprint()).toBe(after);
  });

  test('a key store that fails rejects the proof with its error; nothing is sent', async () => {
    const broken = new DpopError('DPOP_KEY_STORAGE', () => 'no IndexedDB here');
    const keys: DpopKeyStore = { get: () => Promise.reject(broken), add: () => Promise.reject(broken), delete: async () => {} };
    const { fetchFn, seen } = scriptedFetch(() => json(200, {}));
    const dpop = createDpop({ keys, fetchFn });
    await expect(dpop.ready()).rejects.toBe(broken);
    await expect(dpop.fetch(`${API}/items`)).rejects.toBe(broken);
    expect(seen).toHaveLength(0);
  });

  test('in a browser without IndexedDB createDpop throws DpopError DPOP_KEY_STORAGE at setup', () => {
    const globals = globalThis as Record<string, unknown>;
    globals.window = globalThis;
    globals.document = {};
    try {
      expect(() => createDpop()).toThrow(expect.objectContaining({ name: 'DpopError', code: 'DPOP_KEY_STORAGE' }));
      expect(() => createDpop({ keys: memoryKeys() })).not.toThrow();
    } finally {
      delete globals.window;
      delete globals.document;
    }
  });
});
