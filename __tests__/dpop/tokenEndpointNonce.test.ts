/**
 * The token endpoint's nonce challenge (400 `use_dpop_nonce`) and `invalid_dpop_proof` share their
 * status with `invalid_grant`, but they refuse the proof, not the refresh token: however often they
 * come, they never end the session. `invalid_grant` still does.
 */
import { createTokenRefresh } from '../../src';
import { oauth2RefreshGrant } from '../../src/adapters/oauth2';
import { createDpop, memoryKeys } from '../../src/dpop';
import { createStore } from '../support/harness';
import { sendJson, startScriptedServer, type ScriptedServer } from '../support/dpop/scriptedServer';

let as: ScriptedServer;
let challenges = 0;
let refusal: 'use_dpop_nonce' | 'invalid_dpop_proof' | 'invalid_grant' = 'use_dpop_nonce';
beforeAll(async () => {
  // A server that rotates its nonce on every request: the one retry meets a new challenge.
  as = await startScriptedServer((request, res, index) => {
    if (index < challenges)
      return refusal === 'use_dpop_nonce'
        ? sendJson(res, 400, { error: 'use_dpop_nonce' }, { 'DPoP-Nonce': `n${index}` })
        : sendJson(res, 400, { error: refusal, error_description: 'proof iat is not recent enough' });
    sendJson(res, 200, { access_token: `at-${index}`, refresh_token: `rt-${index}`, token_type: 'DPoP', expires_in: 300 });
  });
});
afterAll(() => as.close());
beforeEach(() => {
  as.received.length = 0;
  refusal = 'use_dpop_nonce';
});

test('a nonce challenge the one retry did not satisfy keeps the session and the refresh token; the next refresh works', async () => {
  challenges = 2;
  const dpop = createDpop({ keys: memoryKeys() });
  const auth = createTokenRefresh({
    refresh: oauth2RefreshGrant({ tokenEndpoint: `${as.url}/token`, clientId: 'app', dpop }),
    refreshRetries: 0,
  });
  const store = createStore(auth);
  auth.setTokens({ accessToken: 'at', refreshToken: 'rt' });
  await expect(auth.refresh()).rejects.toMatchObject({
    name: 'RefreshUnavailableError',
    cause: { name: 'DpopError', code: 'DPOP_NONCE', cause: { status: 400, error: 'use_dpop_nonce' } },
  });
  expect(store.types()).not.toContain('loggedOut');
  expect(store.state.status).not.toBe('loggedOut');
  await auth.refresh();
  expect(store.types()).not.toContain('loggedOut');
  expect(as.received.map((r) => new URLSearchParams(r.body).get('refresh_token'))).toEqual(['rt', 'rt', 'rt']);
  expect(as.received.map((r) => r.proof?.payload.nonce)).toEqual([undefined, 'n0', 'n1']);
});

test('invalid_dpop_proof from the token endpoint keeps the session and the refresh token (DPOP_PROOF); the next refresh works', async () => {
  challenges = 1;
  refusal = 'invalid_dpop_proof';
  const dpop = createDpop({ keys: memoryKeys() });
  const auth = createTokenRefresh({
    refresh: oauth2RefreshGrant({ tokenEndpoint: `${as.url}/token`, clientId: 'app', dpop }),
    refreshRetries: 0,
  });
  const store = createStore(auth);
  auth.setTokens({ accessToken: 'at', refreshToken: 'rt' });
  await expect(auth.refresh()).rejects.toMatchObject({
    name: 'RefreshUnavailableError',
    cause: { name: 'DpopError', code: 'DPOP_PROOF', cause: { status: 400, error: 'invalid_dpop_proof' } },
  });
  expect(store.types()).not.toContain('loggedOut');
  expect(store.state.status).not.toBe('loggedOut');
  // The server's Date matched this clock: nothing new was learned, so the refused proof was not retried.
  expect(as.received).toHaveLength(1);
  await auth.refresh();
  expect(store.types()).not.toContain('loggedOut');
  expect(as.received.map((r) => new URLSearchParams(r.body).get('refresh_token'))).toEqual(['rt', 'rt']);
});

test('invalid_grant from a DPoP token endpoint still ends the session', async () => {
  challenges = 1;
  refusal = 'invalid_grant';
  const dpop = createDpop({ keys: memoryKeys() });
  const auth = createTokenRefresh({
    refresh: oauth2RefreshGrant({ tokenEndpoint: `${as.url}/token`, clientId: 'app', dpop }),
    refreshRetries: 0,
  });
  const store = createStore(auth);
  auth.setTokens({ accessToken: 'at', refreshToken: 'rt' });
  await expect(auth.refresh()).rejects.toMatchObject({ name: 'TokenRefreshError', cause: { status: 400, error: 'invalid_grant' } });
  expect(store.types()).toContain('loggedOut');
});
