import { browserLocks, tabLock } from '../tabs/channel';
import { shareTabs } from '../tabs/share';
import { devWarn } from '../warn';
import { endMark, endReasonOf, parseTokens, type LocksLike, type SyncTokenStorage } from './types';
import { typeError } from '../message';

/**
 * Where `localStorageStorage` reads, locks and listens; each can be replaced (tests, sessionStorage).
 *
 * @example
 * ```ts
 * localStorageStorage('my-app/tokens', { storage: sessionStorage, locks: null });
 * ```
 */
export interface LocalStorageOptions {
  /** @default globalThis.localStorage */
  storage?: Storage;
  /** The cross-tab lock; `null` for none. @default navigator.locks */
  locks?: LocksLike | null;
  /** Where `storage` events arrive. @default globalThis (the window) */
  events?: Pick<EventTarget, 'addEventListener' | 'removeEventListener'>;
}

/**
 * Tokens in `localStorage` under `key`, shared by the tabs of one origin. The key has no default:
 * two apps of one origin (`/shop`, `/admin`) that shared one would adopt each other's tokens, and
 * they are separate documents, so no check in the page could catch it. Tabs of one origin: a refresh in one tab is
 * seen by the others (the `storage` event), and refreshes are serialized across tabs with the Web
 * Locks API, so two tabs never spend one rotating refresh token. Web Locks exist only in secure
 * contexts (https, localhost); without them a warning says so in development. What is read back is
 * validated like a login's tokens: a tampered value is no session, never state.
 *
 * Any script on the page can read localStorage: for the refresh token, prefer the cookie mode.
 *
 * @example
 * createTokenRefresh({ refresh, storage: localStorageStorage('my-app/tokens') })
 */
export function localStorageStorage(key: string, options: LocalStorageOptions = {}): SyncTokenStorage {
  if (typeof key !== 'string' || key === '') {
    throw typeError(
      'INVALID_ARGUMENT',
      () =>
        process.env.NODE_ENV !== 'production' &&
        "localStorageStorage(key): pass the key this app's tokens live under, e.g. localStorageStorage('my-app/tokens'). There is no default: two apps of one origin on one key adopt each other's tokens.",
      'localStorageStorage',
    );
  }
  const { storage = globalThis.localStorage, locks = browserLocks(), events = globalThis } = options;
  if (!storage) {
    throw typeError(
      'INVALID_ARGUMENT',
      () =>
        process.env.NODE_ENV !== 'production' &&
        'localStorageStorage: there is no localStorage here; pass { storage } or use memoryStorage().',
      'localStorageStorage',
    );
  }
  try {
    if (process.env.NODE_ENV !== 'production' && !locks)
      devWarn(
        'localStorageStorage: no Web Locks (navigator.locks needs https or localhost), so two tabs may refresh at once and spend one rotating refresh token.',
      );
  } catch {
    // no `process`: no development warnings
  }
  return shareTabs({
    get: () => parseTokens(storage.getItem(key)),
    set: (tokens) => storage.setItem(key, JSON.stringify(tokens)),
    // A mark of why first, which the other tabs' `storage` event carries to them; then nothing,
    // also when the mark cannot be written (a full storage): a logout never leaves tokens behind.
    clear: (reason) => {
      try {
        storage.setItem(key, endMark(reason));
      } finally {
        storage.removeItem(key);
      }
    },
    subscribe(listener) {
      const onStorage = (event: Event) => {
        const { key: changed, newValue, storageArea } = event as StorageEvent;
        // sessionStorage fires the same event; `key` null means the whole storage was cleared.
        if (storageArea !== storage || (changed !== key && changed !== null)) return;
        const tokens = changed === null ? null : parseTokens(newValue);
        listener(tokens, tokens ? undefined : changed === null ? 'storageCleared' : endReasonOf(newValue));
      };
      events.addEventListener?.('storage', onStorage);
      return () => events.removeEventListener?.('storage', onStorage);
    },
    lock: locks ? tabLock(locks, `${key}:refresh`) : undefined,
  });
}
