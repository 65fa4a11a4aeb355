/**
 * The token endpoint's nonce challenge (400 `use_dpop_nonce`) and `invalid_dpop_proof` share their
 * status with `invalid_grant`, but they refuse the proof, not the refresh token: they keep the
 * session (`invalid_dpop_proof` up to the third in a row: some servers answer
 * a key the refresh token is not bound to so). `invalid_grant` ends it at once.
 */
import { createTokenRefresh } from '../../src';
import { oauth2RefreshGrant } from '../../src/adapters/oauth2';
import { createDpop, memoryKeys } from '../../src/dpop';
import { createStore } from '../support/harness';
import { sendJson, startScriptedServer, type ScriptedServer } from '../support/dpop/scriptedServer';
import { thumbprint } from './support';

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
  const { auth, store } = signedIn(as);
  await expect(auth.refresh()).rejects.toMatchObject({
    name: 'RefreshUnavailableError',
    cause: { name: 'DpopError', code: 'DPOP_NONCE' },
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
  const { auth, store } = signedIn(as);
  await expect(auth.refresh()).rejects.toMatchObject({
    name: 'RefreshUnavailableError',
    cause: { name: 'DpopError', code: 'DPOP_PROOF' },
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
  const { auth, store } = signedIn(as);
  await expect(auth.refresh()).rejects.toMatchObject({ name: 'TokenRefreshError', cause: { status: 400, error: 'invalid_grant' } });
  expect(store.types()).toContain('loggedOut');
});

describe('a refresh token bound to a key this app no longer has', () => {
  // Duende IdentityServer ("The DPoP proof token in the refresh token request does not match the
  // original used.") and Spring Authorization Server ("jwk header is invalid.") answer a public
  // client's refresh with another key 400 `invalid_dpop_proof`, not `invalid_grant`. The key is gone
  // after a reload with memoryKeys() (docs/dpop.md: "a reload then needs a new login"), a restart of
  // a React Native or Node app (memory is the default there), or IndexedDB cleared: that refresh
  // token can never be spent again, and the session must end rather than fail every request forever.
  let bound: ScriptedServer;
  let jkt = '';
  beforeAll(async () => {
    bound = await startScriptedServer((request, res) => {
      void thumbprint(request.proof!.header.jwk).then((key) =>
        key === jkt
          ? sendJson(res, 200, { access_token: 'at-2', refresh_token: 'rt-2', token_type: 'DPoP', expires_in: 300 })
          : sendJson(res, 400, {
              error: 'invalid_dpop_proof',
              error_description: 'The DPoP proof token in the refresh token request does not match the original used.',
            }),
      );
    });
  });
  afterAll(() => bound.close());

  test('the session ends after a few refusals in a row: no session that keeps failing every request and never asks to log in', async () => {
    jkt = await createDpop({ keys: memoryKeys() }).thumbprint(); // the key of the login, lost since
    const { auth, store } = signedIn(bound); // after the reload: a new key
    for (let attempt = 0; attempt < 10 && store.state.status !== 'unauthenticated'; attempt++) await auth.refresh().catch(() => undefined);
    expect(store.state).toMatchObject({ status: 'unauthenticated', ended: { reason: 'rejected', elsewhere: false } });
    expect(bound.received.length).toBeLessThanOrEqual(3);
  });

  test('a refusal that the next refresh does not repeat counts anew: one now and then never ends the session', async () => {
    const dpop = createDpop({ keys: memoryKeys() });
    jkt = await dpop.thumbprint();
    let refuseNext = 0;
    const flaky = await startScriptedServer((request, res, index) => {
      if (index % 2 === 0 && refuseNext++ < 5) return sendJson(res, 400, { error: 'invalid_dpop_proof' });
      sendJson(res, 200, { access_token: `at-${index}`, token_type: 'DPoP', expires_in: 300 }); // not rotating
    });
    try {
      const { auth, store } = signedIn(flaky, dpop);
      for (let attempt = 0; attempt < 8; attempt++) await auth.refresh().catch(() => undefined);
      expect(store.types()).not.toContain('loggedOut');
      expect(flaky.received).toHaveLength(8);
    } finally {
      await flaky.close();
    }
  });
});

/** A session whose refresh goes to `server`'s token endpoint with DPoP (a key of its own), no retries. */
function signedIn(server: ScriptedServer, dpop = createDpop({ keys: memoryKeys() })) {
  const auth = createTokenRefresh({
    refresh: oauth2RefreshGrant({ tokenEndpoint: `${server.url}/token`, clientId: 'app', fetchFn: dpop.fetch }),
    refreshRetries: 0,
  });
  const store = createStore(auth);
  auth.setTokens({ accessToken: 'at', refreshToken: 'rt' });
  return { auth, store };
}
