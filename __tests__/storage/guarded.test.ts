/**
 * guardStorage: the storage as the coordinator uses it. Whatever the app's storage does (throw, reject,
 * answer late), a call never throws into a request and never ends a session: a failure becomes a
 * report (the `storageFailed` action) and a neutral answer. Writes to a slow storage land in the order
 * they were made, so a late write never brings back tokens that a later write replaced or cleared.
 */
import { asyncStorage, memoryStorage, type Tokens } from '../../src';
import { guardStorage, type StorageOperation } from '../../src/storage/guarded';
import { faultyStorage, storageErrors } from '../support/faultyStorage';
import { flushPromises, slowBackend } from '../support/slowBackend';

const a1: Tokens = { accessToken: 'a1', refreshToken: 'r1' };
const a2: Tokens = { accessToken: 'a2', refreshToken: 'r2' };
const a3: Tokens = { accessToken: 'a3', refreshToken: 'r3' };

/** What the guard reported, as the coordinator's `storageFailed` would carry it. */
function reporter() {
  const reports: Array<{ operation: StorageOperation; error: unknown }> = [];
  return { reports, report: (operation: StorageOperation, error: unknown) => void reports.push({ operation, error }) };
}

// A failed write must never become an unhandled rejection: jest fails the test that leaves one.

describe('a synchronous storage (localStorage, memory)', () => {
  test('reads and writes at once: a write is read back in the same tick, and set and clear answer true', () => {
    const { reports, report } = reporter();
    const storage = guardStorage(memoryStorage(), report);
    expect(storage.get()).toBeNull();
    expect(storage.set(a1)).toBe(true);
    expect(storage.set(a2)).toBe(true);
    expect(storage.get()).toEqual(a2);
    expect(storage.clear('logout')).toBe(true);
    expect(storage.get()).toBeNull();
    expect(reports).toEqual([]);
  });

  test('a get that throws (SecurityError: storage blocked by privacy settings) answers undefined, not "nothing stored", and is reported', () => {
    const { reports, report } = reporter();
    const inner = faultyStorage(a1);
    inner.fail('get', { times: 1 });
    const storage = guardStorage(inner, report);
    expect(storage.get()).toBeUndefined();
    expect(reports).toEqual([{ operation: 'get', error: expect.objectContaining({ name: 'SecurityError' }) }]);
    // Only that read failed: the next one finds the tokens.
    expect(storage.get()).toEqual(a1);
    expect(reports).toHaveLength(1);
  });

  test('a set that throws (QuotaExceededError: a full localStorage) answers false and is reported; nothing changed, and the next write is tried', () => {
    const { reports, report } = reporter();
    const inner = faultyStorage(a1);
    inner.fail('set', { times: 1 });
    const storage = guardStorage(inner, report);
    // false: the coordinator then clears, so storage never keeps a refresh token it has moved on from.
    expect(storage.set(a2)).toBe(false);
    expect(inner.stored).toEqual(a1);
    expect(reports).toEqual([{ operation: 'set', error: expect.objectContaining({ name: 'QuotaExceededError' }) }]);
    expect(storage.set(a3)).toBe(true);
    expect(inner.stored).toEqual(a3);
    expect(reports).toHaveLength(1);
  });

  test('a clear that throws answers false and is reported, with the operation named', () => {
    const { reports, report } = reporter();
    const inner = faultyStorage(a1);
    inner.fail('clear', { times: 1 });
    const storage = guardStorage(inner, report);
    expect(storage.clear('rejected')).toBe(false);
    expect(reports).toEqual([{ operation: 'clear', error: expect.objectContaining({ name: 'SecurityError' }) }]);
    expect(storage.clear('rejected')).toBe(true);
    expect(inner.stored).toBeNull();
  });

  test('whatever is thrown (not an Error: a string, undefined) is reported as it was thrown', () => {
    const { reports, report } = reporter();
    const inner = faultyStorage(a1);
    inner.fail('get', { times: 1, error: () => 'blocked' });
    inner.fail('set', { times: 1, error: () => undefined });
    const storage = guardStorage(inner, report);
    expect(storage.get()).toBeUndefined();
    expect(storage.set(a2)).toBe(false);
    expect(reports).toEqual([
      { operation: 'get', error: 'blocked' },
      { operation: 'set', error: undefined },
    ]);
  });

  test('the reason a session ended is handed to the storage (localStorage tells the other tabs)', () => {
    const inner = memoryStorage(a1);
    const clear = jest.spyOn(inner, 'clear');
    guardStorage(inner, () => {}).clear('otherUser');
    expect(clear).toHaveBeenCalledWith('otherUser');
  });
});

