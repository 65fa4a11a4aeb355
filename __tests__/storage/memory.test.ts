/**
 * memoryStorage(): the default storage, tokens in this page's memory only.
 */
import { memoryStorage, type Tokens } from '../../src';

const first: Tokens = { accessToken: 'access-1', refreshToken: 'refresh-1', expiresAt: 1_700_000_000_000 };
const second: Tokens = { accessToken: 'access-2', refreshToken: 'refresh-2' };

test('a new memory storage holds no session: get() answers null', () => {
  expect(memoryStorage().get()).toBeNull();
});

test('a memory storage started with tokens (server-side rendering, a test) answers them at once', () => {
  expect(memoryStorage(first).get()).toEqual(first);
});

test('set keeps the latest tokens and clear forgets them, whatever the reason; every answer is at once, never a Promise', () => {
  const storage = memoryStorage(first);
  expect(storage.set(second)).toBeUndefined();
  expect(storage.get()).toEqual(second);
  expect(storage.clear('rejected')).toBeUndefined();
  expect(storage.get()).toBeNull();
  storage.set(first);
  storage.clear();
  expect(storage.get()).toBeNull();
});

test('two memory storages share nothing: each createTokenRefresh keeps its own session', () => {
  const shop = memoryStorage();
  const admin = memoryStorage();
  shop.set(first);
  expect(admin.get()).toBeNull();
  admin.set(second);
  expect(shop.get()).toEqual(first);
});

test('it keeps no subscription or lock: tabs are kept in step by syncTabs, not by the storage', () => {
  const storage = memoryStorage();
  expect(storage.subscribe).toBeUndefined();
  expect(storage.lock).toBeUndefined();
});
