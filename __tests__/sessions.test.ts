import { Observable, mergeMap, of, throwError, timer } from 'rxjs';
import {
  NotAuthenticatedError,
  RefreshUnavailableError,
  asyncStorage,
  createTokenRefresh,
  localStorageStorage,
  memoryStorage,
  type TokenStorage,
  type Tokens,
} from '../src';
import { newTestScheduler, createStore } from './support/harness';
import { Browser, type Tab } from './support/tabs';
import { expectWarning } from './support/console';
import { cookieSession } from '../src/cookie';
import { syncTabs } from '../src';

/**
 * Issue 9, in virtual time: the session models apps use. The refresh token in an HttpOnly cookie
 * (the package never sees it), an async storage hydrated once at start, `auth.restore()` at page
 * load, and tabs kept in step for a storage that cannot do it itself.
 */
let ts = newTestScheduler();
beforeEach(() => (ts = newTestScheduler()));
const at = <T>(frame: number, source$: () => Observable<T>) => timer(frame).pipe(mergeMap(source$));

/** A token endpoint that reads the refresh token from a cookie jar, as a browser sends it. */
function cookieServer(latency = 5) {
  const server = { cookie: 'c0' as string | undefined, calls: [] as unknown[], gen: 0, valid: 'a0' };
  const refresh = (refreshToken: undefined, { signal }: { signal: AbortSignal }) => {
    server.calls.push(refreshToken);
    void signal;
    return timer(latency).pipe(
      mergeMap(() => {
        if (!server.cookie) return throwError(() => ({ status: 401 }));
        server.gen++;
        server.cookie = `c${server.gen}`; // Set-Cookie: rotated
        server.valid = `a${server.gen}`;
        return of({ accessToken: server.valid });
      }),
    );
  };
  const api = (token: string) =>
    timer(2).pipe(mergeMap(() => (token === server.valid ? of(`ok ${token}`) : throwError(() => ({ status: 401 })))));
  return { server, refresh, api };
}

describe('cookie mode', () => {
  test('setTokens({ accessToken }) is the login; a 401 calls refresh with undefined (the browser sends the cookie) and replays', () =>
    ts.run(({ expectObservable, flush }) => {
      const { server, refresh, api } = cookieServer();
      const auth = createTokenRefresh({ session: cookieSession(), refresh });
      const store = createStore(auth);
      auth.setTokens({ accessToken: 'stale' });
      expectObservable(auth.authorized(api)).toBe('---------(v|)', { v: 'ok a1' });
      flush();
      expect(server.calls).toEqual([undefined]);
      expect(store.types()).toEqual(['tokensSet', 'refreshRequested', 'refreshSucceeded']);
    }));

  test('no refresh token is kept or stored, even if the endpoint answers one', () =>
    ts.run(({ flush }) => {
      const storage = memoryStorage();
      const auth = createTokenRefresh({
        session: cookieSession(),
        refresh: () => of({ accessToken: 'a1', refreshToken: 'leaked' }),
        storage,
      });
      createStore(auth);
      auth.setTokens({ accessToken: 'a0', refreshToken: 'also-leaked' });
      expect(storage.get()).toEqual({ accessToken: 'a0', sessionId: expect.any(String), version: 1 });
      void auth.refresh();
      flush();
      expect(storage.get()).toEqual({ accessToken: 'a1', sessionId: expect.any(String), version: 2 });
    }));

  test('auth.refresh() without an access token in memory asks the cookie (no NotAuthenticatedError)', async () => {
    const auth = createTokenRefresh({ session: cookieSession(), refresh: async () => ({ accessToken: 'from-cookie' }) });
    createStore(auth);
    await auth.refresh();
    expect(auth.getAccessToken()).toBe('from-cookie');
  });
});

