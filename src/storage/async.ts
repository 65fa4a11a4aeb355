import { typeError } from '../message';
import { parseTokens, type TokenStorage } from './types';

/** What `asyncStorage` needs: React Native's AsyncStorage, localForage, or an idb-keyval wrapper. */
export interface AsyncKeyValue {
  /** The string stored under `key`, or null/undefined. */
  getItem(key: string): PromiseLike<string | null | undefined>;
  /** Store `value` under `key`. */
  setItem(key: string, value: string): PromiseLike<unknown>;
  /** Delete `key`. */
  removeItem(key: string): PromiseLike<unknown>;
}

/**
 * Tokens in an asynchronous key-value store, as JSON under `key`. The coordinator reads them once at
 * start (status `restoring`; requests made meanwhile wait), then keeps a copy in memory and writes
 * through. A stored token that expired while the app was closed is refreshed before the first request.
 *
 * @example
 * ```ts
 * import AsyncStorage from '@react-native-async-storage/async-storage';
 * const auth = createTokenRefresh({ refresh, storage: asyncStorage(AsyncStorage, 'my-app/tokens') });
 * ```
 */
export function asyncStorage(backend: AsyncKeyValue, key: string): TokenStorage {
  // A key of its own per app: two apps sharing one backend (one origin's IndexedDB) and one key adopt each other's tokens.
  if (typeof backend?.getItem !== 'function' || typeof key !== 'string' || key === '') {
    throw typeError(
      'INVALID_ARGUMENT',
      () =>
        process.env.NODE_ENV !== 'production' &&
        "asyncStorage(backend, key): backend must have getItem, setItem and removeItem returning Promises, and key must name this app's entry, e.g. asyncStorage(AsyncStorage, 'my-app/tokens').",
      'asyncStorage',
    );
  }
  return {
    get: () => Promise.resolve(backend.getItem(key)).then(parseTokens),
    set: (tokens) => backend.setItem(key, JSON.stringify(tokens)),
    clear: () => backend.removeItem(key),
  };
}
