/**
 * The demo server's DPoP mode (RFC 9449) over real HTTP on 127.0.0.1, with proofs made by jose
 * (__tests__/support/dpop/proof.ts), apart from the package's own dpop module: a login with a proof
 * gives tokens bound to its key, the token routes and the API ask for the server's nonce, and the
 * API verifies every proof and refuses the token without one.
 */
import { calculateJwkThumbprint, decodeJwt, exportJWK } from 'jose';
import { startAuthServer, type AuthServer, type AuthServerOptions } from '../demo/server/authServer';
import { dpopProof, generateDpopKeyPair } from './support/dpop/proof';

let server: AuthServer | undefined;
/** The server's clock: tests move it instead of sleeping. */
let clock = 0;

beforeEach(() => {
  clock = Date.now();
});

afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(options: AuthServerOptions = {}): Promise<AuthServer> {
  server = await startAuthServer({ quiet: true, dpop: 'optional', now: () => clock, ...options });
  return server;
}

interface Tokens {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
  tokenType: string;
}

const thumbprint = async (keys: CryptoKeyPair) => calculateJwkThumbprint(await exportJWK(keys.publicKey));

/** POSTs JSON to a token route with a proof made by `keys` (and `nonce`, if given). */
async function postWithProof(path: string, body: unknown, keys: CryptoKeyPair | null, nonce?: string): Promise<Response> {
  const url = server!.url + path;
  const headers: Record<string, string> = { 'Content-Type': 'application/json' };
  if (keys) headers.DPoP = await dpopProof(keys, { htm: 'POST', htu: url, nonce, iat: Math.floor(clock / 1000) });
  return fetch(url, { method: 'POST', headers, body: JSON.stringify(body) });
}

/** The nonce challenge, then the same call with the nonce: what a DPoP client does. */
async function withNonce(path: string, body: unknown, keys: CryptoKeyPair): Promise<{ challenge: Response; response: Response }> {
  const challenge = await postWithProof(path, body, keys);
  const nonce = challenge.headers.get('dpop-nonce') ?? undefined;
  return { challenge, response: await postWithProof(path, body, keys, nonce) };
}

async function login(keys: CryptoKeyPair): Promise<{ tokens: Tokens; nonce: string }> {
  const { response } = await withNonce('/auth/login', { username: 'demo', password: 'demo' }, keys);
  expect(response.status).toBe(200);
  return { tokens: (await response.json()) as Tokens, nonce: response.headers.get('dpop-nonce')! };
}

interface ApiCall {
  scheme?: 'DPoP' | 'Bearer';
  keys?: CryptoKeyPair | null;
  nonce?: string;
  jti?: string;
  htu?: string;
  htm?: string;
  iat?: number;
}

/** GET an API route with `token` and, unless `keys` is null, a proof bound to it. */
async function api(path: string, token: string, call: ApiCall = {}): Promise<Response> {
  const url = server!.url + path;
  const headers: Record<string, string> = { Authorization: `${call.scheme ?? 'DPoP'} ${token}` };
  if (call.keys)
    headers.DPoP = await dpopProof(call.keys, {
      htm: call.htm ?? 'GET',
      htu: call.htu ?? url,
      nonce: call.nonce,
      accessToken: token,
      jti: call.jti,
      iat: call.iat ?? Math.floor(clock / 1000),
    });
  return fetch(url, { headers });
}

const challengeOf = (response: Response) => response.headers.get('www-authenticate') ?? '';