describe('restore on page load', () => {
  test('a cookie session is restored with one refresh; requests made meanwhile wait for it and go out with its token', async () => {
    let restored!: Promise<boolean>;
    ts.run(({ expectObservable, flush }) => {
      const { server, refresh, api } = cookieServer(10);
      const auth = createTokenRefresh({ session: cookieSession(), refresh });
      const store = createStore(auth);
      restored = auth.restore();
      expect(store.state.status).toBe('restoring');
      expectObservable(at(3, () => auth.authorized(api))).toBe('------------(v|)', { v: 'ok a1' });
      flush();
      expect(server.calls).toHaveLength(1);
      expect(store.state.status).toBe('authenticated');
      expect(store.types()).toEqual(['refreshRequested', 'tokensSet']);
    });
    expect(await restored).toBe(true);
  });

  test('no cookie (the endpoint answers 401): unauthenticated quietly, no error in the store, waiting requests fail with NotAuthenticatedError', async () => {
    const warn = jest.spyOn(console, 'error').mockImplementation(() => {});
    const auth = createTokenRefresh({ session: cookieSession(), refresh: () => Promise.reject({ status: 401 }) });
    const store = createStore(auth);
    const waiting = new Promise((resolve) => auth.authorized((token) => of(token)).subscribe({ error: resolve }));
    const restore = auth.restore();
    expect(await restore).toBe(false);
    expect(await waiting).toBeInstanceOf(NotAuthenticatedError);
    expect(store.state).toEqual({
      status: 'unauthenticated',
      expiresAt: null,
      refreshAt: null,
      lastError: null,
      ended: { reason: 'noSession', elsewhere: false },
    });
    expect(store.types()).toEqual(['refreshRequested', 'loggedOut']);
    expect(warn).not.toHaveBeenCalled();
    warn.mockRestore();
  });

  test('called twice, the second joins the first: one refresh', () =>
    ts.run(({ flush }) => {
      const { server, refresh } = cookieServer(10);
      const auth = createTokenRefresh({ session: cookieSession(), refresh });
      createStore(auth);
      void auth.restore();
      at(5, () => of(auth.restore())).subscribe();
      flush();
      expect(server.calls).toHaveLength(1);
    }));

  test('asked for before epicMiddleware.run: the restore waits for auth.epic instead of failing', () =>
    ts.run(({ flush }) => {
      const { server, refresh } = cookieServer(10);
      const auth = createTokenRefresh({ session: cookieSession(), refresh });
      void auth.restore();
      expect(auth.getStatus()).toBe('restoring');
      at(5, () => of(createStore(auth))).subscribe();
      flush();
      expect(server.calls).toHaveLength(1);
      expect(auth.getStatus()).toBe('authenticated');
    }));

  test('offline at page load: restore rejects with RefreshUnavailableError, status unavailable, and the next request after the cool-down tries again', async () => {
    let down = true;
    let calls = 0;
    const auth = createTokenRefresh({
      session: cookieSession(),
      refreshRetries: 0,
      refreshBackoffMs: 0,
      refresh: () => (calls++, down ? Promise.reject(new TypeError('Failed to fetch')) : Promise.resolve({ accessToken: 'back' })),
    });
    createStore(auth);
    await expect(auth.restore()).rejects.toBeInstanceOf(RefreshUnavailableError);
    expect(auth.getStatus()).toBe('unavailable');
    down = false;
    const token = await new Promise((resolve, reject) => auth.authorized((t) => of(t)).subscribe({ next: resolve, error: reject }));
    expect(token).toBe('back');
    expect(calls).toBe(2);
  });

  test('in storage mode with a synchronous storage, restore resolves at once with whether a session is stored', async () => {
    const auth = createTokenRefresh({
      refresh: () => of({ accessToken: 'x' }),
      storage: memoryStorage({ accessToken: 'a', refreshToken: 'r' }),
    });
    expect(await auth.restore()).toBe(true);
    const none = createTokenRefresh({ refresh: () => of({ accessToken: 'x' }) });
    expect(await none.restore()).toBe(false);
  });
});

/** An async storage double: answers when `resolve` is called, as AsyncStorage answers a while after start. */
function slowStorage(initial: Tokens | null) {
  let value = initial;
  let answer!: () => void;
  const storage: TokenStorage = {
    get: () => new Promise<Tokens | null>((resolve) => (answer = () => resolve(value))),
    set: async (tokens) => void (value = tokens),
    clear: async () => void (value = null),
  };
  return { storage, answer: () => answer(), value: () => value };
}

