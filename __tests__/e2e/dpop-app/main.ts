/**
 * The page of the DPoP browser tests (dpop.test.ts): the package's src with its default key store
 * (IndexedDB), tab sync through localStorage, the OAuth refresh grant and authFetch, all on one
 * `dpop`'s transports: `dpop.fetch` for the code exchange and, as `dpop.wrap` over a counting fetch,
 * under the refresh grant; `dpop.resourceFetch` (over a held fetch for the held burst) under
 * authFetch. The test reads and drives it through `window.__app`.
 *
 * Where `createDpop()` throws at setup (no IndexedDB), the page builds nothing else, as an app that
 * shows an error page would: `__app.setupError()` says what was thrown.
 */
import { configureStore, type Middleware } from '@reduxjs/toolkit';
import { combineEpics, createEpicMiddleware } from 'redux-observable';
import { createTokenRefresh, localStorageStorage } from '../../../src';
import { authFetch } from '../../../src/adapters/fetch';
import { oauth2RefreshGrant } from '../../../src/adapters/oauth2';
import { DpopError, createDpop, indexedDbKeys, type Dpop } from '../../../src/dpop';
import { thumbprintOf, type PublicJwk } from '../../../src/dpop/proof';

const params = new URLSearchParams(location.search);
const tokenEndpoint = params.get('token')!;
const clientId = params.get('client')!;
const resourceUrl = params.get('api')!;
const redirectUri = params.get('redirect')!;

/** What the page saw thrown or rejected: enough for the test to tell a `DpopError` and its code. */
interface Failure {
  name: string;
  code?: string;
  dpopError: boolean;
  /** The `name` of a DpopError's `cause`: what the platform said. */
  cause?: string;
  message: string;
}
const failure = (error: unknown): Failure =>
  error instanceof DpopError
    ? { name: error.name, code: error.code, dpopError: true, cause: (error.cause as Error | undefined)?.name, message: error.message }
    : { name: (error as Error)?.name ?? typeof error, dpopError: false, message: String(error) };

/** The thumbprints of every key pair in the package's IndexedDB store, read past the package. */
function storedKeys(): Promise<string[]> {
  return new Promise<string[]>((resolve, reject) => {
    const request = indexedDB.open('redux-observable-token-refresh', 1);
    request.onupgradeneeded = () => request.result.createObjectStore('keys');
    request.onerror = () => reject(request.error ?? new Error('IndexedDB could not be opened'));
    request.onsuccess = () => {
      const db = request.result;
      const read = db.transaction('keys', 'readonly').objectStore('keys').getAll();
      read.onerror = () => (db.close(), reject(read.error ?? new Error('IndexedDB read failed')));
      read.onsuccess = () => {
        db.close();
        resolve(
          Promise.all(
            (read.result as CryptoKeyPair[]).map(async (pair) => {
              const { crv, kty, x, y } = await crypto.subtle.exportKey('jwk', pair.publicKey);
              return thumbprintOf({ crv, kty, x, y } as PublicJwk);
            }),
          ),
        );
      };
    };
  });
}

/** The thumbprint of the key in a proof's header: the key the request was signed with. */
function proofThumbprint(proof: string): Promise<string> {
  const header = JSON.parse(atob(proof.split('.')[0]!.replace(/-/g, '+').replace(/_/g, '/'))) as { jwk: PublicJwk };
  return thumbprintOf(header.jwk);
}

