/**
 * syncTabs (src/tabs/channel.ts): the tabs of one origin keep one session over a BroadcastChannel
 * and refresh one at a time under a Web Lock, for a storage that cannot tell of other tabs' writes
 * (memory, the access token alone in cookie mode). Several `auth`s with their own stores stand for
 * the tabs; the browser is simulated in-process (a BroadcastChannel whose messages are delivered
 * when the test says, a FIFO lock manager), the package and the stores are real. Virtual time:
 * Jest's fake timers drive the grace timer, RxJS's async scheduler and the refresh latency alike.
 */
import { firstValueFrom, mergeMap, of, throwError, timer } from 'rxjs';
import { asyncStorage, createTokenRefresh, memoryStorage, syncTabs, type LocksLike, type TokenStorage, type Tokens } from '../../src';
import { expectWarning } from '../support/console';
import { createStore, type TestStore } from '../support/harness';

/** The browser the tabs share: its BroadcastChannel, its lock manager, and `document`. */
class FakeBrowser {
  /** Posted and not yet delivered, in order. */
  private readonly mail: Array<{ to: FakeChannel; data: unknown }> = [];
  readonly channels = new Set<FakeChannel>();
  /** The names of the locks asked for, in order. */
  readonly lockNames: string[] = [];
  private readonly queues = new Map<string, Promise<unknown>>();
  readonly held = new Set<string>();

  readonly locks: LocksLike = {
    request: <T>(name: string, ...args: unknown[]): Promise<T> => {
      this.lockNames.push(name);
      const callback = args.pop() as (lock: unknown) => Promise<T>;
      const run = (this.queues.get(name) ?? Promise.resolve()).then(async () => {
        this.held.add(name);
        try {
          return await callback({ name });
        } finally {
          this.held.delete(name);
        }
      });
      this.queues.set(
        name,
        run.catch(() => undefined),
      );
      return run;
    },
  };

  readonly BroadcastChannel = ((browser: FakeBrowser) =>
    class {
      onmessage: ((event: { data: unknown }) => void) | null = null;
      constructor(readonly name: string) {
        browser.channels.add(this);
      }
      postMessage(data: unknown) {
        // Every other instance of the same name, a copy, later (as browsers do).
        for (const other of browser.channels)
          if (other !== this && other.name === this.name) browser.mail.push({ to: other, data: structuredClone(data) });
      }
      close() {
        browser.channels.delete(this);
      }
    })(this);

  /** Delivers the messages posted so far (and any they cause), in order. */
  deliver(): void {
    while (this.mail.length) {
      const { to, data } = this.mail.shift()!;
      to.onmessage?.({ data });
    }
  }

  /** How many messages wait for delivery. */
  get pending(): number {
    return this.mail.length;
  }

  /** Makes this process look like a browser document: `document`, `BroadcastChannel`, `navigator.locks` (each optional). */
  install({ channel = true, locks = true } = {}): () => void {
    const g = globalThis as Record<string, unknown>;
    const saved = { channel: g.BroadcastChannel, navigator: Object.getOwnPropertyDescriptor(globalThis, 'navigator') };
    g.document = {};
    g.BroadcastChannel = channel ? this.BroadcastChannel : undefined;
    Object.defineProperty(globalThis, 'navigator', { value: locks ? { locks: this.locks } : {}, configurable: true });
    return () => {
      delete g.document;
      g.BroadcastChannel = saved.channel;
      if (saved.navigator) Object.defineProperty(globalThis, 'navigator', saved.navigator);
      else delete g.navigator;
    };
  }
}
type FakeChannel = InstanceType<FakeBrowser['BroadcastChannel']>;

/** The server: single-use rotating refresh tokens, access tokens valid until the next refresh. */
class Server {
  generation = 0;
  access = 'access-0';
  refreshToken = 'refresh-0';
  refreshCalls = 0;
  /** The next refreshes fail with this, as a server that refuses the refresh token. */
  refuse = false;

  get tokens(): Tokens {
    return { accessToken: this.access, refreshToken: this.refreshToken };
  }

