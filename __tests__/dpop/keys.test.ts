/**
 * Where the DPoP key lives: memoryKeys, and indexedDbKeys against fake-indexeddb (an in-memory
 * IndexedDB that stores values with structuredClone, as browsers do: a non-extractable CryptoKey is
 * kept as it is). Each test gets an IndexedDB of its own, as a fresh browser profile.
 */
import { IDBFactory } from 'fake-indexeddb';
import { createDpop, DpopError, indexedDbKeys, memoryKeys } from '../../src/dpop';
import { decodeProof, thumbprint } from './support';

const globals = globalThis as Record<string, unknown>;
let idb: IDBFactory;
beforeEach(() => {
  idb = new IDBFactory();
  globals.indexedDB = idb;
});
afterEach(() => {
  delete globals.indexedDB;
});

const newPair = () => crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
const jkt = async (pair: CryptoKeyPair | undefined) => thumbprint(await crypto.subtle.exportKey('jwk', pair!.publicKey));

/** Another tab's (or the browser's "clear site data") deletion of a database: whether it went through or was blocked by a connection left open. */
const deleteDatabase = (name: string) =>
  new Promise<'deleted' | 'blocked'>((resolve, reject) => {
    const request = idb.deleteDatabase(name);
    request.onsuccess = () => resolve('deleted');
    request.onblocked = () => resolve('blocked');
    request.onerror = () => reject(request.error);
  });

/** A database made at version 2 by other code: a version-1 open of it fails (VersionError). */
const occupy = (name: string) =>
  new Promise<void>((resolve, reject) => {
    const request = idb.open(name, 2);
    request.onsuccess = () => (request.result.close(), resolve());
    request.onerror = () => reject(request.error);
  });

describe('memoryKeys', () => {
  test('keeps the first key added, answers it to later adds, and forgets it on delete', async () => {
    const keys = memoryKeys();
    const [first, second] = [await newPair(), await newPair()];
    await expect(keys.get()).resolves.toBeUndefined();
    await expect(keys.add(first)).resolves.toBe(first);
    await expect(keys.add(second)).resolves.toBe(first);
    await expect(keys.get()).resolves.toBe(first);
    await keys.delete();
    await expect(keys.get()).resolves.toBeUndefined();
    await expect(keys.add(second)).resolves.toBe(second);
  });
});

