import { timer } from 'rxjs';
import { createTokenRefresh } from '../src';
import { FakeServer, newTestScheduler, createStore } from './support/harness';
import { faultyStorage, jumpingClock } from './support/faultyStorage';

/** The storage doubles and the jumping clock do what the fault suites rely on. */

const tokens = { accessToken: 'a1', refreshToken: 'r1' };

test('sync storage: works like memory storage until told to fail, then throws the browser error N times', () => {
  const storage = faultyStorage(tokens);
  expect(storage.get()).toEqual(tokens);
  storage.fail('set', { times: 2 });
  expect(() => storage.set({ accessToken: 'a2' })).toThrow(expect.objectContaining({ name: 'QuotaExceededError' }));
  expect(() => storage.set({ accessToken: 'a2' })).toThrow(expect.objectContaining({ name: 'QuotaExceededError' }));
  expect(storage.stored).toEqual(tokens); // a failed write changes nothing
  storage.set({ accessToken: 'a3' });
  expect(storage.get()).toEqual({ accessToken: 'a3' });
  storage.fail('get');
  storage.fail('clear', { error: () => new Error('disk on fire') });
  expect(() => storage.get()).toThrow(expect.objectContaining({ name: 'SecurityError' }));
  expect(() => storage.get()).toThrow(expect.objectContaining({ name: 'SecurityError' }));
  expect(() => storage.clear()).toThrow('disk on fire');
  storage.heal();
  storage.clear();
  expect(storage.get()).toBeNull();
  expect(storage.calls.map((c) => `${c.operation}:${c.outcome}`)).toEqual([
    'get:ok',
    'set:threw',
    'set:threw',
    'set:ok',
    'get:ok',
    'get:threw',
    'get:threw',
    'clear:threw',
    'clear:ok',
    'get:ok',
  ]);
});

test('sync storage: a fault may be a rejected Promise instead of a throw (a storage that is secretly async)', async () => {
  const storage = faultyStorage(tokens);
  storage.fail('get', { how: 'reject', times: 1 });
  const answer = storage.get() as unknown as Promise<unknown>;
  await expect(answer).rejects.toMatchObject({ name: 'SecurityError' });
  expect(storage.get()).toEqual(tokens);
});

test('async storage: Promises; faults reject; held operations wait for the test to release them', async () => {
  const storage = faultyStorage(tokens, { async: true });
  await expect(storage.get()).resolves.toEqual(tokens);
  storage.fail('set', { times: 1 });
  await expect(storage.set({ accessToken: 'a2' })).rejects.toMatchObject({ name: 'QuotaExceededError' });
  const release = storage.hold('get');
  let hydrated: unknown = 'pending';
  const pending = storage.get().then((value) => (hydrated = value));
  await Promise.resolve();
  expect(hydrated).toBe('pending');
  expect(storage.calls.at(-1)).toMatchObject({ operation: 'get', outcome: 'pending' });
  release();
  await pending;
  expect(hydrated).toEqual(tokens);
  expect(storage.count('get')).toBe(2);
});

test('jumping clock: now() jumps, timers keep their course, in virtual time', () => {
  newTestScheduler().run(({ flush }) => {
    const clock = jumpingClock();
    const fired: Array<[number, number]> = [];
    timer(100, clock).subscribe(() => fired.push([clock.now(), clock.offset]));
    clock.jump(3_600_000);
    expect(clock.now()).toBe(3_600_000);
    flush();
    expect(fired).toEqual([[3_600_100, 3_600_000]]);
    clock.jump(-3_600_000);
    expect(clock.now()).toBe(100);
  });
});

test('jumping clock as the scheduler: a token known to expire is refreshed first once the clock jumps past its expiry', () => {
  newTestScheduler().run(({ flush }) => {
    const clock = jumpingClock();
    const server = new FakeServer(() => clock.now());
    server.accessTtl = 60 * 60_000; // an hour
    const auth = createTokenRefresh({ refresh: server.refresh, scheduler: clock });
    createStore(auth);
    auth.setTokens(server.login());
    const results: string[] = [];
    auth.authorized((token) => server.request(token)).subscribe((v) => results.push(v));
    flush();
    expect(server.refreshCalls).toBe(0);
    clock.jump(2 * 60 * 60_000); // the laptop slept two hours
    auth.authorized((token) => server.request(token)).subscribe((v) => results.push(v));
    flush();
    expect(server.refreshCalls).toBe(1);
    expect(server.sent.map((s) => s.token)).toEqual(['access-L1', 'access-1']);
    expect(results).toEqual(['ok', 'ok']);
  });
});