function app(dpop: Dpop) {
  /** Refresh grants the token endpoint accepted in this tab (a nonce challenge's 400 is not one). */
  let refreshes = 0;
  const auth = createTokenRefresh({
    storage: localStorageStorage('dpop-tokens'),
    refresh: oauth2RefreshGrant({
      tokenEndpoint,
      clientId,
      // Every attempt dpop.fetch sends (a nonce challenge's retry included) goes through the counter.
      fetchFn: dpop.wrap((input, init) => fetch(input, init).then((response) => (response.ok && refreshes++, response))),
    }),
  });
  const epicMiddleware = createEpicMiddleware();
  /** The auth actions dispatched in this tab since it loaded, without their prefix. */
  const actions: string[] = [];
  const prefix = `${auth.reducerPath}/`;
  const record: Middleware = () => (next) => (action) => {
    const { type } = action as { type: string };
    if (type.startsWith(prefix)) actions.push(type.slice(prefix.length));
    return next(action);
  };
  const store = configureStore({
    reducer: { [auth.reducerPath]: auth.reducer },
    middleware: (getDefault) => getDefault().concat(record, epicMiddleware),
  });
  epicMiddleware.run(combineEpics(auth.epic, dpop.epic(auth)));
  const apiFetch = authFetch(auth, { allowedOrigins: [new URL(resourceUrl).origin], fetchFn: dpop.resourceFetch(auth) });

  // A burst some of whose calls are held at the wire: signed (their proofs made, with the nonce
  // known then), not yet sent, until the test opens the gate. What a rotation meets in flight.
  /** The URLs whose first attempt waits at the gate (a retry goes at once). */
  const holding = new Set<string>();
  let held = 0;
  let answered = 0;
  let open = () => {};
  let gate = Promise.resolve();
  let burst: Promise<Array<number | string>> = Promise.resolve([]);
  const heldFetch = authFetch(auth, {
    allowedOrigins: [new URL(resourceUrl).origin],
    // Under dpop.resourceFetch(auth, held): the proof is made before the hold, so a held call carries the nonce of then.
    fetchFn: dpop.resourceFetch(auth, async (input, init) => {
      const url = input instanceof Request ? input.url : String(input);
      if (holding.delete(url)) {
        held++;
        await gate;
      }
      return fetch(input, init);
    }),
  });

  /** The code exchange, signed with this origin's key: the tokens are bound to it from the start. */
  async function login(code: string, codeVerifier: string) {
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
  }

  return {
    setupError: (): Failure | undefined => undefined,
    login,
    /** `login`, answering `'ok'` or what it failed with. */
    tryLogin: (code: string, codeVerifier: string) => login(code, codeVerifier).then(() => 'ok' as const, failure),
    /**
     * An app's logout (`clearTokens`, whose `loggedOut` the epic answers by deleting the key, and
     * `dpop.clear()`) and the next user's login, started in the same tick: nothing awaited between.
     */
    logoutThenLogin(code: string, codeVerifier: string) {
      auth.clearTokens();
      void dpop.clear();
      return login(code, codeVerifier);
    },
    calls: (n: number) =>
      Promise.all(
        Array.from({ length: n }, () =>
          apiFetch(resourceUrl).then(
            (response) => response.status,
            (error: Error) => (error instanceof DpopError ? `${error.name} ${error.code}` : error.name),
          ),
        ),
      ),
    /**
     * Starts `n` calls, the i-th to `api?call=i`, those from `holdFrom` on held at the gate until
     * `release()`; `burstState()` says how many are held and answered, `burstResult()` their statuses.
     */
    startBurst(n: number, holdFrom: number) {
      gate = new Promise<void>((resolve) => (open = resolve));
      held = 0;
      answered = 0;
      const urls = Array.from({ length: n }, (_, i) => `${resourceUrl}?call=${i}`);
      urls.slice(holdFrom).forEach((url) => holding.add(url));
      burst = Promise.all(
        urls.map((url) =>
          heldFetch(url).then(
            (response) => (answered++, response.status),
            (error: Error) => (answered++, error instanceof DpopError ? `${error.name} ${error.code}` : error.name),
          ),
        ),
      );
    },
    burstState: () => ({ held, answered }),
    release: () => open(),
    burstResult: () => burst,
    /** `auth.refresh()`, answering `'ok'` or what it failed with. */
    refresh: () => auth.refresh().then(() => 'ok' as const, failure),
    actions: () => [...actions],
    thumbprint: () => dpop.thumbprint(),
    /** This tab's first proof (for the token endpoint, as a login makes it), as the thumbprint of the key that signed it. */
    firstProof: async () => proofThumbprint(await dpop.proof('POST', tokenEndpoint)),
    ready: () => dpop.ready().then(() => 'ready' as const, failure),
    /** The `cnf.jkt` of the access token this tab holds: the key the server bound it to. */
    tokenJkt() {
      const token = auth.getAccessToken();
      if (!token) return undefined;
      const payload = JSON.parse(atob(token.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/'))) as { cnf?: { jkt?: string } };
      return payload.cnf?.jkt;
    },
    storedKeys,
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
  };
}

let dpop: Dpop | undefined;
let setupError: Failure | undefined;
try {
  dpop = createDpop();
} catch (error) {
  setupError = failure(error);
}
Object.assign(window, { __app: dpop ? app(dpop) : { setupError: () => setupError } });