describe('indexedDbKeys', () => {
  test('keeps the key pair as it is: the private half still signs and still cannot be exported', async () => {
    const keys = indexedDbKeys();
    const pair = await newPair();
    await keys.add(pair);
    const kept = await keys.get();
    expect(kept!.privateKey.extractable).toBe(false);
    await expect(crypto.subtle.exportKey('jwk', kept!.privateKey)).rejects.toThrow();
    const data = new TextEncoder().encode('proof input');
    const signature = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, kept!.privateKey, data);
    await expect(crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, pair.publicKey, signature, data)).resolves.toBe(true);
  });

  test('is empty at first; two tabs that both make a key end up with the first one written', async () => {
    const tabA = indexedDbKeys();
    const tabB = indexedDbKeys();
    await expect(tabA.get()).resolves.toBeUndefined();
    const [a, b] = [await newPair(), await newPair()];
    const [keptA, keptB] = await Promise.all([tabA.add(a), tabB.add(b)]);
    expect(await jkt(keptA)).toBe(await jkt(a));
    expect(await jkt(keptB)).toBe(await jkt(a));
    expect(await jkt(await tabB.get())).toBe(await jkt(a));
  });

  test('delete forgets the key in every tab; the next key added is kept', async () => {
    const tabA = indexedDbKeys();
    const tabB = indexedDbKeys();
    await tabA.add(await newPair());
    await tabB.delete();
    await expect(tabA.get()).resolves.toBeUndefined();
    const next = await newPair();
    expect(await jkt(await tabA.add(next))).toBe(await jkt(next));
  });

  test('one record per `key` and per `database`: sessions kept apart', async () => {
    const pairs = [await newPair(), await newPair(), await newPair()];
    const stores = [indexedDbKeys(), indexedDbKeys({ key: 'backoffice' }), indexedDbKeys({ database: 'other-app' })];
    for (const [i, store] of stores.entries()) await store.add(pairs[i]!);
    for (const [i, store] of stores.entries()) expect(await jkt(await store.get())).toBe(await jkt(pairs[i]));
    // The defaults: database 'redux-observable-token-refresh', record 'dpop'.
    expect(await jkt(await indexedDbKeys({ database: 'redux-observable-token-refresh', key: 'dpop' }).get())).toBe(await jkt(pairs[0]));
  });

  test('clearing site data in another tab is not blocked by this one, which then starts afresh', async () => {
    const keys = indexedDbKeys();
    await keys.add(await newPair());
    await expect(deleteDatabase('redux-observable-token-refresh')).resolves.toBe('deleted');
    await expect(keys.get()).resolves.toBeUndefined();
    const next = await newPair();
    expect(await jkt(await keys.add(next))).toBe(await jkt(next));
  });

  test('a database that cannot be opened rejects with DpopError DPOP_KEY_STORAGE (its cause kept); the next call tries again', async () => {
    await occupy('taken');
    const keys = indexedDbKeys({ database: 'taken' });
    const failure = await keys.get().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(DpopError);
    expect(failure).toMatchObject({ code: 'DPOP_KEY_STORAGE', cause: { name: 'VersionError' } });
    expect((failure as Error).message).toMatch(/cannot be kept in IndexedDB here/);
    await expect(keys.add(await newPair())).rejects.toMatchObject({ code: 'DPOP_KEY_STORAGE' });
    await expect(deleteDatabase('taken')).resolves.toBe('deleted');
    await expect(keys.get()).resolves.toBeUndefined();
  });

  test('a key IndexedDB cannot store rejects with DpopError DPOP_KEY_STORAGE, and nothing is kept', async () => {
    const keys = indexedDbKeys();
    const notCloneable = { publicKey: () => undefined, privateKey: () => undefined } as unknown as CryptoKeyPair;
    await expect(keys.add(notCloneable)).rejects.toMatchObject({ name: 'DpopError', code: 'DPOP_KEY_STORAGE' });
    await expect(keys.get()).resolves.toBeUndefined();
  });

  test('in production the error says only its code and where it is documented', async () => {
    await occupy('taken');
    const before = process.env.NODE_ENV;
    process.env.NODE_ENV = 'production';
    try {
      await expect(indexedDbKeys({ database: 'taken' }).get()).rejects.toThrow(
        /^\[redux-observable-token-refresh\] DPOP_KEY_STORAGE: see docs\/errors\.md#dpop_key_storage$/,
      );
    } finally {
      process.env.NODE_ENV = before;
    }
  });
});

describe('createDpop without `keys`', () => {
  test('where IndexedDB exists, the key is kept there: two pages (or tabs) sign with the same key, and clear() deletes it for both', async () => {
    const tabA = createDpop();
    const tabB = createDpop();
    const proofA = decodeProof(await tabA.proof('GET', 'https://api.example.com/items'));
    const proofB = decodeProof(await tabB.proof('GET', 'https://api.example.com/items'));
    expect(await thumbprint(proofB.header.jwk)).toBe(await thumbprint(proofA.header.jwk));
    expect(await jkt(await indexedDbKeys().get())).toBe(await tabA.thumbprint());
    await tabA.clear();
    await expect(indexedDbKeys().get()).resolves.toBeUndefined();
    expect(await tabB.thumbprint()).not.toBe(await thumbprint(proofA.header.jwk));
  });

  test('in a browser with IndexedDB, createDpop() keeps its key there', async () => {
    globals.window = globalThis;
    globals.document = { baseURI: 'https://app.example.com/' };
    try {
      const signsWith = await createDpop().thumbprint();
      expect(await jkt(await indexedDbKeys().get())).toBe(signsWith);
    } finally {
      delete globals.window;
      delete globals.document;
    }
  });
});