describe('demo auth server, DPoP mode', () => {
  test('login: a proof without the nonce gets 400 use_dpop_nonce and the nonce; with it, DPoP tokens bound to the key (cnf.jkt)', async () => {
    await start();
    const keys = await generateDpopKeyPair();
    const { challenge, response } = await withNonce('/auth/login', { username: 'demo', password: 'demo' }, keys);
    expect(challenge.status).toBe(400);
    expect(await challenge.json()).toMatchObject({ error: 'use_dpop_nonce' });
    expect(challenge.headers.get('dpop-nonce')).toMatch(/^[\w-]{16,}$/);
    expect(server!.stats()).toMatchObject({ logins: 1, dpopNonceChallenges: 1 });

    expect(response.status).toBe(200);
    const tokens = (await response.json()) as Tokens;
    expect(tokens.tokenType).toBe('DPoP');
    expect(decodeJwt(tokens.accessToken).cnf).toEqual({ jkt: await thumbprint(keys) });
    expect(server!.stats().recent.map(({ path, status, dpop }) => [path, status, dpop?.error])).toEqual([
      ['/auth/login', 400, 'use_dpop_nonce'],
      ['/auth/login', 200, null],
    ]);

    // The OAuth token endpoint binds as well.
    const url = `${server!.url}/oauth/token`;
    const form = new URLSearchParams({ grant_type: 'password', client_id: 'demo-app', username: 'demo', password: 'demo' });
    const nonce = response.headers.get('dpop-nonce')!;
    const oauth = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', DPoP: await dpopProof(keys, { htm: 'POST', htu: url, nonce }) },
      body: form,
    });
    const body = (await oauth.json()) as { token_type: string; access_token: string };
    expect(body.token_type).toBe('DPoP');
    expect(decodeJwt(body.access_token).cnf).toEqual({ jkt: await thumbprint(keys) });
  });

  test('without a proof the login stays Bearer, exactly as before; in required mode it is refused', async () => {
    await start();
    const bearer = await postWithProof('/auth/login', { username: 'demo', password: 'demo' }, null);
    const tokens = (await bearer.json()) as Tokens;
    expect(tokens.tokenType).toBe('Bearer');
    expect(decodeJwt(tokens.accessToken).cnf).toBeUndefined();
    expect(bearer.headers.get('dpop-nonce')).toBeNull();
    const profile = await api('/api/profile', tokens.accessToken, { scheme: 'Bearer' });
    expect(profile.status).toBe(200);
    // A Bearer token is not DPoP-bound: the DPoP scheme with it is refused.
    const asDpop = await api('/api/profile', tokens.accessToken, {
      keys: await generateDpopKeyPair(),
      nonce: server!.control.rotateDpopNonce(),
    });
    expect(asDpop.status).toBe(401);
    expect(challengeOf(asDpop)).toMatch(/^DPoP error="invalid_token"/);
    await server!.close();

    await start({ dpop: 'required' });
    const refused = await postWithProof('/auth/login', { username: 'demo', password: 'demo' }, null);
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ error: 'invalid_dpop_proof' });
    const missing = await fetch(`${server!.url}/api/profile`);
    expect(missing.status).toBe(401);
    expect(challengeOf(missing)).toMatch(/^DPoP algs="/);
  });

  test('the API accepts a valid proof, and refuses Bearer, no proof, a replayed jti, a wrong htu, htm or iat, and another key', async () => {
    await start();
    const keys = await generateDpopKeyPair();
    const { tokens, nonce } = await login(keys);
    const token = tokens.accessToken;

    const ok = await api('/api/echo', token, { keys, nonce, jti: 'jti-1' });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ sub: 'demo', gen: 1 });
    expect(ok.headers.get('dpop-nonce')).toBe(nonce);
    // The query is no part of htu.
    expect((await api('/api/report?ms=0', token, { keys, nonce, htu: `${server!.url}/api/report` })).status).toBe(200);

    const refusals: Array<[string, Response, string]> = [
      ['Bearer', await api('/api/echo', token, { scheme: 'Bearer' }), 'invalid_token'],
      ['DPoP without a proof', await api('/api/echo', token, { keys: null }), 'invalid_dpop_proof'],
      ['replayed jti', await api('/api/echo', token, { keys, nonce, jti: 'jti-1' }), 'invalid_dpop_proof'],
      ['wrong htu', await api('/api/echo', token, { keys, nonce, htu: `${server!.url}/api/items` }), 'invalid_dpop_proof'],
      ['wrong htm', await api('/api/echo', token, { keys, nonce, htm: 'POST' }), 'invalid_dpop_proof'],
      ['iat 2 min ago', await api('/api/echo', token, { keys, nonce, iat: Math.floor(clock / 1000) - 120 }), 'invalid_dpop_proof'],
      ['a thief with its own key', await api('/api/echo', token, { keys: await generateDpopKeyPair(), nonce }), 'invalid_dpop_proof'],
    ];
    for (const [what, response, error] of refusals) {
      expect([what, response.status, /^DPoP error="([\w-]+)"/.exec(challengeOf(response))?.[1]]).toEqual([what, 401, error]);
      expect(((await response.json()) as { error: string }).error).toBe(error);
    }
    expect(server!.stats()).toMatchObject({ apiOk: 2, api401: refusals.length, dpopRefusals: refusals.length });
  });

  test('the API asks for its nonce: none or an old one gets 401 use_dpop_nonce with the new one, which then works', async () => {
    await start({ dpopNonceTtlMs: 30_000, accessTtlMs: 120_000 });
    const keys = await generateDpopKeyPair();
    const { tokens, nonce } = await login(keys);

    const without = await api('/api/items', tokens.accessToken, { keys });
    expect(without.status).toBe(401);
    expect(challengeOf(without)).toMatch(/^DPoP error="use_dpop_nonce"/);
    expect(without.headers.get('dpop-nonce')).toBe(nonce);

    // The nonce lives 30 s on the server's clock; after that the old one is refused.
    clock += 31_000;
    const stale = await api('/api/items', tokens.accessToken, { keys, nonce });
    expect(stale.status).toBe(401);
    expect(challengeOf(stale)).toMatch(/^DPoP error="use_dpop_nonce"/);
    const fresh = stale.headers.get('dpop-nonce')!;
    expect(fresh).not.toBe(nonce);
    expect((await api('/api/items', tokens.accessToken, { keys, nonce: fresh })).status).toBe(200);

    // And on demand (the demo's "Rotate the nonce").
    const rotated = server!.control.rotateDpopNonce();
    expect((await api('/api/items', tokens.accessToken, { keys, nonce: fresh })).headers.get('dpop-nonce')).toBe(rotated);
    expect(server!.stats()).toMatchObject({ dpopNonceChallenges: 3 + 1 /* the login's */ });
  });

  test('an expired token is 401 DPoP invalid_token; the refresh asks for the nonce, binds to the same key, and refuses another key', async () => {
    await start({ accessTtlMs: 15_000 });
    const keys = await generateDpopKeyPair();
    const { tokens, nonce } = await login(keys);

    clock += 20_000;
    const expired = await api('/api/profile', tokens.accessToken, { keys, nonce });
    expect(expired.status).toBe(401);
    expect(challengeOf(expired)).toMatch(/^DPoP error="invalid_token", error_description="token expired"/);

    // Another key: 400 invalid_grant, and the refresh token is not spent.
    const thief = await generateDpopKeyPair();
    const stolen = await postWithProof('/auth/refresh', { refreshToken: tokens.refreshToken }, thief, nonce);
    expect(stolen.status).toBe(400);
    expect(await stolen.json()).toMatchObject({ error: 'invalid_grant' });
    // No proof at all: refused too.
    const bare = await postWithProof('/auth/refresh', { refreshToken: tokens.refreshToken }, null);
    expect(bare.status).toBe(400);
    expect(await bare.json()).toMatchObject({ error: 'invalid_dpop_proof' });

    // A nonce challenge first (after a rotation), then the refresh with the same key.
    server!.control.rotateDpopNonce();
    const { challenge, response } = await withNonce('/auth/refresh', { refreshToken: tokens.refreshToken }, keys);
    expect(challenge.status).toBe(400);
    expect(await challenge.json()).toMatchObject({ error: 'use_dpop_nonce' });
    expect(response.status).toBe(200);
    const refreshed = (await response.json()) as Tokens;
    expect(refreshed.tokenType).toBe('DPoP');
    expect(decodeJwt(refreshed.accessToken)).toMatchObject({ gen: 2, cnf: { jkt: await thumbprint(keys) } });
    expect(server!.stats()).toMatchObject({ refreshCalls: 3, refreshOk: 1, reuseDetections: 0 });

    const newNonce = response.headers.get('dpop-nonce')!;
    expect((await api('/api/profile', refreshed.accessToken, { keys, nonce: newNonce })).status).toBe(200);
    // The old refresh token is spent: presenting it again, even with the right key, revokes the session.
    const reused = await postWithProof('/auth/refresh', { refreshToken: tokens.refreshToken }, keys, newNonce);
    expect(reused.status).toBe(401);
    expect(server!.stats().reuseDetections).toBe(1);
  });

  test('the refresh cookie of a DPoP session needs a proof of the same key', async () => {
    await start();
    const keys = await generateDpopKeyPair();
    const { response } = await withNonce('/auth/login', { username: 'demo', password: 'demo', refreshTokenIn: 'cookie' }, keys);
    expect(response.status).toBe(200);
    const cookie = response.headers.get('set-cookie')!.split(';')[0]!;
    const nonce = response.headers.get('dpop-nonce')!;
    const url = `${server!.url}/auth/refresh`;
    const refreshWith = async (proofKeys: CryptoKeyPair) =>
      fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Cookie: cookie, DPoP: await dpopProof(proofKeys, { htm: 'POST', htu: url, nonce }) },
        body: '{}',
      });
    expect((await refreshWith(await generateDpopKeyPair())).status).toBe(400);
    const ok = await refreshWith(keys);
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { tokenType: string }).tokenType).toBe('DPoP');
  });
});