describe('async storage', () => {
  test('requests made before hydration completes wait for it, then go out with the stored token', async () => {
    const { storage, answer } = slowStorage({ accessToken: 'stored', refreshToken: 'r' });
    const auth = createTokenRefresh({ refresh: () => of({ accessToken: 'x' }), storage });
    const store = createStore(auth);
    expect(store.state.status).toBe('restoring');
    const sent: string[] = [];
    const done = new Promise<void>((resolve) =>
      auth.authorized((token) => (sent.push(token), of(token))).subscribe({ complete: () => resolve() }),
    );
    expect(sent).toEqual([]);
    answer();
    await done;
    expect(sent).toEqual(['stored']);
    expect(store.state.status).toBe('authenticated');
    expect(store.types()).toEqual(['tokensSet']);
  });

  test('a stored token that expired while the app was closed is refreshed before the first request: no wasted 401', async () => {
    const { storage, answer } = slowStorage({ accessToken: 'old', refreshToken: 'r', expiresAt: Date.now() - 60_000 });
    const auth = createTokenRefresh({
      refresh: async () => ({ accessToken: 'new', refreshToken: 'r2', expiresAt: Date.now() + 3_600_000 }),
      storage,
    });
    createStore(auth);
    const sent: string[] = [];
    const done = new Promise<void>((resolve) =>
      auth.authorized((token) => (sent.push(token), of(token))).subscribe({ complete: () => resolve() }),
    );
    answer();
    await done;
    expect(sent).toEqual(['new']);
  });

  test('a hydration that throws (or rejects) starts logged out, reports storageFailed, and fails waiting requests with NotAuthenticatedError', async () => {
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => {});
    const auth = createTokenRefresh({
      refresh: () => of({ accessToken: 'x' }),
      storage: { get: () => Promise.reject(new Error('corrupt')), set: () => {}, clear: () => {} },
    });
    const store = createStore(auth);
    const error = await new Promise((resolve) => auth.authorized((token) => of(token)).subscribe({ error: resolve }));
    expect(error).toBeInstanceOf(NotAuthenticatedError);
    expect(store.types()).toEqual(['storageFailed', 'loggedOut']);
    expect(store.state.status).toBe('unauthenticated');
    warn.mockRestore();
  });

  test('asyncStorage(backend, key) over a Promise key-value store (AsyncStorage, localForage): hydrates, writes through, validates what it reads', async () => {
    const data = new Map<string, string>([['app/tokens', JSON.stringify({ accessToken: 'kept', refreshToken: 'r' })]]);
    const backend = {
      getItem: async (key: string) => data.get(key) ?? null,
      setItem: async (key: string, value: string) => void data.set(key, value),
      removeItem: async (key: string) => void data.delete(key),
    };
    const auth = createTokenRefresh({ refresh: () => of({ accessToken: 'x' }), storage: asyncStorage(backend, 'app/tokens') });
    expect(await auth.restore()).toBe(true);
    expect(auth.getAccessToken()).toBe('kept');
    auth.setTokens({ accessToken: 'next', refreshToken: 'r2' });
    await new Promise((resolve) => setImmediate(resolve));
    expect(JSON.parse(data.get('app/tokens')!)).toMatchObject({ accessToken: 'next', refreshToken: 'r2' });
    expect(JSON.parse(data.get('app/tokens')!)).not.toHaveProperty('refreshToken', 'r');
    auth.clearTokens();
    await new Promise((resolve) => setImmediate(resolve));
    expect(data.has('app/tokens')).toBe(false);

    data.set('app/tokens', JSON.stringify({ accessToken: 'x', expiresAt: '<img src=x onerror=alert(1)>' }));
    const tampered = createTokenRefresh({ refresh: () => of({ accessToken: 'x' }), storage: asyncStorage(backend, 'app/tokens') });
    expect(await tampered.restore()).toBe(false);
  });

  test('a storage key is required, so two apps of one origin never share an entry by accident', () => {
    expectWarning(/no Web Locks/); // locks: null, as in a plain-http page
    const browser = new Browser();
    const options = (tab: Tab) => ({ storage: tab.localStorage, locks: null, events: tab.events });
    const shop = browser.openTab();
    // Written by a caller of the old API (the key used to default to `name`).
    const untyped = localStorageStorage as (key?: string, opts?: object) => unknown;
    expect(() => untyped(undefined, options(shop))).toThrow(TypeError);
    expect(() => untyped(undefined, options(shop))).toThrow("e.g. localStorageStorage('my-app/tokens')");
    expect(() => untyped('', options(shop))).toThrow(TypeError);
    expect(() => asyncStorage({ getItem: async () => null, setItem: async () => {}, removeItem: async () => {} }, '')).toThrow(
      "asyncStorage(AsyncStorage, 'my-app/tokens')",
    );

    // /shop and /admin: two documents of one origin, one localStorage, a key each.
    const admin = browser.openTab();
    const shopAuth = createTokenRefresh({
      refresh: () => of({ accessToken: 'x' }),
      storage: localStorageStorage('shop/tokens', options(shop)),
    });
    const adminAuth = createTokenRefresh({
      refresh: () => of({ accessToken: 'x' }),
      storage: localStorageStorage('admin/tokens', options(admin)),
    });
    shopAuth.setTokens({ accessToken: 'shop-a', refreshToken: 'shop-r' });
    expect(adminAuth.getAccessToken()).toBeUndefined();
    adminAuth.setTokens({ accessToken: 'admin-a', refreshToken: 'admin-r' });
    expect(shopAuth.getAccessToken()).toBe('shop-a');
  });
});