describe('an asynchronous storage (AsyncStorage, IndexedDB)', () => {
  test('a get that rejects resolves to null, is reported, and never rejects into the caller', async () => {
    const { reports, report } = reporter();
    const inner = faultyStorage(a1, { async: true });
    inner.fail('get', { how: 'reject', times: 1 });
    const storage = guardStorage(inner, report);
    await expect(storage.get()).resolves.toBeNull();
    expect(reports).toEqual([{ operation: 'get', error: expect.objectContaining({ name: 'SecurityError' }) }]);
    await expect(storage.get()).resolves.toEqual(a1);
  });

  test('a set that rejects is reported when it does, with its error; set answered true, the outcome being unknown then', async () => {
    const { reports, report } = reporter();
    const inner = faultyStorage(null, { async: true });
    inner.fail('set', { how: 'reject', times: 1 });
    const storage = guardStorage(inner, report);
    expect(storage.set(a1)).toBe(true);
    expect(reports).toEqual([]);
    await flushPromises();
    expect(reports).toEqual([{ operation: 'set', error: storageErrors.set() }]);
    expect(inner.stored).toBeNull();
  });

  test('writes reach the backend one at a time, in the order they were made: a late set never undoes a later logout', async () => {
    const slow = slowBackend();
    const { reports, report } = reporter();
    const storage = guardStorage(asyncStorage(slow.backend, 'app/tokens'), report);

    // A login, a refresh and a logout in quick succession, on a backend that answers slowly.
    storage.set(a1);
    storage.set(a2);
    expect(slow.started).toEqual(['setItem a1']);
    slow.next().answer();
    await flushPromises();
    expect(slow.started).toEqual(['setItem a1', 'setItem a2']);
    // Made while a2 is still being written: it waits for it.
    storage.clear('logout');
    await flushPromises();
    expect(slow.started).toEqual(['setItem a1', 'setItem a2']);
    slow.next().answer();
    await flushPromises();
    expect(slow.started).toEqual(['setItem a1', 'setItem a2', 'removeItem']);
    slow.next().answer();
    await flushPromises();

    expect(slow.mostInFlight).toBe(1);
    expect(slow.data.has('app/tokens')).toBe(false);
    expect(reports).toEqual([]);
  });

  test('a write that fails is followed by a clear (no tokens left we moved on from), does not hold up the writes behind it, and is reported once', async () => {
    const slow = slowBackend();
    const { reports, report } = reporter();
    const storage = guardStorage(asyncStorage(slow.backend, 'app/tokens'), report);
    const full = new DOMException('The quota has been exceeded.', 'QuotaExceededError');
    storage.set(a1);
    storage.set(a2);
    storage.set(a3);
    slow.next().fail(full);
    await flushPromises();
    expect(slow.started).toEqual(['setItem a1', 'removeItem']);
    for (let i = 0; i < 3; i++) {
      slow.next().answer();
      await flushPromises();
    }
    expect(slow.started).toEqual(['setItem a1', 'removeItem', 'setItem a2', 'setItem a3']);
    expect(JSON.parse(slow.data.get('app/tokens')!)).toEqual(a3);
    expect(reports).toEqual([{ operation: 'set', error: full }]);
  });

  test('a write queued behind a slow one that throws when its turn comes is reported, not thrown', async () => {
    const { reports, report } = reporter();
    const slow = slowBackend();
    let closed = false;
    const inner = asyncStorage(slow.backend, 'app/tokens');
    const storage = guardStorage(
      {
        ...inner,
        set: (tokens) => {
          // A wrapper whose database connection was closed meanwhile throws before it returns a Promise.
          if (closed) throw new Error('The database connection is closing.');
          return inner.set(tokens);
        },
      },
      report,
    );
    storage.set(a1);
    expect(storage.set(a2)).toBe(true); // its turn has not come: the outcome is not known yet
    closed = true;
    slow.next().answer();
    await flushPromises();
    expect(reports).toEqual([{ operation: 'set', error: expect.objectContaining({ message: 'The database connection is closing.' }) }]);
    expect(slow.started).toEqual(['setItem a1']);
  });

  test('once the writes in flight have landed, the next starts at once, and one that throws at once answers false', async () => {
    const { reports, report } = reporter();
    const slow = slowBackend();
    let closed = false;
    const inner = asyncStorage(slow.backend, 'app/tokens');
    const storage = guardStorage(
      {
        ...inner,
        set: (tokens) => {
          if (closed) throw new Error('The database connection is closing.');
          return inner.set(tokens);
        },
      },
      report,
    );
    storage.set(a1);
    slow.next().answer();
    await flushPromises();
    storage.set(a2);
    expect(slow.started).toEqual(['setItem a1', 'setItem a2']);
    slow.next().answer();
    await flushPromises();
    closed = true;
    // Known at once: the coordinator clears instead of leaving a spent refresh token behind.
    expect(storage.set(a3)).toBe(false);
    expect(reports).toEqual([{ operation: 'set', error: expect.objectContaining({ message: 'The database connection is closing.' }) }]);
  });
});