  refresh = (refreshToken: string) =>
    timer(5).pipe(
      mergeMap(() => {
        this.refreshCalls++;
        if (this.refuse || refreshToken !== this.refreshToken) return throwError(() => ({ status: 401, error: 'invalid_grant' }));
        this.generation++;
        this.access = `access-${this.generation}`;
        this.refreshToken = `refresh-${this.generation}`;
        return of(this.tokens);
      }),
    );

  /** One API call: 401 unless the token is the current one. */
  api = (token: string) =>
    timer(2).pipe(mergeMap(() => (token === this.access ? of(`ok with ${token}`) : throwError(() => ({ status: 401 })))));

  /** The access tokens the tabs hold are refused from now on. */
  expire(): void {
    this.access = 'expired-by-the-server';
  }
}

let browser: FakeBrowser;
let server: Server;
let uninstall: () => void = () => {};
beforeEach(() => {
  jest.useFakeTimers();
  browser = new FakeBrowser();
  server = new Server();
});
afterEach(() => {
  uninstall();
  uninstall = () => {};
  jest.useRealTimers();
});

/** A tab: its own auth and store over `storage`. */
function openTab(storage: TokenStorage, name?: string) {
  const auth = createTokenRefresh({ refresh: server.refresh, storage, ...(name ? { name } : {}) });
  const store = createStore(auth);
  return { auth, store };
}

/** Lets the fake timers, the promises and the channel run until nothing is left to do within `ms`. */
async function settle(ms = 1_000): Promise<void> {
  for (let step = 0; step < ms; step += 10) {
    browser.deliver();
    await jest.advanceTimersByTimeAsync(10);
  }
  browser.deliver();
}

const ended = (store: TestStore) => store.state.ended;

