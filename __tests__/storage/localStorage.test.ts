/**
 * localStorageStorage(key): tokens in localStorage, shared by the tabs of one origin. What it reads
 * back may have been written by anyone (another app version, other code, a user in the devtools),
 * so only tokens are tokens; a logout leaves an end mark `{"ended":reason}` that tells the other
 * tabs why; another tab's writes reach this one through `storage` events; refreshes take a Web Lock
 * named after the key. The browser is simulated by __tests__/support/tabs.ts.
 */
import { localStorageStorage, type EndReason, type Tokens } from '../../src';
import { expectWarning } from '../support/console';
import { Browser, type Tab } from '../support/tabs';

const KEY = 'app/tokens';
const tokens: Tokens = { accessToken: 'access-1', refreshToken: 'refresh-1', expiresAt: 1_700_000_000_000 };
const REASONS: EndReason[] = ['logout', 'rejected', 'refreshError', 'otherUser', 'storageCleared', 'noSession'];

let browser: Browser;
let tabA: Tab;
let tabB: Tab;
beforeEach(() => {
  browser = new Browser();
  tabA = browser.openTab();
  tabB = browser.openTab();
});

const storageOf = (tab: Tab, key = KEY) =>
  localStorageStorage(key, { storage: tab.localStorage, locks: browser.locks, events: tab.events });

/** What a tab's subscriber hears, in order. */
function listen(tab: Tab, key = KEY) {
  const heard: Array<{ tokens: Tokens | null; reason: EndReason | undefined }> = [];
  const unsubscribe = storageOf(tab, key).subscribe!((tokens, reason) => void heard.push({ tokens, reason }));
  return { heard, unsubscribe };
}

/** A `storage` event as a browser delivers it to `tab`. */
const fire = (tab: Tab, init: { key: string | null; newValue: string | null; storageArea: Storage }) =>
  tab.events.dispatchEvent(Object.assign(new Event('storage'), { oldValue: null, ...init }));

/** Runs `run` with NODE_ENV=production, as a production bundle does. */
function inProduction<T>(run: () => T): T {
  const saved = process.env.NODE_ENV;
  process.env.NODE_ENV = 'production';
  try {
    return run();
  } finally {
    process.env.NODE_ENV = saved;
  }
}

describe('reading and writing', () => {
  test('keeps the tokens as JSON under its key; the next page load (a new storage on the same key) reads them back', () => {
    storageOf(tabA).set(tokens);
    expect(JSON.parse(browser.read(KEY)!)).toEqual(tokens);
    expect(storageOf(tabB).get()).toEqual(tokens);
  });

  test('nothing stored is no session: get() answers null', () => {
    expect(storageOf(tabA).get()).toBeNull();
  });

  test.each([
    ['garbage', '{"accessToken":'],
    ['an empty string', ''],
    ['JSON null', 'null'],
    ['a number', '42'],
    ['a string', '"access-1"'],
    ['tokens without an access token', '{"refreshToken":"refresh-1"}'],
    ['the end mark a logout left', '{"ended":"logout"}'],
  ])('what it cannot read is no session, never an error: %s reads as null', (_, stored) => {
    tabA.localStorage.setItem(KEY, stored);
    expect(storageOf(tabA).get()).toBeNull();
  });

  test('a key of its own: two apps of one origin (/shop, /admin) never read each other’s tokens', () => {
    storageOf(tabA, 'shop/tokens').set(tokens);
    expect(storageOf(tabB, 'admin/tokens').get()).toBeNull();
    expect(storageOf(tabB, 'shop/tokens').get()).toEqual(tokens);
  });

  test('clear removes the tokens, whatever the reason', () => {
    const storage = storageOf(tabA);
    storage.set(tokens);
    storage.clear('rejected');
    expect(browser.read(KEY)).toBeNull();
    expect(storage.get()).toBeNull();
  });

  test('a full localStorage (QuotaExceededError) cannot keep a logout’s end mark: the tokens go all the same, the failure is thrown for the guard to report, and the other tabs still hear the session ended', () => {
    const quota = new DOMException('The quota has been exceeded.', 'QuotaExceededError');
    const full: Storage = {
      ...tabA.localStorage,
      getItem: (key) => tabA.localStorage.getItem(key),
      removeItem: (key) => tabA.localStorage.removeItem(key),
      setItem: () => {
        throw quota;
      },
    };
    tabA.localStorage.setItem(KEY, JSON.stringify(tokens));
    const { heard } = listen(tabB);
    const storage = localStorageStorage(KEY, { storage: full, locks: browser.locks, events: tabA.events });
    expect(() => storage.clear('logout')).toThrow(quota);
    expect(browser.read(KEY)).toBeNull();
    expect(heard).toStrictEqual([{ tokens: null, reason: 'storageCleared' }]);
  });
});

