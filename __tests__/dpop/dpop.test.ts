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
    ['Bearer tok', undefined],
    ['DPoP tok extra', undefined],
    ['NotDPoP tok', undefined],
  ])('Authorization %p: the proof is bound (ath) to %p', async (authorization, token) => {
    const { fetchFn, seen } = scriptedFetch(() => json(200, {}));
    const dpop = createDpop({ keys: memoryKeys(), fetchFn });
    await dpop.fetch(`${API}/items`, { headers: { Authorization: authorization } });
    expect(seen[0]!.proof!.payload.ath).toBe(token === undefined ? undefined : await athOf(token));
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
    ['a 401 use_dpop_nonce that brings no new nonce', json(401, {}, { 'WWW-Authenticate': 'DPoP error="use_dpop_nonce"' })],
  ])('%s is returned as it is: sent once', async (_, answer) => {
    const { fetchFn, seen } = scriptedFetch(() => answer.clone());
    const dpop = createDpop({ keys: memoryKeys(), fetchFn });
    expect((await dpop.fetch(`${API}/items`)).status).toBe(answer.status);
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

  test('a second challenge is the caller’s error: one retry only', async () => {
    const { run, sent } = session();
    const second = axiosError(400, { 'dpop-nonce': 'n2' }, { error: 'use_dpop_nonce' });
    await expect(
      run([
        () => throwError(() => axiosError(400, { 'dpop-nonce': 'n1' }, { error: 'use_dpop_nonce' })),
        () => throwError(() => second),
        () => of('3rd'),
      ]),
    ).rejects.toBe(second);
    expect(sent).toHaveLength(2);
  });

  test.each([
    ['a challenge that brings no new nonce', axiosError(400, {}, { error: 'use_dpop_nonce' })],
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
  const short = (code: string) => `[redux-observable-token-refresh] ${code}: see docs/errors.md#${code.toLowerCase()}`;

  test('DPOP_NONCE and DPOP_PROOF say the session is kept, carry their cause, and are short in production', () => {
    const dpop = createDpop({ keys: memoryKeys() });
    const cause = new Error('the token endpoint said so');
    const nonce = dpop.proofRefused(400, null, { error: 'use_dpop_nonce' }, cause)!;
    const proof = dpop.proofRefused(400, null, { error: 'invalid_dpop_proof' }, cause)!;
    expect(nonce).toMatchObject({
      name: 'DpopError',
      code: 'DPOP_NONCE',
      cause,
      message: expect.stringMatching(/session and the refresh token are kept/),
    });
    expect(proof).toMatchObject({
      name: 'DpopError',
      code: 'DPOP_PROOF',
      cause,
      message: expect.stringMatching(/Access-Control-Expose-Headers: Date/),
    });
    expect(dpop.proofRefused(400, null, { error: 'invalid_grant' }, cause)).toBeUndefined();
    expect(inProduction(() => dpop.proofRefused(400, null, { error: 'use_dpop_nonce' }, cause))!.message).toBe(short('DPOP_NONCE'));
    expect(inProduction(() => dpop.proofRefused(400, null, { error: 'invalid_dpop_proof' }, cause))!.message).toBe(short('DPOP_PROOF'));
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

describe('dpop.signAhead (for attachAxios)', () => {
  test('without a method it signs a GET; check() accepts that request and refuses another method or URL', async () => {
    const dpop = createDpop({ keys: memoryKeys() });
    const signed = await dpop.signAhead(undefined, `${API}/items?page=1`, 'tok');
    expect(signed.headers.Authorization).toBe('DPoP tok');
    expect(decodeProof(signed.headers.DPoP).payload).toMatchObject({ htm: 'GET', htu: `${API}/items`, ath: await athOf('tok') });
    expect(() => signed.check(undefined, `${API}/items?page=2`)).not.toThrow();
    expect(() => signed.check('get', `${API}/items`)).not.toThrow();
    expect(() => signed.check('post', `${API}/items`)).toThrow(expect.objectContaining({ code: 'DPOP_URL_CHANGED' }));
    expect(() => signed.check('get', `${API}/other`)).toThrow(expect.objectContaining({ code: 'DPOP_URL_CHANGED' }));
  });

  test('answered(): retry for a challenge with a new nonce, challenge for one without, nothing for other answers', async () => {
    const dpop = createDpop({ keys: memoryKeys() });
    const challenge = { 'www-authenticate': 'DPoP error="use_dpop_nonce"' };
    expect((await dpop.signAhead('get', API, 't')).answered(401, { ...challenge, 'dpop-nonce': 'n1' })).toBe('retry');
    expect((await dpop.signAhead('get', API, 't')).answered(401, { ...challenge, 'dpop-nonce': 'n1' })).toBe('challenge');
    const other = await dpop.signAhead('get', API, 't');
    expect(other.answered(401, { 'www-authenticate': 'DPoP error="invalid_token"', 'dpop-nonce': 'n2' })).toBeUndefined();
    expect(other.answered(200, { 'dpop-nonce': 'n3' })).toBeUndefined();
    expect(decodeProof(await dpop.proof('GET', API)).payload.nonce).toBe('n3');
  });
});