describe('what one tab does reaches the others', () => {
  beforeEach(() => {
    uninstall = browser.install();
  });

  test('a login in one tab reaches the other: its store hears tokensSet, and its own storage keeps the tokens for a tab that reads it later', async () => {
    const memoryB = memoryStorage();
    const a = openTab(syncTabs(memoryStorage(), 'app'));
    const b = openTab(syncTabs(memoryB, 'app'));
    a.auth.setTokens(server.tokens);
    expect(b.auth.getAccessToken()).toBeUndefined(); // not before the message arrives
    browser.deliver();
    expect(b.auth.getAccessToken()).toBe('access-0');
    expect(b.store.types()).toEqual(['tokensSet']);
    expect(memoryB.get()).toMatchObject({ accessToken: 'access-0', refreshToken: 'refresh-0' });
  });

  test('by default the channel and the lock are named after "tokenRefresh": a tab that names it so explicitly is the same app', async () => {
    const a = openTab(syncTabs(memoryStorage()));
    const b = openTab(syncTabs(memoryStorage(), 'tokenRefresh'));
    a.auth.setTokens(server.tokens);
    browser.deliver();
    expect(b.auth.getAccessToken()).toBe('access-0');
    expect([...browser.channels].map((channel) => channel.name)).toEqual(['tokenRefresh:tokens', 'tokenRefresh:tokens']);
    server.expire();
    const call = firstValueFrom(a.auth.authorized(server.api));
    await settle();
    await expect(call).resolves.toBe('ok with access-1');
    expect(browser.lockNames).toEqual(['tokenRefresh:refresh']);
  });

  test("two apps on one origin, named apart, neither hear each other nor wait for each other's lock", async () => {
    const shop = openTab(syncTabs(memoryStorage(), 'shop'));
    const blog = openTab(syncTabs(memoryStorage(), 'blog'));
    shop.auth.setTokens(server.tokens);
    await settle();
    expect(blog.auth.getAccessToken()).toBeUndefined();
    expect(blog.store.types()).toEqual([]);
    server.expire();
    const call = firstValueFrom(shop.auth.authorized(server.api));
    await settle();
    await expect(call).resolves.toBe('ok with access-1');
    expect(browser.lockNames).toEqual(['shop:refresh']);
  });

  test('a logout in one tab ends the session in the others, which hear it was a logout, elsewhere', async () => {
    const a = openTab(syncTabs(memoryStorage(), 'app'));
    const memoryB = memoryStorage();
    const b = openTab(syncTabs(memoryB, 'app'));
    a.auth.setTokens(server.tokens);
    browser.deliver();
    a.auth.clearTokens();
    browser.deliver();
    expect(b.auth.getAccessToken()).toBeUndefined();
    expect(ended(a.store)).toEqual({ reason: 'logout', elsewhere: false });
    expect(ended(b.store)).toEqual({ reason: 'logout', elsewhere: true });
    expect(memoryB.get()).toBeNull();
  });

  test('a refresh the server refused in one tab: the other tabs hear the session was rejected, not that it was logged out', async () => {
    const a = openTab(syncTabs(memoryStorage(), 'app'));
    const b = openTab(syncTabs(memoryStorage(), 'app'));
    a.auth.setTokens(server.tokens);
    browser.deliver();
    server.expire();
    server.refuse = true;
    const call = firstValueFrom(a.auth.authorized(server.api)).catch((error: Error) => error.name);
    await settle();
    expect(await call).toBe('TokenRefreshError');
    expect(ended(a.store)).toEqual({ reason: 'rejected', elsewhere: false });
    expect(ended(b.store)).toEqual({ reason: 'rejected', elsewhere: true });
  });

  test("code that clears the shared storage itself (no reason given) ends the other tabs' session as a logout", async () => {
    const storageA = syncTabs(memoryStorage(), 'app');
    const a = openTab(storageA);
    const b = openTab(syncTabs(memoryStorage(), 'app'));
    a.auth.setTokens(server.tokens);
    browser.deliver();
    storageA.clear();
    browser.deliver();
    expect(b.auth.getAccessToken()).toBeUndefined();
    expect(ended(b.store)).toEqual({ reason: 'logout', elsewhere: true });
  });

  test('a message without tokens or a reason (another script on the channel) is taken as storage cleared, without throwing', () => {
    const b = openTab(syncTabs(memoryStorage(server.tokens), 'app'));
    expect(b.auth.getAccessToken()).toBe('access-0');
    const channel = [...browser.channels][0]!;
    expect(() => channel.onmessage!({ data: null })).not.toThrow();
    expect(b.auth.getAccessToken()).toBeUndefined();
    expect(ended(b.store)).toEqual({ reason: 'storageCleared', elsewhere: true });
  });

  test('a tab that opens on a storage already holding tokens starts signed in with them', () => {
    const tab = openTab(syncTabs(memoryStorage(server.tokens), 'app'));
    expect(tab.auth.getAccessToken()).toBe('access-0');
    expect(tab.store.state.status).toBe('authenticated');
  });

  test('a listener that unsubscribed hears no more news', () => {
    const storage = syncTabs(memoryStorage(), 'app');
    const other = syncTabs(memoryStorage(), 'app');
    const heard: Array<string | null> = [];
    const unsubscribe = storage.subscribe!((tokens) => heard.push(tokens?.accessToken ?? null));
    other.set({ accessToken: 'first' });
    browser.deliver();
    unsubscribe();
    other.set({ accessToken: 'second' });
    other.clear();
    browser.deliver();
    expect(heard).toEqual(['first']);
  });
});

