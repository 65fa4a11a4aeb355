import { DpopError } from './error';

/**
 * Where the session's DPoP key pair lives. `add` keeps a key only if none is there yet and answers
 * with the one kept, so two tabs that both make a key end up signing with the same one.
 *
 * @example
 * ```ts
 * // A key store of your own (React Native: the platform keystore behind your native module)
 * const keys: DpopKeyStore = {
 *   get: () => nativeKeys.load(),
 *   add: async (pair) => (await nativeKeys.load()) ?? (await nativeKeys.save(pair), pair),
 *   delete: () => nativeKeys.remove(),
 * };
 * ```
 */
export interface DpopKeyStore {
  get(): Promise<CryptoKeyPair | undefined>;
  add(keys: CryptoKeyPair): Promise<CryptoKeyPair>;
  delete(): Promise<void>;
}

/**
 * The key in this JavaScript realm's memory: it goes with the page (a reload makes a new key, and a
 * refresh token bound to the old one is refused). For Node, tests, and apps that keep no session
 * across reloads.
 *
 * @example
 * ```ts
 * const dpop = createDpop({ keys: memoryKeys() });
 * ```
 */
export function memoryKeys(): DpopKeyStore {
  let kept: CryptoKeyPair | undefined;
  return {
    get: () => Promise.resolve(kept),
    add: (keys) => Promise.resolve((kept ??= keys)),
    delete: () => Promise.resolve(void (kept = undefined)),
  };
}

/**
 * The key in IndexedDB, shared by every tab of the origin: WebCrypto keys are stored as they are, so
 * the private half stays non-extractable. The default in browsers. IndexedDB missing or refused (some
 * private windows) rejects with `DpopError` code `DPOP_KEY_STORAGE`: a DPoP session cannot be kept
 * there, and the package never falls back to Bearer.
 *
 * @param options.database The IndexedDB database. @default 'redux-observable-token-refresh'
 * @param options.key The record's key, one per session you keep. @default 'dpop'
 * @example
 * ```ts
 * const dpop = createDpop({ keys: indexedDbKeys({ key: 'backoffice' }) });
 * ```
 */
export function indexedDbKeys({
  database = 'redux-observable-token-refresh',
  key = 'dpop',
}: { database?: string; key?: string } = {}): DpopKeyStore {
  let opened: Promise<IDBDatabase> | undefined;
  const open = () =>
    (opened ??= new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open(database, 1);
      request.onupgradeneeded = () => request.result.createObjectStore('keys');
      request.onsuccess = () => {
        const db = request.result;
        // Another tab deleting the database (clearing site data) must not be blocked by this one.
        db.onversionchange = () => (db.close(), (opened = undefined));
        resolve(db);
      };
      request.onerror = () => reject(request.error ?? new Error('IndexedDB could not be opened'));
      request.onblocked = () => reject(new Error('blocked by another connection'));
    }).catch((cause: unknown) => {
      opened = undefined;
      throw keyStorageError(cause);
    }));
  const run = <T>(mode: IDBTransactionMode, body: (store: IDBObjectStore, done: (value: T) => void) => void): Promise<T> =>
    open().then(
      (db) =>
        new Promise<T>((resolve, reject) => {
          try {
            const transaction = db.transaction('keys', mode);
            let value: T;
            body(transaction.objectStore('keys'), (result) => (value = result));
            transaction.oncomplete = () => resolve(value);
            transaction.onerror = transaction.onabort = () => reject(keyStorageError(transaction.error));
          } catch (cause) {
            reject(keyStorageError(cause)); // a connection closed by another tab: InvalidStateError
          }
        }),
    );
  return {
    get: () =>
      run<CryptoKeyPair | undefined>('readonly', (store, done) => {
        const read = store.get(key);
        read.onsuccess = () => done(read.result as CryptoKeyPair | undefined);
      }),
    // One readwrite transaction: tabs' transactions on the store run one after the other, so the
    // first key written is the one every tab reads.
    add: (keys) =>
      run<CryptoKeyPair>('readwrite', (store, done) => {
        const read = store.get(key);
        read.onsuccess = () => {
          const existing = read.result as CryptoKeyPair | undefined;
          if (existing) return done(existing);
          store.put(keys, key);
          done(keys);
        };
      }),
    delete: () => run<void>('readwrite', (store) => void store.delete(key)),
  };
}

function keyStorageError(cause: unknown): DpopError {
  return new DpopError(
    'DPOP_KEY_STORAGE',
    () =>
      process.env.NODE_ENV !== 'production' &&
      'The DPoP key cannot be kept in IndexedDB here (missing, blocked, or refused in a private window). Pass createDpop({ keys }) with a key store that works here; tokens are never sent as Bearer instead.',
    cause,
  );
}