describe('tabs in step for memory storage and cookie mode', () => {
  /** Two tabs of one browser: a BroadcastChannel and Web Locks shared by both, as the browser provides. */
  function browserGlobals() {
    const channels = new Set<{ name: string; onmessage: ((event: { data: unknown }) => void) | null; self: object }>();
    class Channel {
      onmessage: ((event: { data: unknown }) => void) | null = null;
      constructor(readonly name: string) {
        channels.add(Object.assign(this, { self: this }));
      }
      postMessage(data: unknown) {
        for (const other of channels)
          if (other.self !== this && other.name === this.name) queueMicrotask(() => other.onmessage?.({ data: structuredClone(data) }));
      }
    }
    let held = Promise.resolve();
    let busy = false;
    const locks = {
      request: (_name: string, ...args: unknown[]) => {
        const callback = args.pop() as (lock: unknown) => Promise<unknown>;
        if ((args[0] as { ifAvailable?: boolean } | undefined)?.ifAvailable && busy) return callback(null);
        const run = held.then(async () => {
          busy = true;
          try {
            return await callback({});
          } finally {
            busy = false;
          }
        });
        held = run.then(
          () => undefined,
          () => undefined,
        );
        return run;
      },
    };
    const globals = globalThis as unknown as Record<string, unknown>;
    const saved = { BroadcastChannel: globals.BroadcastChannel, navigator: globals.navigator, document: globals.document };
    Object.defineProperty(globalThis, 'navigator', { value: { locks }, configurable: true });
    globals.BroadcastChannel = Channel;
    globals.document = {};
    return () => {
      Object.defineProperty(globalThis, 'navigator', { value: saved.navigator, configurable: true });
      globals.BroadcastChannel = saved.BroadcastChannel;
      if (saved.document === undefined) delete globals.document;
    };
  }

  test('cookie mode: two tabs meeting an expired token at once cause one refresh; the other tab adopts its token; a logout in one logs out the other', async () => {
    const restoreGlobals = browserGlobals();
    try {
      let calls = 0;
      let valid = 'a0';
      const refresh = () => new Promise<Tokens>((resolve) => setTimeout(() => resolve({ accessToken: (valid = `a${++calls}`) }), 20));
      const tabA = createTokenRefresh({ session: cookieSession(), refresh });
      const tabB = createTokenRefresh({ session: cookieSession(), refresh });
      createStore(tabA);
      const storeB = createStore(tabB);
      tabA.setTokens({ accessToken: 'a0' });
      await new Promise((resolve) => setTimeout(resolve, 0));
      expect(tabB.getAccessToken()).toBe('a0');
      valid = 'none';
      const api = (token: string) => (token === valid ? Promise.resolve(token) : Promise.reject({ status: 401 }));
      const results = await Promise.all(
        [tabA, tabB, tabA, tabB].map(
          (auth) => new Promise((resolve, reject) => auth.authorized(api).subscribe({ next: resolve, error: reject })),
        ),
      );
      expect(calls).toBe(1);
      expect(results).toEqual(['a1', 'a1', 'a1', 'a1']);
      tabA.clearTokens();
      await new Promise((resolve) => setTimeout(resolve, 0));
      expect(tabB.getAccessToken()).toBeUndefined();
      expect(storeB.state.status).toBe('unauthenticated');
    } finally {
      restoreGlobals();
    }
  });

  test('memory storage stays per tab unless the app opts in with storage: syncTabs(memoryStorage())', async () => {
    const restoreGlobals = browserGlobals();
    try {
      const refresh = () => of({ accessToken: 'x' });
      const [a, b] = [createTokenRefresh({ refresh }), createTokenRefresh({ refresh })];
      a.setTokens({ accessToken: 'a', refreshToken: 'r' });
      const [c, d] = [
        createTokenRefresh({ refresh, storage: syncTabs(memoryStorage()) }),
        createTokenRefresh({ refresh, storage: syncTabs(memoryStorage()) }),
      ];
      c.setTokens({ accessToken: 'c', refreshToken: 'r' });
      await new Promise((resolve) => setTimeout(resolve, 0));
      expect(b.getAccessToken()).toBeUndefined();
      expect(d.getAccessToken()).toBe('c');
    } finally {
      restoreGlobals();
    }
  });

  test('on a server (no document) nothing is shared between instances, even in cookie mode: one auth per request never leaks a token', async () => {
    const refresh = () => of({ accessToken: 'x' });
    const [a, b] = [createTokenRefresh({ session: cookieSession(), refresh }), createTokenRefresh({ session: cookieSession(), refresh })];
    a.setTokens({ accessToken: 'user-a' });
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(b.getAccessToken()).toBeUndefined();
  });
});

test('a restore asked for while auth.epic never runs ends after refreshTimeoutMs with EpicNotRunningError: nothing hangs', () =>
  ts.run(({ flush }) => {
    const auth = createTokenRefresh({ session: cookieSession(), refresh: () => of({ accessToken: 'x' }), refreshTimeoutMs: 1_000 });
    void auth.restore();
    const errors: Array<{ at: number; name: string }> = [];
    auth.authorized((token) => of(token)).subscribe({ error: (e: Error) => errors.push({ at: ts.now(), name: e.name }) });
    flush();
    expect(errors).toEqual([{ at: 1_000, name: 'EpicNotRunningError' }]);
    expect(auth.getStatus()).toBe('unauthenticated');
  }));
