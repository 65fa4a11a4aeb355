import { Subject, toArray, firstValueFrom, lastValueFrom, of, throwError, type ObservableInput } from 'rxjs';
import { createDpop, DpopError, memoryKeys, type DpopKeyStore } from '../../src/dpop';
import { createTokenRefresh } from '../../src';
import { athOf, decodeProof, json, scriptedFetch, thumbprint, verifyProof } from './support';
import { createStore } from '../support/harness';

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
        ? json(200, { access_token: 'a', token_type: 'DPoP' })
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

  let n = 0; // a new nonce in every challenge
  test.each([
    ['an API (401)', () => json(401, {}, { 'www-authenticate': 'DPoP error="use_dpop_nonce"', 'dpop-nonce': `n${++n}` })],
    ['a token endpoint (400)', () => json(400, { error: 'use_dpop_nonce' }, { 'dpop-nonce': `n${++n}` })],
  ])('%s that keeps challenging gets one retry, not a loop, then DpopError DPOP_NONCE', async (_, answer) => {
    const { fetchFn, seen } = scriptedFetch(answer);
    const dpop = createDpop({ keys: memoryKeys(), fetchFn });
    await expect(dpop.fetch(`${API}/token`, { method: 'POST', body: 'grant_type=refresh_token' })).rejects.toMatchObject({
      name: 'DpopError',
      code: 'DPOP_NONCE',
    });
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

  test('a key store that fails to delete does not stop dpop.epic(auth): the next logout deletes again', async () => {
    const auth = createTokenRefresh({ refresh: async () => ({ accessToken: 'x' }) });
    let attempts = 0;
    const keys: DpopKeyStore = { ...memoryKeys(), delete: () => (attempts++, Promise.reject(new Error('IndexedDB refused'))) };
    const action$ = new Subject<unknown>();
    const done = firstValueFrom(createDpop({ keys }).epic(auth)(action$).pipe(toArray()));
    action$.next(loggedOut({ reason: 'logout', elsewhere: false }));
    while (attempts < 1) await new Promise((resolve) => setImmediate(resolve));
    action$.next(loggedOut({ reason: 'rejected', elsewhere: false }));
    action$.complete();
    await expect(done).resolves.toEqual([]);
    expect(attempts).toBe(2);
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

describe('what dpop.fetch sends', () => {
  test('a proof in the compact JWS form: three base64url parts, no padding', async () => {
    const dpop = createDpop({ keys: memoryKeys() });
    for (let i = 0; i < 5; i++) {
      const proof = await dpop.proof('GET', `${API}/items`, `token-${i}`);
      expect(proof).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
      const { payload } = decodeProof(proof);
      expect(payload.jti).toMatch(/^[\w-]{22}$/); // 128 bits
      expect(payload.ath).toMatch(/^[\w-]{43}$/); // SHA-256
    }
  });

  test.each([
    ['a string', (url: string): RequestInfo | URL => url],
    ['a URL', (url: string): RequestInfo | URL => new URL(url)],
    ['a Request', (url: string): RequestInfo | URL => new Request(url)],
  ])('called with %s and no init: a GET proof for that URL', async (_, input) => {
    const { fetchFn, seen } = scriptedFetch(() => json(200, {}));
    const dpop = createDpop({ keys: memoryKeys(), fetchFn });
    expect((await dpop.fetch(input(`${API}/items?page=1`))).status).toBe(200);
    expect(seen.map((s) => `${s.method} ${s.proof?.payload.htm} ${s.proof?.payload.htu} ${s.url}`)).toEqual([
      `GET GET ${API}/items ${API}/items?page=1`,
    ]);
  });

  test.each([
    ['DPoP tok', 'tok'],
    ['dpop   tok', 'tok'],
    ['Bearer tok', 'tok'],
    ['bearer\ttok', 'tok'],
    ['DPoP tok extra', undefined],
    ['NotDPoP tok', undefined],
    ['Basic YXBwOnNlY3JldA==', undefined],
  ])('Authorization %p: the proof is bound (ath) to %p, and the token goes as DPoP', async (authorization, token) => {
    const { fetchFn, seen } = scriptedFetch(() => json(200, {}));
    const dpop = createDpop({ keys: memoryKeys(), fetchFn });
    await dpop.fetch(`${API}/items`, { headers: { Authorization: authorization } });
    expect(seen[0]!.proof!.payload.ath).toBe(token === undefined ? undefined : await athOf(token));
    expect(seen[0]!.authorization).toBe(token === undefined ? authorization : `DPoP ${token}`);
  });

  test('a Request with a body, challenged for a nonce, is sent twice with its body', async () => {
    const { fetchFn, seen } = scriptedFetch((request) =>
      request.proof?.payload.nonce === 'n1' ? json(201, {}) : json(400, { error: 'use_dpop_nonce' }, { 'DPoP-Nonce': 'n1' }),
    );
    const dpop = createDpop({ keys: memoryKeys(), fetchFn });
    const response = await dpop.fetch(new Request(`${API}/items`, { method: 'POST', body: 'the body' }));
    expect(response.status).toBe(201);
    expect(seen.map((s) => `${s.method} ${s.body} ${s.proof?.payload.nonce}`)).toEqual(['POST the body undefined', 'POST the body n1']);
  });

  test('a challenge without a body is retried too', async () => {
    const { fetchFn, seen } = scriptedFetch((request) =>
      request.proof?.payload.nonce === 'n1'
        ? new Response(null, { status: 204 })
        : new Response(null, { status: 401, headers: { 'WWW-Authenticate': 'DPoP error="use_dpop_nonce"', 'DPoP-Nonce': 'n1' } }),
    );
    const dpop = createDpop({ keys: memoryKeys(), fetchFn });
    expect((await dpop.fetch(`${API}/items`)).status).toBe(204);
    expect(seen).toHaveLength(2);
  });

  test.each([
    ['a 200 that brings a new nonce', json(200, {}, { 'DPoP-Nonce': 'n1' })],
    [
      'a 401 invalid_token that brings a new nonce (a refresh answers it, not a retry)',
      json(401, {}, { 'WWW-Authenticate': 'DPoP error="invalid_token"', 'DPoP-Nonce': 'n1' }),
    ],
    ['a 400 invalid_grant that brings a new nonce', json(400, { error: 'invalid_grant' }, { 'DPoP-Nonce': 'n1' })],
    ['a 200 that shows another clock', json(200, {}, { date: new Date(Date.now() + 3_600_000).toUTCString() })],
  ])('%s is returned as it is: sent once', async (_, answer) => {
    const { fetchFn, seen } = scriptedFetch(() => answer.clone());
    const dpop = createDpop({ keys: memoryKeys(), fetchFn });
    expect((await dpop.fetch(`${API}/items`)).status).toBe(answer.status);
    expect(seen).toHaveLength(1);
  });

  test('a 401 use_dpop_nonce that brings no new nonce is not retried: DpopError DPOP_NONCE, sent once', async () => {
    const { fetchFn, seen } = scriptedFetch(() => json(401, {}, { 'WWW-Authenticate': 'DPoP error="use_dpop_nonce"' }));
    const dpop = createDpop({ keys: memoryKeys(), fetchFn });
    await expect(dpop.fetch(`${API}/items`)).rejects.toMatchObject({ code: 'DPOP_NONCE' });
    expect(seen).toHaveLength(1);
  });

  test('an already aborted signal rejects with its reason; nothing is sent', async () => {
    const { fetchFn, seen } = scriptedFetch(() => json(200, {}));
    const dpop = createDpop({ keys: memoryKeys(), fetchFn });
    await expect(dpop.fetch(`${API}/items`, { signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' });
    expect(seen).toHaveLength(0);
  });
});

describe('learning from answers', () => {
  test('an answer without DPoP-Nonce keeps the nonce learned before; a server that never sent one gets none', async () => {
    const dpop = createDpop({ keys: memoryKeys() });
    dpop.learn(API, new Headers({ 'DPoP-Nonce': 'n1' }));
    dpop.learn(`${API}/other`, new Headers({ 'content-type': 'text/plain' }));
    dpop.learn(`${API}/other`, null);
    dpop.learn(`${API}/other`, undefined);
    expect(decodeProof(await dpop.proof('GET', API)).payload.nonce).toBe('n1');
    dpop.learn('https://auth.example.com/token', new Headers());
    expect(decodeProof(await dpop.proof('GET', 'https://auth.example.com/token')).payload).not.toHaveProperty('nonce');
  });

  test("an answer without Date keeps the server's clock learned before", async () => {
    const now = Date.UTC(2026, 11, 2, 12, 0, 0);
    const dpop = createDpop({ keys: memoryKeys(), now: () => now });
    dpop.learn(API, new Headers({ date: new Date(now + 60_000).toUTCString() }));
    dpop.learn(API, new Headers({ 'DPoP-Nonce': 'n1' }));
    expect(decodeProof(await dpop.proof('GET', API)).payload.iat).toBe((now + 60_000) / 1000);
  });

  test.each([
    [5_000, 0],
    [-5_000, 0],
    [6_000, 6],
    [-6_000, -6],
  ])('a server %i ms off this clock: the proof is dated %i s off (up to 5 s is noise)', async (skew, seconds) => {
    const now = Date.UTC(2026, 11, 2, 12, 0, 0);
    const dpop = createDpop({ keys: memoryKeys(), now: () => now });
    dpop.learn(API, new Headers({ date: new Date(now + skew).toUTCString() }));
    expect(decodeProof(await dpop.proof('GET', API)).payload.iat).toBe(now / 1000 + seconds);
  });

  test.each([
    ['Headers', new Headers({ 'DPoP-Nonce': 'n1' })],
    ['a plain object in lower case (axios)', { 'dpop-nonce': 'n1' }],
    ['a plain object as the server wrote it', { Date: 'not a date', 'DPoP-Nonce': 'n1', 'Content-Type': 'text/plain' }],
    ["a one-value array (Node's headers)", { 'dpop-nonce': ['n1'] }],
    ['an object with get() (AxiosHeaders)', { get: (name: string) => (name === 'dpop-nonce' ? 'n1' : undefined) }],
  ])('the nonce is read from %s', async (_, headers) => {
    const dpop = createDpop({ keys: memoryKeys() });
    dpop.learn(API, headers);
    expect(decodeProof(await dpop.proof('GET', API)).payload.nonce).toBe('n1');
  });
});

describe('dpop.isNonceChallenge', () => {
  test.each([
    [401, { 'www-authenticate': 'DPoP error="use_dpop_nonce"' }, undefined, true],
    [401, { 'WWW-Authenticate': 'Bearer realm="api", DPoP error="use_dpop_nonce", algs="ES256"' }, undefined, true],
    [401, { 'www-authenticate': 'Bearer realm="api",DPoP error="use_dpop_nonce"' }, undefined, true],
    [401, { 'www-authenticate': ['Bearer realm="api"', 'DPoP error="use_dpop_nonce"'] }, undefined, true],
    [401, { 'www-authenticate': 'DPoP error = "use_dpop_nonce"' }, undefined, true],
    [401, { 'www-authenticate': 'DPoP error=use_dpop_nonce' }, undefined, true],
    [401, { 'www-authenticate': 'DPoP algs="ES256"' }, undefined, false],
    [401, { 'www-authenticate': 'DPoP error="invalid_token"' }, undefined, false],
    [401, { 'www-authenticate': 'Bearer error="use_dpop_nonce"' }, undefined, false],
    [401, undefined, undefined, false],
    [401, null, { error: 'use_dpop_nonce' }, false],
    [400, null, { error: 'use_dpop_nonce' }, true],
    [400, new Headers(), { error: 'invalid_grant' }, false],
    [400, null, undefined, false],
    [403, null, { error: 'use_dpop_nonce' }, false],
    [500, null, { error: 'use_dpop_nonce' }, false],
  ])('%i with headers %j and body %j: %p', (status, headers, body, expected) => {
    const dpop = createDpop({ keys: memoryKeys() });
    expect(dpop.isNonceChallenge(status, headers, body)).toBe(expected);
  });
});

describe('dpop.authorized (a request the app sends itself)', () => {
  const url = `${API}/items`;
  /** rxjs' AjaxError as far as it is read: status, the XHR's headers, the parsed body. */
  const ajaxError = (status: number, headers: Record<string, string>, response: unknown = null) =>
    Object.assign(new Error('ajax error'), {
      name: 'AjaxError',
      status,
      response,
      xhr: { getResponseHeader: (name: string) => Object.entries(headers).find(([k]) => k.toLowerCase() === name)?.[1] ?? null },
    });
  /** axios' error: `response` with status, headers and data. */
  const axiosError = (status: number, headers: Record<string, string>, data: unknown) =>
    Object.assign(new Error('Request failed'), { isAxiosError: true, response: { status, headers, data } });

  function session() {
    let refreshes = 0;
    const auth = createTokenRefresh({ refresh: async () => (refreshes++, { accessToken: 'fresh', refreshToken: 'rt2' }) });
    createStore(auth);
    auth.setTokens({ accessToken: 'the-token', refreshToken: 'rt' });
    const dpop = createDpop({ keys: memoryKeys() });
    const sent: Array<{ Authorization: string; DPoP: string }> = [];
    const run = <T>(answers: Array<() => ObservableInput<T>>, request = { method: 'post', url }) =>
      lastValueFrom(dpop.authorized(auth, request, (headers) => (sent.push(headers), answers[sent.length - 1]!())));
    const proofs = () => sent.map((h) => decodeProof(h.DPoP).payload);
    return { dpop, run, sent, proofs, refreshes: () => refreshes };
  }

  test('sends Authorization: DPoP <token> and a proof for the method and URL, bound to the token', async () => {
    const { run, sent, proofs } = session();
    await expect(run([() => of('ok')])).resolves.toBe('ok');
    expect(sent[0]!.Authorization).toBe('DPoP the-token');
    expect(proofs()).toEqual([expect.objectContaining({ htm: 'POST', htu: url, ath: await athOf('the-token') })]);
    await expect(verifyProof(sent[0]!.DPoP)).resolves.toBe(true);
  });

  test.each([
    [
      'an AjaxError 401 WWW-Authenticate challenge',
      () => ajaxError(401, { 'WWW-Authenticate': 'DPoP error="use_dpop_nonce"', 'DPoP-Nonce': 'n1' }),
    ],
    ['an AjaxError 400 use_dpop_nonce', () => ajaxError(400, { 'DPoP-Nonce': 'n1' }, { error: 'use_dpop_nonce' })],
    ['an axios 400 use_dpop_nonce', () => axiosError(400, { 'dpop-nonce': 'n1' }, { error: 'use_dpop_nonce' })],
  ])('%s is answered once with the nonce and a new proof, inside the attempt: no refresh', async (_, challenge) => {
    const { run, proofs, refreshes } = session();
    await expect(run([() => throwError(challenge), () => of('ok')])).resolves.toBe('ok');
    expect(proofs().map((p) => p.nonce)).toEqual([undefined, 'n1']);
    expect(proofs()[0]!.jti).not.toBe(proofs()[1]!.jti);
    expect(refreshes()).toBe(0);
  });

  test.each([
    ['an axios 400', (nonce: string) => axiosError(400, { 'dpop-nonce': nonce }, { error: 'use_dpop_nonce' })],
    ['an AjaxError 401', (nonce: string) => ajaxError(401, { 'WWW-Authenticate': 'DPoP error="use_dpop_nonce"', 'DPoP-Nonce': nonce })],
  ])('a second challenge (%s) is DpopError DPOP_NONCE: one retry only, and no refresh', async (_, challenge) => {
    const { run, sent, refreshes } = session();
    await expect(
      run([() => throwError(() => challenge('n1')), () => throwError(() => challenge('n2')), () => of('3rd')]),
    ).rejects.toMatchObject({ name: 'DpopError', code: 'DPOP_NONCE' });
    expect(sent).toHaveLength(2);
    expect(refreshes()).toBe(0);
  });

  test('a challenge that brings no new nonce is DpopError DPOP_NONCE, unretried, and no refresh', async () => {
    const { run, sent, refreshes } = session();
    const error = await run([
      () => throwError(() => ajaxError(401, { 'WWW-Authenticate': 'DPoP error="use_dpop_nonce"' })),
      () => of('retried'),
    ]).catch((e: unknown) => e as DpopError);
    expect(error).toMatchObject({ name: 'DpopError', code: 'DPOP_NONCE' });
    expect(error).not.toHaveProperty('cause'); // the client's error holds the request, and its token
    expect(sent).toHaveLength(1);
    expect(refreshes()).toBe(0);
  });

  test.each([
    ['a 500 whose body says use_dpop_nonce', axiosError(500, { 'dpop-nonce': 'n1' }, { error: 'use_dpop_nonce' })],
    ['an AjaxError 403', ajaxError(403, { 'DPoP-Nonce': 'n1' }, { error: 'use_dpop_nonce' })],
    ['an Error without an answer', new Error('network down')],
    ['a thrown string', 'oops'],
    ['a thrown null', null],
    ['a thrown undefined', undefined],
  ])('%s is passed on as it is, unretried', async (_, error) => {
    const { run, sent } = session();
    await expect(run([() => throwError(() => error), () => of('retried')])).rejects.toBe(error);
    expect(sent).toHaveLength(1);
  });

  test.each([
    ['an AjaxResponse', { status: 200, responseHeaders: { 'dpop-nonce': 'n1' }, response: {} }],
    ['a fetch Response', new Response('{}', { headers: { 'DPoP-Nonce': 'n1' } })],
    ['an axios response', { status: 200, headers: { 'dpop-nonce': 'n1' }, data: {} }],
    ['an axios error', axiosError(404, { 'dpop-nonce': 'n1' }, {})],
    ['an AjaxError', ajaxError(404, { 'DPoP-Nonce': 'n1' })],
  ])('the nonce in %s is learned: the next proof to that server carries it', async (_, answer) => {
    const { dpop, run } = session();
    await run([() => (answer instanceof Error ? throwError(() => answer) : of(answer))]).catch(() => undefined);
    expect(decodeProof(await dpop.proof('GET', `${API}/other`)).payload.nonce).toBe('n1');
  });

  test.each([
    ['a value without headers', { ok: true }],
    ['a string', 'text'],
    ['null', null],
    ['undefined (a Promise<void>)', undefined],
  ])('an answer that is %s goes through', async (_, answer) => {
    const { run } = session();
    await expect(run([() => of(answer)])).resolves.toBe(answer);
  });
});

describe('setup', () => {
  const globals = globalThis as Record<string, unknown>;

  test.each([
    ['crypto.subtle is missing (not a secure context)', {}],
    ['crypto is missing', undefined],
  ])('createDpop throws DpopError DPOP_UNSUPPORTED when %s', (_, replacement) => {
    const original = Object.getOwnPropertyDescriptor(globalThis, 'crypto')!;
    Object.defineProperty(globalThis, 'crypto', { value: replacement, configurable: true, writable: true });
    try {
      expect(() => createDpop({ keys: memoryKeys() })).toThrow(
        expect.objectContaining({ name: 'DpopError', code: 'DPOP_UNSUPPORTED', message: expect.stringMatching(/secure context/) }),
      );
    } finally {
      Object.defineProperty(globalThis, 'crypto', original);
    }
  });

  test.each([
    ['Node', {}],
    ['a runtime with window but no document (Deno)', { window: globalThis }],
    ['a DOM shim without window', { document: {} }],
  ])('in %s without IndexedDB, createDpop() keeps the key in memory', async (_, extra) => {
    Object.assign(globals, extra);
    try {
      const dpop = createDpop();
      expect(await dpop.thumbprint()).toBe(await dpop.thumbprint());
    } finally {
      delete globals.window;
      delete globals.document;
    }
  });

  test('in a browser, redirects are left to fetch, and relative URLs are signed as the page resolves them', async () => {
    globals.window = globalThis;
    globals.document = { baseURI: 'https://app.example.com/page/' };
    const calls: Array<{ input: unknown; init: RequestInit | undefined }> = [];
    const fetchFn = async (input: RequestInfo | URL, init?: RequestInit) => (calls.push({ input, init }), json(200, {}));
    try {
      const dpop = createDpop({ keys: memoryKeys(), fetchFn });
      await dpop.fetch('items?x=1');
      await dpop.fetch(new Request('https://app.example.com/api', { method: 'DELETE', headers: { Authorization: 'DPoP tok' } }));
      const proofs = calls.map((c) => decodeProof(new Headers(c.init!.headers).get('dpop')!).payload);
      expect(proofs.map((p) => `${p.htm} ${p.htu} ${p.ath ?? '-'}`)).toEqual([
        'GET https://app.example.com/page/items -',
        `DELETE https://app.example.com/api ${await athOf('tok')}`,
      ]);
      expect(calls.map((c) => c.init!.redirect)).toEqual([undefined, undefined]);
      expect(calls[0]!.input).toBe('items?x=1');
    } finally {
      delete globals.window;
      delete globals.document;
    }
  });
});

describe('DpopError messages', () => {
  const inProduction = <T>(run: () => T): T => {
    const before = process.env.NODE_ENV;
    process.env.NODE_ENV = 'production';
    try {
      return run();
    } finally {
      process.env.NODE_ENV = before;
    }
  };
  const inProductionAsync = async <T>(run: () => Promise<T>): Promise<T> => {
    const before = process.env.NODE_ENV;
    process.env.NODE_ENV = 'production';
    try {
      return await run();
    } finally {
      process.env.NODE_ENV = before;
    }
  };
  const short = (code: string) => `[redux-observable-token-refresh] ${code}: see docs/errors.md#${code.toLowerCase()}`;

  test('DPOP_NONCE, DPOP_PROOF and DPOP_NOT_BOUND say what happened and what to do, quote nothing the server said, and are short in production', async () => {
    const errorOf = async (answer: () => Response) => {
      const { fetchFn } = scriptedFetch(answer);
      const dpop = createDpop({ keys: memoryKeys(), fetchFn });
      return dpop.fetch('https://auth.example.com/token', { method: 'POST', body: 'grant_type=refresh_token' }).then(
        () => undefined,
        (error: unknown) => error as DpopError,
      );
    };
    const nonce = () => json(400, { error: 'use_dpop_nonce', error_description: 'secret words' }, { 'DPoP-Nonce': 'same' });
    const proof = () => json(400, { error: 'invalid_dpop_proof', error_description: 'secret words' });
    const bearer = () => json(200, { access_token: 'at-secret', token_type: 'Bearer', refresh_token: 'rt-secret' });
    expect(await errorOf(nonce)).toMatchObject({
      name: 'DpopError',
      code: 'DPOP_NONCE',
      message: expect.stringMatching(/session is kept/),
    });
    expect(await errorOf(proof)).toMatchObject({
      code: 'DPOP_PROOF',
      message: expect.stringMatching(/Access-Control-Expose-Headers: Date/),
    });
    const unbound = (await errorOf(bearer))!;
    expect(unbound).toMatchObject({ code: 'DPOP_NOT_BOUND', message: expect.stringMatching(/token_type is not DPoP.*Enable DPoP/) });
    for (const error of [await errorOf(nonce), await errorOf(proof), unbound]) {
      expect(JSON.stringify({ message: error!.message, cause: String(error!.cause) })).not.toMatch(/secret/);
    }
    expect((await inProductionAsync(() => errorOf(nonce)))!.message).toBe(short('DPOP_NONCE'));
    expect((await inProductionAsync(() => errorOf(proof)))!.message).toBe(short('DPOP_PROOF'));
    expect((await inProductionAsync(() => errorOf(bearer)))!.message).toBe(short('DPOP_NOT_BOUND'));
  });

  test('setup errors name the fix, have no cause, and are short in production', () => {
    const globals = globalThis as Record<string, unknown>;
    const original = Object.getOwnPropertyDescriptor(globalThis, 'crypto')!;
    const thrown = (run: () => unknown) => {
      try {
        run();
      } catch (error) {
        return error as DpopError;
      }
      throw new Error('did not throw');
    };
    Object.defineProperty(globalThis, 'crypto', { value: {}, configurable: true, writable: true });
    try {
      expect(thrown(() => createDpop()).message).toMatch(/needs a secure context/);
      expect(inProduction(() => thrown(() => createDpop())).message).toBe(short('DPOP_UNSUPPORTED'));
    } finally {
      Object.defineProperty(globalThis, 'crypto', original);
    }
    globals.window = globalThis;
    globals.document = {};
    try {
      const storage = thrown(() => createDpop());
      expect(storage.message).toMatch(/createDpop\(\{ keys: memoryKeys\(\) \}\)/);
      expect(storage).not.toHaveProperty('cause');
      expect(inProduction(() => thrown(() => createDpop())).message).toBe(short('DPOP_KEY_STORAGE'));
    } finally {
      delete globals.window;
      delete globals.document;
    }
  });
});

/** The session whose token the transports send as DPoP (`auth` in an app). */
const session = { getAccessToken: () => 'tok' };

describe('dpop.resourceFetch (authFetch, authBaseQuery)', () => {
  test.each([
    ['no Authorization', {}],
    ['Basic credentials', { Authorization: 'Basic YXBwOnNlY3JldA==' }],
  ])('a request with %s is sent untouched: no proof, no public key, the same arguments', async (_, headers) => {
    const calls: unknown[][] = [];
    const fetchFn = async (...args: unknown[]) => (calls.push(args), json(200, {}));
    const dpop = createDpop({ keys: memoryKeys(), fetchFn });
    const init = { headers, method: 'POST', body: 'x' };
    expect((await dpop.resourceFetch(session)('https://partner.example.com/upload', init)).status).toBe(200);
    expect(calls).toEqual([['https://partner.example.com/upload', init]]);
  });

  test('a request with a Bearer token goes as DPoP with a proof bound to it; the answer is not read', async () => {
    const { fetchFn, seen } = scriptedFetch(() => json(200, { access_token: 'not a token answer', token_type: 'Bearer' }));
    const dpop = createDpop({ keys: memoryKeys(), fetchFn });
    const response = await dpop.resourceFetch(session)(`${API}/items?page=1`, { headers: { Authorization: 'Bearer tok' } });
    expect(response.bodyUsed).toBe(false);
    expect(await response.json()).toEqual({ access_token: 'not a token answer', token_type: 'Bearer' });
    expect(seen[0]).toMatchObject({
      authorization: 'DPoP tok',
      proof: { payload: { htm: 'GET', htu: `${API}/items`, ath: await athOf('tok') } },
    });
  });

  test("an API's nonce challenge is answered once inside the request; a second is DpopError DPOP_NONCE", async () => {
    let n = 0;
    const { fetchFn, seen } = scriptedFetch(() =>
      json(401, {}, { 'www-authenticate': 'DPoP error="use_dpop_nonce"', 'dpop-nonce': `n${++n}` }),
    );
    const dpop = createDpop({ keys: memoryKeys(), fetchFn });
    await expect(dpop.resourceFetch(session)(`${API}/items`, { headers: { Authorization: 'Bearer tok' } })).rejects.toMatchObject({
      code: 'DPOP_NONCE',
    });
    expect(seen.map((s) => s.proof?.payload.nonce)).toEqual([undefined, 'n1']);
  });

  test('the session keeps its last four tokens, each once; no token (logged out) takes a place', async () => {
    const { fetchFn, seen } = scriptedFetch(() => json(200, {}));
    let current: string | undefined;
    const dpop = createDpop({ keys: memoryKeys(), fetchFn });
    const send = dpop.resourceFetch({ getAccessToken: () => current }, fetchFn);
    const call = (token: string) => send(`${API}/x`, { headers: { Authorization: `Bearer ${token}` } });
    for (const token of ['t1', 't2', 't2', 't2', 't2', 't3', undefined, undefined, 't4']) {
      current = token;
      await call('nobody');
    }
    await call('t1'); // four tokens: t1 is still the session's
    current = 't5';
    await call('t1'); // five: t1 is not any more
    expect(seen.slice(-2).map((s) => s.authorization)).toEqual(['DPoP t1', 'Bearer t1']);
  });

  test("the session's token replaced while its request was on the way still goes as DPoP; a token never the session's goes untouched", async () => {
    const { fetchFn, seen } = scriptedFetch(() => json(200, {}));
    let current = 't1';
    const dpop = createDpop({ keys: memoryKeys(), fetchFn });
    const send = dpop.resourceFetch({ getAccessToken: () => current }, fetchFn);
    await send(`${API}/a`, { headers: { Authorization: 'Bearer t1' } });
    current = 't2'; // a refresh ended between the hand-out of t1 and its request
    await send(`${API}/b`, { headers: { Authorization: 'Bearer t1' } });
    await send(`${API}/c`, { headers: { Authorization: 'Bearer someone-else' } });
    expect(seen.map((s) => `${s.authorization} ${s.proof ? 'proof' : '-'}`)).toEqual([
      'DPoP t1 proof',
      'DPoP t1 proof',
      'Bearer someone-else -',
    ]);
  });

  test('a token the token endpoint bound to this key (through dpop.fetch) goes as DPoP before the session holds it', async () => {
    const { fetchFn, seen } = scriptedFetch((request) =>
      request.method === 'POST' ? json(200, { access_token: 'fresh', token_type: 'DPoP' }) : json(200, {}),
    );
    const dpop = createDpop({ keys: memoryKeys(), fetchFn });
    await dpop.fetch('https://auth.example.com/token', { method: 'POST', body: 'grant_type=refresh_token' });
    await dpop.resourceFetch({ getAccessToken: () => 'older' })(`${API}/a`, { headers: { Authorization: 'Bearer fresh' } });
    expect(seen[1]).toMatchObject({ authorization: 'DPoP fresh', proof: { payload: { ath: await athOf('fresh') } } });
    await dpop.clear(); // a new key: tokens bound to the old one are not this key's
    await dpop.resourceFetch({ getAccessToken: () => 'older' })(`${API}/b`, { headers: { Authorization: 'Bearer fresh' } });
    expect(seen[2]).toMatchObject({ authorization: 'Bearer fresh', proof: undefined });
  });

  test('resourceFetch(auth, fetchFn) sends through the fetch given', async () => {
    const { fetchFn, seen } = scriptedFetch(() => json(200, {}));
    const dpop = createDpop({ keys: memoryKeys() });
    await dpop.resourceFetch(session, fetchFn)(`${API}/items`, { headers: { Authorization: 'Bearer tok' } });
    expect(seen.map((s) => s.authorization)).toEqual(['DPoP tok']);
  });
});

describe('dpop.fetch and the tokens a token endpoint answers', () => {
  const grant = { method: 'POST', body: 'grant_type=refresh_token&refresh_token=rt' };
  test.each([
    ['DPoP', { access_token: 'a', token_type: 'DPoP' }, true],
    ['dpop (case does not matter)', { access_token: 'a', token_type: 'dpop' }, true],
    ['Bearer', { access_token: 'a', token_type: 'Bearer' }, false],
    ['no token_type', { access_token: 'a' }, false],
    ['no access_token (not a token answer)', { request_uri: 'urn:x', token_type: 'Bearer' }, true],
    ['NotDPoP', { access_token: 'a', token_type: 'NotDPoP' }, false],
    ['DPoP2', { access_token: 'a', token_type: 'DPoP2' }, false],
  ])('token_type %s: %p is used: %p', async (_, body, used) => {
    const { fetchFn } = scriptedFetch(() => json(200, body));
    const dpop = createDpop({ keys: memoryKeys(), fetchFn });
    const answer = dpop.fetch('https://auth.example.com/token', grant);
    if (used) expect(await (await answer).json()).toEqual(body);
    else await expect(answer).rejects.toMatchObject({ name: 'DpopError', code: 'DPOP_NOT_BOUND' });
  });

  test('a GET is no token request: its answer is returned unread, whatever it holds', async () => {
    const { fetchFn } = scriptedFetch(() => json(200, { access_token: 'a', token_type: 'Bearer', error: 'use_dpop_nonce' }));
    const dpop = createDpop({ keys: memoryKeys(), fetchFn });
    const response = await dpop.fetch('https://auth.example.com/.well-known/openid-configuration');
    expect(response.bodyUsed).toBe(false);
    expect(await response.json()).toMatchObject({ access_token: 'a' });
  });

  test('a 2xx whose body has an error member is no challenge: returned as it is', async () => {
    const { fetchFn, seen } = scriptedFetch(() => json(201, { error: 'use_dpop_nonce', request_uri: 'urn:x' }, { 'DPoP-Nonce': 'n9' }));
    const dpop = createDpop({ keys: memoryKeys(), fetchFn });
    expect((await dpop.fetch('https://auth.example.com/par', grant)).status).toBe(201);
    expect(seen).toHaveLength(1);
  });

  test('dpop.wrap(fetchFn) signs every request through the fetch given', async () => {
    const { fetchFn, seen } = scriptedFetch(() => json(200, {}));
    const dpop = createDpop({ keys: memoryKeys() });
    await dpop.wrap(fetchFn)('https://auth.example.com/par', grant);
    expect(seen.map((s) => `${s.proof?.payload.htm} ${s.proof?.payload.htu}`)).toEqual(['POST https://auth.example.com/par']);
  });

  test('a 401 invalid_dpop_proof, or a 400 or 500 of another kind, neither counts as a refusal nor starts the count anew', async () => {
    const answers = [
      json(400, { error: 'invalid_dpop_proof' }),
      json(401, {}, { 'WWW-Authenticate': 'DPoP error="invalid_dpop_proof"' }),
      json(400, { error: 'invalid_request' }),
      json(500, {}),
      json(400, { error: 'invalid_dpop_proof' }),
      json(400, { error: 'invalid_dpop_proof' }),
    ];
    const { fetchFn } = scriptedFetch((_, i) => answers[i]!);
    const dpop = createDpop({ keys: memoryKeys(), fetchFn });
    const outcomes: string[] = [];
    for (const _ of answers)
      outcomes.push(
        await dpop.fetch('https://auth.example.com/token', grant).then(
          (response) => String(response.status),
          (error: DpopError) => error.code,
        ),
      );
    expect(outcomes).toEqual(['DPOP_PROOF', '401', '400', '500', 'DPOP_PROOF', '400']);
  });

  test('invalid_dpop_proof: DPOP_PROOF twice in a row, the third is passed on; a 2xx in between starts the count anew', async () => {
    const answers = ['proof', 'proof', 'ok', 'proof', 'proof', 'proof', 'proof'];
    const { fetchFn } = scriptedFetch((_, i) =>
      answers[i] === 'ok' ? json(200, { access_token: 'a', token_type: 'DPoP' }) : json(400, { error: 'invalid_dpop_proof' }),
    );
    const dpop = createDpop({ keys: memoryKeys(), fetchFn });
    const outcomes: string[] = [];
    for (const _ of answers)
      outcomes.push(
        await dpop.fetch('https://auth.example.com/token', grant).then(
          (response) => String(response.status),
          (error: DpopError) => error.code,
        ),
      );
    expect(outcomes).toEqual(['DPOP_PROOF', 'DPOP_PROOF', '200', 'DPOP_PROOF', 'DPOP_PROOF', '400', 'DPOP_PROOF']);
  });
});

describe('the count of invalid_dpop_proof starts anew with a new key and with a 2xx of the token endpoint', () => {
  const grant = { method: 'POST', body: 'grant_type=refresh_token&refresh_token=rt' };
  const refused = () => json(400, { error: 'invalid_dpop_proof' });
  const outcome = (dpop: ReturnType<typeof createDpop>) =>
    dpop.fetch('https://auth.example.com/token', grant).then(
      (response) => String(response.status),
      (error: DpopError) => error.code,
    );

  test.each([
    ['dpop.clear()', async (dpop: ReturnType<typeof createDpop>) => dpop.clear()],
    [
      "dpop.epic(auth) deleting the key at the session's end",
      async (dpop: ReturnType<typeof createDpop>) => {
        const auth = createTokenRefresh({ refresh: async () => ({ accessToken: 'x' }) });
        const action$ = new Subject<unknown>();
        const done = firstValueFrom(dpop.epic(auth)(action$).pipe(toArray()));
        action$.next(auth.actions.loggedOut({ reason: 'logout', elsewhere: false }));
        action$.complete();
        await done;
        await dpop.ready(); // after the deletion
      },
    ],
  ])('%s', async (_, between) => {
    const { fetchFn } = scriptedFetch(refused);
    const dpop = createDpop({ keys: memoryKeys(), fetchFn });
    expect([await outcome(dpop), await outcome(dpop)]).toEqual(['DPOP_PROOF', 'DPOP_PROOF']);
    await between(dpop);
    expect([await outcome(dpop), await outcome(dpop), await outcome(dpop)]).toEqual(['DPOP_PROOF', 'DPOP_PROOF', '400']);
  });

  test('2xx answers of APIs (a public endpoint, through the transports) do not keep a refused refresh token alive', async () => {
    const { fetchFn } = scriptedFetch((seen) => (seen.method === 'POST' ? refused() : json(200, { public: true })));
    const dpop = createDpop({ keys: memoryKeys(), fetchFn });
    const outcomes: string[] = [];
    const headers = new Map([['authorization', 'Bearer tok']]);
    for (const _ of [1, 2, 3]) {
      outcomes.push(await outcome(dpop));
      await dpop.resourceFetch(session)(`${API}/public/status`, { headers: { Authorization: 'Bearer tok' } });
      await dpop.axiosAdapter(session, async (_config: unknown) => ({ status: 200, headers: {} }))({
        url: `${API}/x`,
        headers: {
          get: (n: string) => headers.get(n.toLowerCase()),
          set: (n: string, v: string) => headers.set(n.toLowerCase(), v),
          delete: () => true,
        },
      });
    }
    expect(outcomes).toEqual(['DPOP_PROOF', 'DPOP_PROOF', '400']);
  });

  test('each token endpoint (origin) has its own count', async () => {
    const { fetchFn } = scriptedFetch(refused);
    const dpop = createDpop({ keys: memoryKeys(), fetchFn });
    const at = (origin: string) =>
      dpop.fetch(`${origin}/token`, grant).then(
        (response) => String(response.status),
        (error: DpopError) => error.code,
      );
    const a = 'https://a.example.com';
    const b = 'https://b.example.com';
    expect([await at(a), await at(a), await at(b), await at(a), await at(b)]).toEqual([
      'DPOP_PROOF',
      'DPOP_PROOF',
      'DPOP_PROOF',
      '400',
      'DPOP_PROOF',
    ]);
  });
});

describe('dpop.axiosAdapter (attachAxios)', () => {
  /** axios' config as the adapter gets it: AxiosHeaders are case-insensitive. */
  const configOf = (fields: Record<string, unknown>, headers: Record<string, string> = {}) => {
    const map = new Map(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
    return {
      ...fields,
      headers: {
        get: (name: string) => map.get(name.toLowerCase()),
        set: (name: string, value: string) => map.set(name.toLowerCase(), value),
        delete: (name: string) => map.delete(name.toLowerCase()),
        map,
      },
    };
  };
  type Config = ReturnType<typeof configOf>;
  const adapterOf = (answer: (config: Config, index: number) => Promise<{ status: number; headers: Record<string, string> }>) => {
    const sent: Array<{ authorization?: string; proof?: ReturnType<typeof decodeProof> }> = [];
    const adapter = async (config: Config) => {
      const raw = config.headers.map.get('dpop');
      sent.push({ authorization: config.headers.map.get('authorization'), proof: raw ? decodeProof(raw) : undefined });
      return answer(config, sent.length - 1);
    };
    return { adapter, sent };
  };
  const ok = async () => ({ status: 200, headers: {} });
  const challenge = (nonce?: string) => {
    const error = Object.assign(new Error('Request failed with status code 401'), {
      response: { status: 401, headers: { 'www-authenticate': 'DPoP error="use_dpop_nonce"', ...(nonce ? { 'dpop-nonce': nonce } : {}) } },
    });
    return Promise.reject(error);
  };

  test.each([
    [{ baseURL: 'https://api.example.com/v1', url: '/items?page=2' }, 'https://api.example.com/v1/items'],
    [{ baseURL: 'https://api.example.com/v1/', url: 'items' }, 'https://api.example.com/v1/items'],
    [{ baseURL: 'https://api.example.com', url: 'https://files.example.com/f' }, 'https://files.example.com/f'],
    [
      { baseURL: 'https://api.example.com', url: 'https://x.example.com/f', allowAbsoluteUrls: false },
      'https://api.example.com/https://x.example.com/f',
    ],
    [{ baseURL: 'https://api.example.com/v1' }, 'https://api.example.com/v1'],
    [{ url: 'https://api.example.com/items', method: 'post' }, 'https://api.example.com/items'],
    [{ baseURL: 'https://api.example.com/v1', url: 'items//x' }, 'https://api.example.com/v1/items//x'],
    [{ baseURL: 'https://api.example.com/v1', url: 'https:/x' }, 'https://api.example.com/v1/https:/x'],
  ])('%p: the token goes as DPoP with a proof for %s, the URL axios calls', async (fields, htu) => {
    const { adapter, sent } = adapterOf(ok);
    const dpop = createDpop({ keys: memoryKeys() });
    await dpop.axiosAdapter(session, adapter)(configOf(fields, { Authorization: 'Bearer tok' }));
    expect(sent[0]).toMatchObject({
      authorization: 'DPoP tok',
      proof: { payload: { htu, htm: (fields as { method?: string }).method === 'post' ? 'POST' : 'GET', ath: await athOf('tok') } },
    });
  });

  test('a URL that cannot be resolved here (protocol-relative, in Node) rejects with its config, without the token; nothing is sent', async () => {
    const { adapter, sent } = adapterOf(ok);
    const dpop = createDpop({ keys: memoryKeys() });
    const config = configOf({ baseURL: 'https://api.example.com', url: '//files.example.com/f' }, { Authorization: 'Bearer tok' });
    const error = (await dpop
      .axiosAdapter(
        session,
        adapter,
      )(config)
      .catch((e: unknown) => e)) as TypeError & { config?: unknown };
    expect(error).toMatchObject({ name: 'TypeError' }); // new URL's, from Node's realm
    expect(error.config).toBe(config);
    expect(config.headers.get('authorization')).toBeUndefined();
    expect(sent).toHaveLength(0);
  });

  test('a config without a token is passed on untouched, with no proof', async () => {
    const { adapter, sent } = adapterOf(ok);
    const dpop = createDpop({ keys: memoryKeys() });
    const config = configOf({ url: 'https://partner.example.com/x' }, { 'X-Other': '1' });
    await dpop.axiosAdapter(session, adapter)(config);
    expect(sent).toEqual([{ authorization: undefined, proof: undefined }]);
    expect([...config.headers.map.keys()]).toEqual(['x-other']);
  });

  test("the API's nonce challenge is retried once with its nonce, and the nonce is kept for the next request", async () => {
    const { adapter, sent } = adapterOf((config, i) => (i === 0 ? challenge('n1') : ok()));
    const dpop = createDpop({ keys: memoryKeys() });
    const send = dpop.axiosAdapter(session, adapter);
    expect((await send(configOf({ url: `${API}/items` }, { Authorization: 'Bearer tok' }))).status).toBe(200);
    await send(configOf({ url: `${API}/other` }, { Authorization: 'Bearer tok' }));
    expect(sent.map((s) => s.proof?.payload.nonce)).toEqual([undefined, 'n1', 'n1']);
    expect(sent[0]!.proof!.payload.jti).not.toBe(sent[1]!.proof!.payload.jti);
  });

  test('a second challenge is DpopError DPOP_NONCE that carries its config, without the token', async () => {
    let n = 0;
    const { adapter, sent } = adapterOf(() => challenge(`n${++n}`));
    const dpop = createDpop({ keys: memoryKeys() });
    const config = configOf({ url: `${API}/items` }, { Authorization: 'Bearer tok' });
    const error = (await dpop
      .axiosAdapter(
        session,
        adapter,
      )(config)
      .catch((e: unknown) => e)) as DpopError & { config?: unknown };
    expect(error).toMatchObject({ name: 'DpopError', code: 'DPOP_NONCE' });
    expect(error.config).toBe(config); // attachAxios finds its call by it
    expect(Object.keys(error)).not.toContain('config');
    expect(config.headers.get('authorization')).toBeUndefined();
    expect(config.headers.get('dpop')).toBeUndefined();
    expect(sent).toHaveLength(2);
  });

  test.each([
    ['an invalid_token 401 (a refresh answers it)', { status: 401, headers: { 'www-authenticate': 'DPoP error="invalid_token"' } }],
    ['a 500', { status: 500, headers: {} }],
  ])('%s is rejected as the adapter rejected it, sent once', async (_, response) => {
    const failure = Object.assign(new Error('failed'), { response });
    const { adapter, sent } = adapterOf(() => Promise.reject(failure));
    const dpop = createDpop({ keys: memoryKeys() });
    await expect(dpop.axiosAdapter(session, adapter)(configOf({ url: `${API}/items` }, { Authorization: 'Bearer tok' }))).rejects.toBe(
      failure,
    );
    expect(sent).toHaveLength(1);
  });

  test('a network error (no answer) is rejected as it is', async () => {
    const failure = new Error('socket hang up');
    const { adapter } = adapterOf(() => Promise.reject(failure));
    const dpop = createDpop({ keys: memoryKeys() });
    await expect(dpop.axiosAdapter(session, adapter)(configOf({ url: `${API}/items` }, { Authorization: 'Bearer tok' }))).rejects.toBe(
      failure,
    );
  });

  test('an aborted signal rejects before anything is sent', async () => {
    const { adapter, sent } = adapterOf(ok);
    const dpop = createDpop({ keys: memoryKeys() });
    const config = configOf({ url: `${API}/items`, signal: AbortSignal.abort() }, { Authorization: 'Bearer tok' });
    await expect(dpop.axiosAdapter(session, adapter)(config)).rejects.toMatchObject({ name: 'AbortError' });
    expect(sent).toHaveLength(0);
  });
});
