/**
 * The DPoP test servers (support/dpop/) enforce what the dpop module's tests will rely on: a real
 * oidc-provider authorization server that binds refresh tokens to a key and asks for its nonce, and
 * a resource server that refuses every proof RFC 9449 says to refuse. Proofs here are made with jose
 * (support/dpop/proof.ts), not with the package.
 */
import { calculateJwkThumbprint, decodeJwt, exportJWK } from 'jose';
import { dpopProof, generateDpopKeyPair, type ProofClaims } from './support/dpop/proof';
import { startDpopServers, tokenRequest, tokenRequestWithNonce, type DpopServers, type TokenResponse } from './support/dpop/servers';

jest.setTimeout(20_000);

let servers: DpopServers;
let keyPair: CryptoKeyPair;

beforeAll(async () => {
  [servers, keyPair] = await Promise.all([startDpopServers({ accessTokenTtlSeconds: 60 }), generateDpopKeyPair()]);
});
afterAll(() => servers?.stop());

function refresh(tokens: TokenResponse, key: CryptoKeyPair, nonce?: string) {
  return tokenRequest(
    servers.tokenEndpoint,
    key,
    { grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: servers.clientId },
    nonce,
  );
}

/** GET /api/items with `Authorization: <scheme> <token>` and a proof of `key` (`proof: null` sends none). */
async function getItems(
  token: string,
  {
    key = keyPair,
    scheme = 'DPoP',
    proof = {},
  }: { key?: CryptoKeyPair; scheme?: string; proof?: Partial<ProofClaims> | null | string } = {},
) {
  const headers: Record<string, string> = { Authorization: `${scheme} ${token}` };
  if (typeof proof === 'string') headers.DPoP = proof;
  else if (proof) headers.DPoP = await dpopProof(key, { htm: 'GET', htu: servers.resourceUrl, accessToken: token, ...proof });
  const response = await fetch(servers.resourceUrl, { headers });
  return {
    status: response.status,
    body: (await response.json()) as Record<string, unknown>,
    challenge: response.headers.get('WWW-Authenticate'),
    nonce: response.headers.get('DPoP-Nonce'),
  };
}

async function lastLogEntry() {
  const log = await servers.log();
  return log[log.length - 1];
}

describe('the authorization server (oidc-provider)', () => {
  it('logs in through the code flow with PKCE and binds the tokens to the proof key', async () => {
    const tokens = await servers.login(keyPair);

    expect(tokens.token_type).toBe('DPoP');
    expect(tokens.refresh_token).toEqual(expect.any(String));
    const claims = decodeJwt(tokens.access_token);
    expect(claims.cnf).toEqual({ jkt: await calculateJwkThumbprint(await exportJWK(keyPair.publicKey)) });
    expect(claims.aud).toBe(servers.audience);
    expect(tokens.dpopNonce).toEqual(expect.any(String));
  });

  it('answers a refresh without its nonce with 400 use_dpop_nonce and a DPoP-Nonce, and the retry with it succeeds', async () => {
    const tokens = await servers.login(keyPair);

    const first = await refresh(tokens, keyPair);
    expect(first.status).toBe(400);
    expect(first.body.error).toBe('use_dpop_nonce');
    expect(first.nonce).toEqual(expect.any(String));

    const retry = await refresh(tokens, keyPair, first.nonce!);
    expect(retry.status).toBe(200);
    expect(retry.body.token_type).toBe('DPoP');
    // rotateRefreshToken: a new refresh token, and the old one is spent.
    expect(retry.body.refresh_token).not.toBe(tokens.refresh_token);
    const reuse = await refresh(tokens, keyPair, first.nonce!);
    expect(reuse.body.error).toBe('invalid_grant');
  });

  it('refuses a refresh proved with another key (invalid_grant)', async () => {
    const tokens = await servers.login(keyPair);
    const otherKey = await generateDpopKeyPair();

    const answer = await tokenRequestWithNonce(servers.tokenEndpoint, otherKey, {
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token,
      client_id: servers.clientId,
    });

    expect(answer.status).toBe(400);
    expect(answer.body.error).toBe('invalid_grant');
  });

  it('lets a page on another loopback origin read DPoP-Nonce at the token endpoint (CORS)', async () => {
    const response = await fetch(servers.tokenEndpoint, {
      method: 'POST',
      headers: {
        Origin: 'http://127.0.0.1:5173',
        'Content-Type': 'application/x-www-form-urlencoded',
        DPoP: await dpopProof(keyPair, { htm: 'POST', htu: servers.tokenEndpoint }),
      },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'x', client_id: servers.clientId }),
    });

    expect(response.headers.get('Access-Control-Allow-Origin')).toBe('http://127.0.0.1:5173');
    expect(response.headers.get('Access-Control-Expose-Headers')?.split(/\s*,\s*/)).toEqual(
      expect.arrayContaining(['DPoP-Nonce', 'WWW-Authenticate', 'Date']),
    );
    expect(response.headers.get('DPoP-Nonce')).toEqual(expect.any(String));
  });
});