describe('an async storage', () => {
  beforeEach(() => {
    uninstall = browser.install();
  });

  /** A memory storage whose writes land later, or fail. */
  const slowStorage = (fail = false) => {
    let tokens: Tokens | null = null;
    return {
      get: async () => tokens,
      set: (next: Tokens) =>
        new Promise<void>((resolve, reject) =>
          setTimeout(() => (fail ? reject(new Error('disk full')) : resolve(void (tokens = next))), 5),
        ),
      clear: () => new Promise<void>((resolve) => setTimeout(() => resolve(void (tokens = null)), 5)),
    };
  };

  test('a write is announced once it landed, not before', async () => {
    const a = openTab(syncTabs(slowStorage(), 'app'));
    const b = openTab(syncTabs(memoryStorage(), 'app'));
    await settle(20);
    a.auth.setTokens(server.tokens);
    expect(browser.pending).toBe(0);
    await settle(20);
    expect(b.auth.getAccessToken()).toBe('access-0');
  });

  test('a login whose write failed reaches the other tabs all the same, once the write is done: they take it in memory, and the clear after the failure logs out nobody', async () => {
    expectWarning('storage.set() failed (Error); the session goes on in memory.');
    const a = openTab(syncTabs(slowStorage(true), 'app'));
    const memoryB = memoryStorage();
    const b = openTab(syncTabs(memoryB, 'app'));
    await settle(20);
    a.auth.setTokens(server.tokens);
    expect(browser.pending).toBe(0);
    await settle(50);
    expect(a.auth.getAccessToken()).toBe('access-0');
    expect(b.auth.getAccessToken()).toBe('access-0');
    expect(memoryB.get()).toMatchObject({ accessToken: 'access-0' });
    expect(a.store.types()).toEqual(['loggedOut', 'tokensSet', 'storageFailed']); // loggedOut: nothing stored at start (noSession)
    expect(b.store.types()).toEqual(['tokensSet']);
  });

  /** One backend the tabs share (IndexedDB, localForage) whose writes can be made to fail, as a full disk. */
  const sharedBackend = () => {
    const data = new Map<string, string>();
    const disk = {
      data,
      /** setItem rejects. */
      full: false,
      /** removeItem rejects. */
      stuck: false,
      backend: {
        getItem: async (key: string) => data.get(key) ?? null,
        setItem: async (key: string, value: string) => {
          if (disk.full) throw new Error('Database or disk is full');
          data.set(key, value);
        },
        removeItem: async (key: string) => {
          if (disk.stuck) throw new Error('Database is closed');
          data.delete(key);
        },
      },
    };
    return disk;
  };

  test('a refresh whose write fails in one tab logs out no tab: the other tab takes the new tokens and spends no refresh token, and the writing tab goes on in memory', async () => {
    expectWarning('storage.set() failed (Error); the session goes on in memory.');
    const disk = sharedBackend();
    const a = openTab(syncTabs(asyncStorage(disk.backend, 'app/tokens'), 'app'));
    const b = openTab(syncTabs(asyncStorage(disk.backend, 'app/tokens'), 'app'));
    await settle(20); // both read the empty backend: loggedOut (noSession)
    const [startA, startB] = [a.store.actions.length, b.store.actions.length];
    a.auth.setTokens(server.tokens);
    await settle(20);
    expect(b.auth.getAccessToken()).toBe('access-0');

    disk.full = true;
    server.expire();
    const inA = firstValueFrom(a.auth.authorized(server.api)).catch((error: Error) => error.name);
    await settle();
    expect(await inA).toBe('ok with access-1');
    expect(disk.data.size).toBe(0); // the spent refresh token is not kept

    // The writing tab: the session goes on in memory, the failed write reported (docs/errors.md).
    expect(a.store.types().slice(startA)).toEqual(['tokensSet', 'refreshRequested', 'refreshSucceeded', 'storageFailed']);
    expect(a.store.state).toMatchObject({ status: 'authenticated', ended: null });
    // The other tab: no logout, and its next request goes with the tokens of that refresh.
    expect(b.store.types().slice(startB)).toEqual(['tokensSet', 'refreshSucceeded']);
    expect(b.store.state).toMatchObject({ status: 'authenticated', ended: null });
    const inB = firstValueFrom(b.auth.authorized(server.api)).catch((error: Error) => error.name);
    await settle();
    expect(await inB).toBe('ok with access-1');
    expect(server.refreshCalls).toBe(1);
    expect(a.store.state.status).toBe('authenticated');
  });

  test('a refresh whose write throws at once (a full synchronous storage) logs out no tab either: the other tab takes the new tokens', async () => {
    expectWarning('storage.set() failed (Error); the session goes on in memory.');
    let full = false;
    const memoryA = memoryStorage();
    const throwing: TokenStorage = {
      ...memoryA,
      set: (tokens) => {
        if (full) throw new Error('QuotaExceededError');
        memoryA.set(tokens);
      },
    };
    const a = openTab(syncTabs(throwing, 'app'));
    const b = openTab(syncTabs(memoryStorage(), 'app'));
    a.auth.setTokens(server.tokens);
    browser.deliver();
    full = true;
    server.expire();
    const inA = firstValueFrom(a.auth.authorized(server.api)).catch((error: Error) => error.name);
    await settle();
    expect(await inA).toBe('ok with access-1');
    expect(memoryA.get()).toBeNull(); // the spent refresh token is not kept
    expect(a.store.types()).toEqual(['tokensSet', 'refreshRequested', 'storageFailed', 'refreshSucceeded']);
    expect(b.store.types()).toEqual(['tokensSet', 'refreshSucceeded']);
    const inB = firstValueFrom(b.auth.authorized(server.api)).catch((error: Error) => error.name);
    await settle();
    expect(await inB).toBe('ok with access-1');
    expect(server.refreshCalls).toBe(1);
  });

  test('a logout whose clear fails in one tab still ends the session in the others', async () => {
    expectWarning('storage.clear() failed (Error); the session goes on in memory.');
    const disk = sharedBackend();
    const a = openTab(syncTabs(asyncStorage(disk.backend, 'app/tokens'), 'app'));
    const b = openTab(syncTabs(asyncStorage(disk.backend, 'app/tokens'), 'app'));
    await settle(20);
    a.auth.setTokens(server.tokens);
    await settle(20);
    expect(b.auth.getAccessToken()).toBe('access-0');
    disk.stuck = true;
    a.auth.clearTokens();
    await settle(20);
    expect(ended(a.store)).toEqual({ reason: 'logout', elsewhere: false });
    expect(ended(b.store)).toEqual({ reason: 'logout', elsewhere: true });
    expect(b.auth.getAccessToken()).toBeUndefined();
  });
});

