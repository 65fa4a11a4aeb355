/**
 * The page of the DPoP browser tests (dpop.test.ts): the package's src with its default key store
 * (IndexedDB), tab sync through localStorage, the OAuth refresh grant and authFetch, all with one
 * `dpop`. The test reads and drives it through `window.__app`.
 */
import { configureStore } from '@reduxjs/toolkit';
import { combineEpics, createEpicMiddleware } from 'redux-observable';
import { createTokenRefresh, localStorageStorage } from '../../../src';
import { authFetch } from '../../../src/adapters/fetch';
import { oauth2RefreshGrant } from '../../../src/adapters/oauth2';
import { createDpop, indexedDbKeys } from '../../../src/dpop';

const params = new URLSearchParams(location.search);
const tokenEndpoint = params.get('token')!;
const clientId = params.get('client')!;
const resourceUrl = params.get('api')!;
const redirectUri = params.get('redirect')!;

/** Refresh grants the token endpoint accepted in this tab (a nonce challenge's 400 is not one). */
let refreshes = 0;
const dpop = createDpop();
const auth = createTokenRefresh({
  storage: localStorageStorage('dpop-tokens'),
  refresh: oauth2RefreshGrant({
    tokenEndpoint,
    clientId,
    dpop,
    fetchFn: (input, init) => fetch(input, init).then((response) => (response.ok && refreshes++, response)),
  }),
});
const epicMiddleware = createEpicMiddleware();
const store = configureStore({
  reducer: { [auth.reducerPath]: auth.reducer },
  middleware: (getDefault) => getDefault().concat(epicMiddleware),
});
epicMiddleware.run(combineEpics(auth.epic, dpop.epic(auth)));
const apiFetch = authFetch(auth, { allowedOrigins: [new URL(resourceUrl).origin], dpop });

Object.assign(window, {
  __app: {
    /** The code exchange, signed with this origin's key: the tokens are bound to it from the start. */
    async login(code: string, codeVerifier: string) {
      const response = await dpop.fetch(tokenEndpoint, {
        method: 'POST',
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code,
          code_verifier: codeVerifier,
          client_id: clientId,
          redirect_uri: redirectUri,
        }),
      });
      const answer = (await response.json()) as { access_token: string; refresh_token: string; token_type: string };
      if (!response.ok || answer.token_type !== 'DPoP') throw new Error(`login answered ${response.status}`);
      // Told it lives an hour: the API's 401 invalid_token, not the known expiry, starts the refresh.
      auth.setTokens({ accessToken: answer.access_token, refreshToken: answer.refresh_token, expiresAt: Date.now() + 3_600_000 });
    },
    calls: (n: number) =>
      Promise.all(
        Array.from({ length: n }, () =>
          apiFetch(resourceUrl).then(
            (response) => response.status,
            (error: Error) => error.name,
          ),
        ),
      ),
    thumbprint: () => dpop.thumbprint(),
    refreshes: () => refreshes,
    status: () => (store.getState() as Record<string, { status: string }>)[auth.reducerPath]!.status,
    logout: () => auth.clearTokens(),
    /** What an XSS payload would try: read the private key out of IndexedDB and export it. */
    async stealKey() {
      const keys = await indexedDbKeys().get();
      if (!keys) return 'no key';
      return crypto.subtle.exportKey('jwk', keys.privateKey).then(
        () => 'exported',
        () => 'refused',
      );
    },
  },
});
