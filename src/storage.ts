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

interface LocksLike {
  request<T>(name: string, callback: () => Promise<T>): Promise<T>;
}

/**
 * Tokens in `localStorage` under `key`, shared by the tabs of one origin: a refresh in one tab is
 * seen by the others (the `storage` event), and refreshes are serialized across tabs with the Web
 * Locks API where the browser has it, so two tabs never spend one rotating refresh token.
 *
 * @example
 * createTokenRefresh({ refresh, storage: localStorageStorage('my-app/tokens') })
 */
export function localStorageStorage(key = 'tokenRefresh', storage: Storage = globalThis.localStorage): TokenStorage {
  if (!storage) {
    throw new TypeError('localStorageStorage: there is no localStorage here; pass one as the second argument or use memoryStorage().');
  }
  const read = (value: string | null): Tokens | null => {
    try {
      return value ? (JSON.parse(value) as Tokens) : null;
    } catch {
      return null;
    }
  };
  const locks = (globalThis.navigator as { locks?: LocksLike } | undefined)?.locks;
  return {
    get: () => read(storage.getItem(key)),
    set: (tokens) => storage.setItem(key, JSON.stringify(tokens)),
    clear: () => storage.removeItem(key),
    subscribe(listener) {
      const onStorage = (event: StorageEvent) => {
        if (event.key === key || event.key === null) listener(read(event.newValue));
      };
      globalThis.addEventListener?.('storage', onStorage);
      return () => globalThis.removeEventListener?.('storage', onStorage);
    },
    lock: locks ? (task) => locks.request(`${key}:refresh`, task) : undefined,
  };
}