describe('storage events: what another tab did', () => {
  test('tokens another tab wrote (a login, a refresh) reach this tab, with no reason', () => {
    const { heard } = listen(tabB);
    storageOf(tabA).set(tokens);
    expect(heard).toStrictEqual([{ tokens, reason: undefined }]);
  });

  test.each(REASONS)('a session another tab ended with %s: this tab hears it ended, and why', (reason) => {
    storageOf(tabA).set(tokens);
    const { heard } = listen(tabB);
    storageOf(tabA).clear(reason);
    // The end mark first, then the removal; the mark is what carries the reason.
    expect(heard[0]).toStrictEqual({ tokens: null, reason });
    expect(heard.every((event) => event.tokens === null)).toBe(true);
  });

  test('a clear without a reason is told to the other tabs as a logout', () => {
    storageOf(tabA).set(tokens);
    const { heard } = listen(tabB);
    storageOf(tabA).clear();
    expect(heard[0]).toStrictEqual({ tokens: null, reason: 'logout' });
  });

  test.each([
    ['a reason this package does not know', '{"ended":"expired"}'],
    ['foreign text', '{"ended":"<img src=x onerror=alert(1)>"}'],
    ['a reason that is no string', '{"ended":42}'],
    ['garbage', '{"ended":'],
    ['JSON null', 'null'],
  ])('%s in the mark reaches the other tabs as storageCleared, never as itself', (_, mark) => {
    storageOf(tabA).set(tokens);
    const { heard } = listen(tabB);
    tabA.localStorage.setItem(KEY, mark);
    expect(heard).toStrictEqual([{ tokens: null, reason: 'storageCleared' }]);
  });

  test('the key removed by other code in another tab ends the session here: storageCleared', () => {
    storageOf(tabA).set(tokens);
    const { heard } = listen(tabB);
    tabA.localStorage.removeItem(KEY);
    expect(heard).toStrictEqual([{ tokens: null, reason: 'storageCleared' }]);
  });

  test('localStorage.clear() in another tab (an event whose key is null) ends the session here: storageCleared', () => {
    storageOf(tabA).set(tokens);
    const { heard } = listen(tabB);
    tabA.localStorage.clear();
    expect(heard).toStrictEqual([{ tokens: null, reason: 'storageCleared' }]);
  });

  test('another key of the origin, and sessionStorage under the same key or cleared, are not this session', () => {
    const { heard } = listen(tabB);
    storageOf(tabA, 'admin/tokens').set(tokens);
    storageOf(tabA, 'admin/tokens').clear('logout');
    // sessionStorage raises the same `storage` event, on the same window.
    const sessionStorage = new Browser().openTab().localStorage;
    fire(tabB, { key: KEY, newValue: JSON.stringify(tokens), storageArea: sessionStorage });
    fire(tabB, { key: null, newValue: null, storageArea: sessionStorage });
    expect(heard).toStrictEqual([]);
    // The same events from localStorage are heard.
    fire(tabB, { key: KEY, newValue: JSON.stringify(tokens), storageArea: tabB.localStorage });
    expect(heard).toStrictEqual([{ tokens, reason: undefined }]);
  });

  test('after unsubscribing, nothing more is heard', () => {
    const { heard, unsubscribe } = listen(tabB);
    storageOf(tabA).set(tokens);
    unsubscribe();
    storageOf(tabA).clear('logout');
    tabA.localStorage.clear();
    expect(heard).toStrictEqual([{ tokens, reason: undefined }]);
  });

  test('by default it listens on the window (globalThis)', () => {
    const window = new EventTarget();
    const g = globalThis as { addEventListener?: unknown; removeEventListener?: unknown };
    g.addEventListener = window.addEventListener.bind(window);
    g.removeEventListener = window.removeEventListener.bind(window);
    try {
      const heard: Array<Tokens | null> = [];
      const unsubscribe = localStorageStorage(KEY, { storage: tabB.localStorage, locks: browser.locks }).subscribe!((tokens) =>
        heard.push(tokens),
      );
      const event = { key: KEY, newValue: JSON.stringify(tokens), oldValue: null, storageArea: tabB.localStorage };
      window.dispatchEvent(Object.assign(new Event('storage'), event));
      unsubscribe();
      window.dispatchEvent(Object.assign(new Event('storage'), event));
      expect(heard).toStrictEqual([tokens]);
    } finally {
      delete g.addEventListener;
      delete g.removeEventListener;
    }
  });

  test('on a server (a global without addEventListener), subscribing and unsubscribing do nothing and throw nothing', () => {
    expect((globalThis as { addEventListener?: unknown }).addEventListener).toBeUndefined();
    const storage = localStorageStorage(KEY, { storage: tabA.localStorage, locks: browser.locks });
    const unsubscribe = storage.subscribe!(() => {});
    expect(() => unsubscribe()).not.toThrow();
  });
});