describe('where the browser lacks something', () => {
  const NO_LOCKS = 'syncTabs: BroadcastChannel or Web Locks (https or localhost) missing; each tab refreshes on its own.';

  test('a BroadcastChannel without Web Locks (plain http): a development warning, and the tabs still share logins and logouts', () => {
    uninstall = browser.install({ locks: false });
    expectWarning(NO_LOCKS);
    const a = openTab(syncTabs(memoryStorage(), 'app'));
    const b = openTab(syncTabs(memoryStorage(), 'app'));
    a.auth.setTokens(server.tokens);
    browser.deliver();
    expect(b.auth.getAccessToken()).toBe('access-0');
  });

  test('no BroadcastChannel either: the warning, and each tab is on its own', () => {
    uninstall = browser.install({ channel: false, locks: false });
    expectWarning(NO_LOCKS);
    const storage = memoryStorage();
    expect(syncTabs(storage, 'app')).toBe(storage);
  });

  test('in a production build: no warning', () => {
    uninstall = browser.install({ locks: false });
    const saved = process.env.NODE_ENV;
    process.env.NODE_ENV = 'production';
    try {
      const storage = syncTabs(memoryStorage(), 'app');
      expect(storage.subscribe).toBeDefined();
    } finally {
      process.env.NODE_ENV = saved;
    }
  });

  test('on a server (no document): the storage as it is, and no warning, since the tokens of many users must never meet', () => {
    const storage = memoryStorage();
    expect(syncTabs(storage, 'app')).toBe(storage);
  });
});

describe('an account switch in one tab', () => {
  beforeEach(() => {
    uninstall = browser.install();
  });

  // Found in review (pre-existing, not from 9fe328a: no write fails here). A tab that hears a logout
  // clears its own storage, and syncTabs announces that clear as a logout of its own: an echo. When
  // the tab that logged out has meanwhile logged another user in (`clearTokens()` then `setTokens()`,
  // as an account switch does), the echo arrives after that login and ends it, in every tab (and,
  // depending on timing, storage keeps the new user's tokens, which a reload then signs in).
  test("another tab's echo of the logout does not end the login that followed it", async () => {
    const data = new Map<string, string>();
    const backend = {
      getItem: async (key: string) => data.get(key) ?? null,
      setItem: async (key: string, value: string) => void data.set(key, value),
      removeItem: async (key: string) => void data.delete(key),
    };
    const a = openTab(syncTabs(asyncStorage(backend, 'app/tokens'), 'app'));
    const b = openTab(syncTabs(asyncStorage(backend, 'app/tokens'), 'app'));
    await settle(20);
    a.auth.setTokens(server.tokens);
    await settle(20);
    expect(b.auth.getAccessToken()).toBe('access-0');
    b.auth.clearTokens();
    await settle(10);
    b.auth.setTokens({ accessToken: 'user2-access', refreshToken: 'user2-refresh' });
    await settle(300);
    expect(b.store.state).toMatchObject({ status: 'authenticated', ended: null });
    expect(a.auth.getAccessToken()).toBe('user2-access');
    expect(data.get('app/tokens')).toContain('user2-access');
  });
});