describe('the resource server', () => {
  let tokens: TokenResponse;
  let nonce: string;

  beforeAll(async () => {
    tokens = await servers.login(keyPair);
  });
  beforeEach(async () => {
    await servers.clearLog();
    nonce = await servers.rsNonce();
  });

  it('accepts a good proof, on GET and POST, and logs it', async () => {
    const ok = await getItems(tokens.access_token, { proof: { nonce } });
    expect(ok.status).toBe(200);
    expect(ok.body.items).toEqual(expect.any(Array));
    expect(ok.nonce).toBe(nonce);

    const response = await fetch(servers.resourceUrl, {
      method: 'POST',
      headers: {
        Authorization: `DPoP ${tokens.access_token}`,
        DPoP: await dpopProof(keyPair, { htm: 'POST', htu: servers.resourceUrl, nonce, accessToken: tokens.access_token }),
        'Content-Type': 'application/json',
      },
      body: JSON.stringify({ name: 'second' }),
    });
    expect(response.status).toBe(201);

    expect(await servers.log()).toEqual([
      expect.objectContaining({
        method: 'GET',
        path: '/api/items',
        scheme: 'DPoP',
        nonce,
        nonceOk: true,
        athOk: true,
        jktOk: true,
        outcome: 'ok',
      }),
      expect.objectContaining({ method: 'POST', outcome: 'ok', status: 201 }),
    ]);
  });

  it('answers a proof without a nonce with 401 use_dpop_nonce and the nonce to use', async () => {
    const answer = await getItems(tokens.access_token);

    expect(answer.status).toBe(401);
    expect(answer.challenge).toMatch(/^DPoP error="use_dpop_nonce"/);
    expect(answer.nonce).toBe(nonce);
    expect((await getItems(tokens.access_token, { proof: { nonce: answer.nonce! } })).status).toBe(200);
  });

  it('answers 401 use_dpop_nonce to the old nonce after a rotation, with the new one', async () => {
    const rotated = await servers.rotateNonce();

    const answer = await getItems(tokens.access_token, { proof: { nonce } });

    expect(rotated).not.toBe(nonce);
    expect(answer.status).toBe(401);
    expect(answer.challenge).toMatch(/error="use_dpop_nonce"/);
    expect(answer.nonce).toBe(rotated);
    expect(await lastLogEntry()).toEqual(expect.objectContaining({ nonce, nonceOk: false, outcome: 'use_dpop_nonce' }));
  });

  it('rejects a replayed proof (same jti)', async () => {
    const proof = await dpopProof(keyPair, { htm: 'GET', htu: servers.resourceUrl, nonce, accessToken: tokens.access_token });

    expect((await getItems(tokens.access_token, { proof })).status).toBe(200);
    const replay = await getItems(tokens.access_token, { proof });

    expect(replay.status).toBe(401);
    expect(replay.challenge).toMatch(/error="invalid_dpop_proof"/);
    expect(await lastLogEntry()).toEqual(
      expect.objectContaining({ outcome: 'invalid_dpop_proof', description: expect.stringMatching(/jti/) }),
    );
  });

  it('rejects the DPoP-bound token sent with the Bearer scheme (invalid_token)', async () => {
    const answer = await getItems(tokens.access_token, { scheme: 'Bearer', proof: { nonce } });

    expect(answer.status).toBe(401);
    expect(answer.challenge).toMatch(/error="invalid_token"/);
    expect(await lastLogEntry()).toEqual(expect.objectContaining({ scheme: 'Bearer', outcome: 'invalid_token' }));
  });

  it('rejects a proof whose ath is not the hash of the token', async () => {
    const answer = await getItems(tokens.access_token, { proof: { nonce, ath: 'A'.repeat(43) } });

    expect(answer.status).toBe(401);
    expect(answer.challenge).toMatch(/error="invalid_dpop_proof"/);
    expect(await lastLogEntry()).toEqual(expect.objectContaining({ athOk: false, outcome: 'invalid_dpop_proof' }));
  });

  it('rejects a proof for another URL (htu) or another method (htm)', async () => {
    const otherUrl = await getItems(tokens.access_token, { proof: { nonce, htu: `${servers.resourceOrigin}/api/other` } });
    const otherMethod = await getItems(tokens.access_token, { proof: { nonce, htm: 'POST' } });
    // The query is not part of htu.
    const withQuery = await getItems(tokens.access_token, { proof: { nonce, htu: `${servers.resourceUrl}?page=2` } });

    expect([otherUrl.status, otherMethod.status, withQuery.status]).toEqual([401, 401, 200]);
    expect(otherUrl.challenge).toMatch(/error="invalid_dpop_proof"/);
    expect((await servers.log()).map((entry) => entry.description ?? entry.outcome)).toEqual([
      expect.stringMatching(/^htu /),
      expect.stringMatching(/^htm /),
      'ok',
    ]);
  });

  it('rejects a request without a proof, and a proof made with a key the token is not bound to', async () => {
    const missing = await getItems(tokens.access_token, { proof: null });
    const otherKey = await getItems(tokens.access_token, { key: await generateDpopKeyPair(), proof: { nonce } });

    expect(missing.status).toBe(401);
    expect(missing.challenge).toMatch(/error="invalid_dpop_proof"/);
    expect(otherKey.status).toBe(401);
    expect(otherKey.challenge).toMatch(/error="invalid_dpop_proof"/);
    expect(await lastLogEntry()).toEqual(expect.objectContaining({ athOk: true, jktOk: false }));
  });

  it('rejects a proof whose iat is more than 60 s from its clock', async () => {
    const answer = await getItems(tokens.access_token, { proof: { nonce, iat: Math.floor(Date.now() / 1000) - 120 } });

    expect(answer.status).toBe(401);
    expect(answer.challenge).toMatch(/error="invalid_dpop_proof"/);
  });

  it('answers an expired access token with 401 invalid_token', async () => {
    const shortLived = await startDpopServers({ accessTokenTtlSeconds: 1, lifetimeSeconds: 30 });
    try {
      const expiring = await shortLived.login(keyPair);
      const rsNonce = await shortLived.rsNonce();
      await new Promise((resolve) => setTimeout(resolve, 2_100));

      const response = await fetch(shortLived.resourceUrl, {
        headers: {
          Authorization: `DPoP ${expiring.access_token}`,
          DPoP: await dpopProof(keyPair, { htm: 'GET', htu: shortLived.resourceUrl, nonce: rsNonce, accessToken: expiring.access_token }),
        },
      });

      expect(response.status).toBe(401);
      expect(response.headers.get('WWW-Authenticate')).toMatch(/^DPoP error="invalid_token"/);
      expect((await shortLived.log()).at(-1)).toEqual(
        expect.objectContaining({ outcome: 'invalid_token', description: 'the access token expired' }),
      );
    } finally {
      await shortLived.stop();
    }
  });
});