describe('where it stores, and the cross-tab lock', () => {
  afterEach(() => jest.useRealTimers());

  test('by default it stores in globalThis.localStorage', () => {
    Object.defineProperty(globalThis, 'localStorage', { value: tabA.localStorage, configurable: true });
    try {
      localStorageStorage(KEY, { locks: browser.locks, events: tabA.events }).set(tokens);
    } finally {
      delete (globalThis as { localStorage?: Storage }).localStorage;
    }
    expect(JSON.parse(browser.read(KEY)!)).toEqual(tokens);
  });

  test('without a localStorage (a server, a worker) and no storage given, it says what to do', () => {
    expect((globalThis as { localStorage?: Storage }).localStorage).toBeUndefined();
    expect(() => localStorageStorage(KEY, { locks: browser.locks })).toThrow(
      expect.objectContaining({
        name: 'TypeError',
        code: 'INVALID_ARGUMENT',
        message: 'localStorageStorage: there is no localStorage here; pass { storage } or use memoryStorage().',
      }),
    );
  });

  test('a refresh runs under the Web Lock "<key>:refresh", held by one tab at a time', async () => {
    jest.useFakeTimers();
    const held: string[][] = [];
    const refreshed = storageOf(tabA).lock!(async () => {
      held.push([...browser.held]);
      return 'fresh tokens';
    });
    await jest.advanceTimersByTimeAsync(1_000);
    await expect(refreshed).resolves.toBe('fresh tokens');
    expect(held).toEqual([[`${KEY}:refresh`]]);
    expect(browser.held.size).toBe(0);
  });

  test('without Web Locks (plain http) there is no lock, and a development warning says two tabs may refresh at once', () => {
    expectWarning('localStorageStorage: no Web Locks (navigator.locks needs https or localhost), so two tabs may refresh at once');
    const storage = localStorageStorage(KEY, { storage: tabA.localStorage, locks: null, events: tabA.events });
    expect(storage.lock).toBeUndefined();
  });

  test('by default it takes navigator.locks', async () => {
    jest.useFakeTimers();
    Object.defineProperty(globalThis, 'navigator', { value: { locks: browser.locks }, configurable: true });
    let held: string[] = [];
    try {
      const storage = localStorageStorage(KEY, { storage: tabA.localStorage, events: tabA.events });
      const refreshed = storage.lock!(async () => void (held = [...browser.held]));
      await jest.advanceTimersByTimeAsync(1_000);
      await refreshed;
    } finally {
      delete (globalThis as { navigator?: unknown }).navigator;
    }
    expect(held).toEqual([`${KEY}:refresh`]);
  });
});

describe('a misuse says what to write', () => {
  const untyped = localStorageStorage as (key?: unknown, options?: object) => unknown;

  test.each([
    ['no key (the old call, when it defaulted to the name)', undefined],
    ['a key that is no string', 42],
    ['an empty key', ''],
  ])('%s: a TypeError with the code INVALID_ARGUMENT', (_, key) => {
    expect(() => untyped(key, { storage: tabA.localStorage, locks: browser.locks })).toThrow(
      expect.objectContaining({
        name: 'TypeError',
        code: 'INVALID_ARGUMENT',
        message:
          "localStorageStorage(key): pass the key this app's tokens live under, e.g. localStorageStorage('my-app/tokens'). There is no default: two apps of one origin on one key adopt each other's tokens.",
      }),
    );
  });
});

describe('production builds', () => {
  test('no development warning without Web Locks', () => {
    // The console guard fails this test if anything is printed.
    const storage = inProduction(() => localStorageStorage(KEY, { storage: tabA.localStorage, locks: null, events: tabA.events }));
    expect(storage.lock).toBeUndefined();
  });

  test('a misuse throws a TypeError with the code and a pointer to docs/errors.md, naming localStorageStorage', () => {
    const short = '[redux-observable-token-refresh] INVALID_ARGUMENT (localStorageStorage): see docs/errors.md#invalid_argument';
    expect(() => inProduction(() => localStorageStorage('', { storage: tabA.localStorage, locks: browser.locks }))).toThrow(
      expect.objectContaining({ name: 'TypeError', code: 'INVALID_ARGUMENT', message: short }),
    );
    expect(() => inProduction(() => localStorageStorage(KEY, { locks: browser.locks }))).toThrow(
      expect.objectContaining({ name: 'TypeError', code: 'INVALID_ARGUMENT', message: short }),
    );
  });
});
