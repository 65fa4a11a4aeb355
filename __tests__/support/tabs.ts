import type { LocksLike } from '../../src';

/**
 * Several browser tabs of one origin in one process: a shared localStorage whose writes raise a
 * `storage` event in every other tab (as browsers do, never in the writing tab), and a Web Locks
 * implementation shared by all tabs (one holder per name, FIFO). Only the browser is simulated;
 * the package, the stores and the server are real.
 */
export class Browser {
  private readonly data = new Map<string, string>();
  private readonly tabs: Tab[] = [];
  private readonly queues = new Map<string, Promise<unknown>>();
  /** Names of the locks held right now. */
  readonly held = new Set<string>();

  /**
   * @param eventDelayMs how late a `storage` event reaches the other tabs. Browsers queue it as a
   *   task, unordered with a lock grant: a tab may get the lock before it hears of the write.
   */
  constructor(private readonly eventDelayMs = 0) {}

  readonly locks = {
    request: <T>(name: string, ...args: unknown[]): Promise<T> => {
      const callback = args.pop() as (lock: unknown) => Promise<T>;
      const { ifAvailable = false } = (args[0] ?? {}) as { ifAvailable?: boolean };
      if (ifAvailable && this.held.has(name)) return callback(null);
      const previous = this.queues.get(name) ?? Promise.resolve();
      const run = previous.then(async () => {
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
  } as LocksLike;

  openTab(): Tab {
    const tab = new Tab(this);
    this.tabs.push(tab);
    return tab;
  }

  /** @internal */
  write(from: Tab, key: string, value: string | null): void {
    const oldValue = this.data.get(key) ?? null;
    if (oldValue === value) return;
    if (value === null) this.data.delete(key);
    else this.data.set(key, value);
    for (const tab of this.tabs) {
      if (tab === from) continue;
      const event = Object.assign(new Event('storage'), { key, oldValue, newValue: value, storageArea: tab.localStorage });
      if (this.eventDelayMs === 0) tab.events.dispatchEvent(event);
      // unref: a test that ends before a late event arrives must not keep jest running.
      else setTimeout(() => tab.events.dispatchEvent(event), this.eventDelayMs).unref();
    }
  }

  /** @internal */
  read(key: string): string | null {
    return this.data.get(key) ?? null;
  }

  /** @internal `localStorage.clear()`: every key goes, and the other tabs get one event whose `key` is null. */
  clear(from: Tab): void {
    if (this.data.size === 0) return;
    this.data.clear();
    for (const tab of this.tabs) {
      if (tab === from) continue;
      const event = Object.assign(new Event('storage'), { key: null, oldValue: null, newValue: null, storageArea: tab.localStorage });
      if (this.eventDelayMs === 0) tab.events.dispatchEvent(event);
      else setTimeout(() => tab.events.dispatchEvent(event), this.eventDelayMs).unref();
    }
  }

  /**
   * Makes this process look like a browser document to `syncTabs` (cookie mode, memory storage):
   * `document`, these Web Locks as `navigator.locks`, and Node's own BroadcastChannel, which
   * delivers between the instances of one process as between tabs. Returns the undo.
   */
  asDocument(): () => void {
    const g = globalThis as Record<string, unknown>;
    const saved = Object.getOwnPropertyDescriptor(globalThis, 'navigator');
    Object.defineProperty(globalThis, 'navigator', { value: { locks: this.locks }, configurable: true });
    g.document = {};
    return () => {
      if (saved) Object.defineProperty(globalThis, 'navigator', saved);
      else delete g.navigator;
      delete g.document;
    };
  }
}

export class Tab {
  readonly events = new EventTarget();
  readonly localStorage: Storage;

  constructor(browser: Browser) {
    this.localStorage = {
      getItem: (key: string) => browser.read(key),
      setItem: (key: string, value: string) => browser.write(this, key, String(value)),
      removeItem: (key: string) => browser.write(this, key, null),
      clear: () => browser.clear(this),
      key: () => null,
      length: 0,
    };
  }
}
