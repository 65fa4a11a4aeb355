/**
 * Edges of a session being restored, each found by an adversarial review and failing before its
 * fix: an abort while a request waits for the restore, a login call after a restore that could not
 * be done, a logout whose end mark cannot be written, and cookie mode on a server (no document, no
 * epic), where nothing waits for a restore that nobody will run.
 */
import { createTokenRefresh, localStorageStorage, type Tokens } from '../src';
import { authFetch } from '../src/adapters/fetch';
import { createStore } from './support/harness';
import { Browser } from './support/tabs';
import { until } from './support/realServer';
import { expectWarning } from './support/console';
import { cookieSession } from '../src/cookie';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const settleWithin = <T>(promise: Promise<T>, ms: number): Promise<{ value?: T; error?: unknown } | 'pending'> =>
  Promise.race([
    promise.then(
      (value) => ({ value }),
      (error: unknown) => ({ error }),
    ),
    sleep(ms).then(() => 'pending' as const),
  ]);

/** A fetch that answers 200 and records what it was sent with. */
function recordingFetch() {
  const calls: Array<{ url: string; authorization: string | null }> = [];
  const fetchFn = (async (input: RequestInfo | URL, init?: RequestInit) => {
    init?.signal?.throwIfAborted();
    calls.push({
      url: typeof input === 'string' ? input : input instanceof URL ? input.href : input.url,
      authorization: new Headers(init?.headers).get('authorization'),
    });
    return new Response('{}', { status: 200 });
  }) as typeof fetch;
  return { calls, fetchFn };
}

test('authFetch: aborting a request that waits for the page-load cookie restore rejects at once with AbortError (as documented)', async () => {
  // The cookie's refresh is slow (a cold server): the restore is in flight for seconds.
  const auth = createTokenRefresh({
    session: cookieSession(),
    refreshRetries: 0,
    refreshTimeoutMs: 1_000,
    refresh: (_none: undefined, { signal }: { signal: AbortSignal }) =>
      new Promise<Tokens>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
  });
  const store = createStore(auth);
  void auth.restore().catch(() => undefined); // the page-load restore (Node has no document to start it by itself)
  const { fetchFn } = recordingFetch();
  const apiFetch = authFetch(auth, { fetchFn, allowedOrigins: ['https://api.example.com'] });
  const controller = new AbortController();
  const response = apiFetch('https://api.example.com/items', { signal: controller.signal });
  await sleep(10);
  controller.abort();
  const outcome = await settleWithin(response, 300);
  auth.clearTokens();
  store.stop();
  await response.catch(() => undefined);
  expect(outcome).not.toBe('pending');
  expect((outcome as { error?: Error }).error?.name).toBe('AbortError');
});

test('cookie mode: after the page-load restore could not be done (503), a login call through authFetch is sent as written, not failed', async () => {
  let refreshes = 0;
  const auth = createTokenRefresh({
    session: cookieSession(),
    refreshRetries: 0,
    refreshBackoffMs: 20,
    // The refresh endpoint hiccups once at page load, then says what it says without a cookie: 401.
    refresh: async () => {
      refreshes++;
      throw Object.assign(new Error('refresh failed'), { status: refreshes === 1 ? 503 : 401 });
    },
  });
  const store = createStore(auth);
  void auth.restore().catch(() => undefined);
  await until(() => auth.getStatus() === 'unavailable', 'the restore could not be done');
  const { calls, fetchFn } = recordingFetch();
  const apiFetch = authFetch(auth, { fetchFn, allowedOrigins: ['https://api.example.com'] });
  const login = () =>
    apiFetch('https://api.example.com/login', { method: 'POST', body: '{"user":"u","password":"p"}' }).then(
      (r) => r.status,
      (e: Error) => e.name,
    );
  // During the cool-down, and after it (the cookie then says "no session").
  const during = await login();
  await sleep(150);
  const after = await login();
  store.stop();
  expect({ during, after, sent: calls.length }).toEqual({ during: 200, after: 200, sent: 2 });
});

test('localStorageStorage: a logout removes the tokens even when writing the end mark fails (storage full)', () => {
  const browser = new Browser();
  const tab = browser.openTab();
  let full = false;
  const storage: Storage = {
    ...tab.localStorage,
    getItem: (key) => tab.localStorage.getItem(key),
    removeItem: (key) => tab.localStorage.removeItem(key),
    setItem: (key, value) => {
      if (full) throw Object.assign(new Error('The quota has been exceeded.'), { name: 'QuotaExceededError' });
      tab.localStorage.setItem(key, value);
    },
  };
  const auth = createTokenRefresh({
    refresh: async () => ({ accessToken: 'a2', refreshToken: 'r2' }),
    storage: localStorageStorage('app/tokens', { storage, locks: browser.locks, events: tab.events }),
  });
  const store = createStore(auth);
  auth.setTokens({ accessToken: 'a1', refreshToken: 'r1' });
  expect(tab.localStorage.getItem('app/tokens')).toContain('a1');
  // Other code (a cache, drafts) fills the origin's quota; then the user logs out.
  full = true;
  expectWarning(/storage\.clear\(\) failed/);
  auth.clearTokens();
  store.stop();
  // The refresh token must not survive a logout: the next page load would sign the user back in.
  expect(tab.localStorage.getItem('app/tokens')).toBeNull();
});

test('server-side rendering, cookie mode, one auth per request and no epic: a request through authFetch goes out at once, not after refreshTimeoutMs', async () => {
  // What docs/session-models.md prescribes on a server: a fresh auth per request; no store epic runs there.
  const auth = createTokenRefresh({ session: cookieSession(), refresh: async () => ({ accessToken: 'never-called' }) });
  const { calls, fetchFn } = recordingFetch();
  const apiFetch = authFetch(auth, { fetchFn, allowedOrigins: ['https://api.example.com'] });
  const response = apiFetch('https://api.example.com/public/products');
  const outcome = await settleWithin(
    response.then((r) => r.status),
    500,
  );
  auth.clearTokens(); // ends the queued restore and its timer
  await response.catch(() => undefined);
  expect({ outcome, calls: calls.length }).toEqual({ outcome: { value: 200 }, calls: 1 });
});
