import type { Tokens } from './tokens';

/**
 * Where tokens live between page loads. Synchronous on purpose: the token is read on every request.
 * Tokens never go into the Redux store, where DevTools and persistence would expose them.
 */
export interface TokenStorage {
  get(): Tokens | null;
  set(tokens: Tokens): void;
  clear(): void;
  /**
   * Tell the coordinator when another tab changed the tokens, so this tab uses them instead of
   * spending a refresh token that the other tab already rotated. Returns an unsubscribe function.
   */
  subscribe?(listener: (tokens: Tokens | null) => void): () => void;
  /**
   * Run `task` while holding a lock shared by every tab, so that only one tab refreshes at a time.
   */
  lock?<T>(task: () => Promise<T>): Promise<T>;
}

/**
 * Tokens in memory: gone on reload. The default, and the safest against XSS.
 *
 * @example
 * createTokenRefresh({ refresh, storage: memoryStorage() })
 */
export function memoryStorage(initial: Tokens | null = null): TokenStorage {
  let tokens = initial;
  return {
    get: () => tokens,
    set: (next) => void (tokens = next),
    clear: () => void (tokens = null),
  };
}

/** The part of the Web Locks API this package uses (`navigator.locks`). */
export interface LocksLike {
  request<T>(name: string, callback: () => Promise<T>): Promise<T>;
}

export interface LocalStorageOptions {
  /** @default globalThis.localStorage */
  storage?: Storage;
  /** The cross-tab lock; `null` for none. @default navigator.locks */
  locks?: LocksLike | null;
  /** Where `storage` events arrive. @default globalThis (the window) */
  events?: Pick<EventTarget, 'addEventListener' | 'removeEventListener'>;
}

/**
 * Tokens in `localStorage` under `key`, shared by the tabs of one origin: a refresh in one tab is
 * seen by the others (the `storage` event), and refreshes are serialized across tabs with the Web
 * Locks API, so two tabs never spend one rotating refresh token. Web Locks exist only in secure
 * contexts (https, localhost); without them a warning says so in development.
 *
 * @example
 * createTokenRefresh({ refresh, storage: localStorageStorage('my-app/tokens') })
 */
export function localStorageStorage(key = 'tokenRefresh', options: LocalStorageOptions = {}): TokenStorage {
  const {
    storage = globalThis.localStorage,
    locks = (globalThis.navigator as { locks?: LocksLike } | undefined)?.locks ?? null,
    events = globalThis as Partial<EventTarget>,
  } = options;
  if (!storage) {
    throw new TypeError('localStorageStorage: there is no localStorage here; pass { storage } or use memoryStorage().');
  }
  if (process.env.NODE_ENV !== 'production' && !locks) {
    console.warn(
      '[redux-observable-token-refresh] localStorageStorage: no Web Locks (navigator.locks needs https or localhost), so two tabs may refresh at once and spend one rotating refresh token.',
    );
  }
  const read = (value: string | null): Tokens | null => {
    try {
      return value ? (JSON.parse(value) as Tokens) : null;
    } catch {
      return null;
    }
  };
  return {
    get: () => read(storage.getItem(key)),
    set: (tokens) => storage.setItem(key, JSON.stringify(tokens)),
    clear: () => storage.removeItem(key),
    subscribe(listener) {
      const onStorage = (event: Event) => {
        const { key: changed, newValue, storageArea } = event as StorageEvent;
        // sessionStorage fires the same event; `key` null means the whole storage was cleared.
        if (storageArea === storage && (changed === key || changed === null)) listener(read(newValue));
      };
      events.addEventListener?.('storage', onStorage);
      return () => events.removeEventListener?.('storage', onStorage);
    },
    lock: locks ? (task) => locks.request(`${key}:refresh`, task) : undefined,
  };
}
