/**
 * A request belongs to the login it started in: another login ends it, and tokens a failed storage write left behind are never adopted.
 * Each test failed before its fix.
 */
import { Observable, mergeMap, timer } from 'rxjs';
import { createTokenRefresh, memoryStorage, type TokenStorage, type Tokens } from '../src';
import { FakeServer, fakeJwt, newTestScheduler, createStore, setup } from './support/harness';

let ts = newTestScheduler();
beforeEach(() => (ts = newTestScheduler()));
const at = <T>(frame: number, source$: () => Observable<T>) => timer(frame).pipe(mergeMap(source$));
const log = () => {
  const seen: unknown[] = [];
  return {
    seen,
    observer: {
      next: (v: unknown) => seen.push({ at: ts.now(), v }),
      error: (e: unknown) => seen.push({ at: ts.now(), e: (e as Error).name }),
    },
  };
};

test("a request that started during A's refresh and waits for it fails with LoggedOutError when B logs in", () =>
  ts.run(({ flush }) => {
    const server = new FakeServer(() => ts.now());
    server.refreshLatency = 50;
    const ada = { accessToken: fakeJwt({ sub: 'ada' }), refreshToken: 'r-ada' };
    const bob = { accessToken: fakeJwt({ sub: 'bob' }), refreshToken: 'r-bob' };
    server.validRefresh = 'r-ada';
    const auth = createTokenRefresh({ refresh: server.refresh });
    createStore(auth);
    auth.setTokens(ada);
    server.validAccess = 'nobody';
    auth.authorized((t) => server.request(t)).subscribe({ error: () => {} }); // 401 at 2: A's refresh runs 2..52
    const { seen, observer } = log();
    at(5, () => auth.authorized((t) => server.request(t, 2, "A's note"))).subscribe(observer); // started in A's session, waits
    ts.schedule(() => ((server.validAccess = bob.accessToken), auth.setTokens(bob)), 10);
    flush();
    expect(server.sent.map((s) => s.token)).not.toContain(bob.accessToken);
    expect(seen).toEqual([{ at: 10, e: 'LoggedOutError' }]);
  }));

test('after a failed storage write, the next refresh does not adopt the stale stored tokens; the session goes on', () =>
  ts.run(({ flush }) => {
    const inner = memoryStorage();
    let failSet = false;
    const storage: TokenStorage = {
      get: () => inner.get(),
      set: (t: Tokens) => {
        if (failSet) throw Object.assign(new Error('quota'), { name: 'QuotaExceededError' });
        inner.set(t);
      },
      clear: () => inner.clear(),
    };
    jest.spyOn(console, 'warn').mockImplementation(() => {});
    const { server, auth, store } = setup({ storage }, () => ts.now());
    failSet = true; // localStorage full from now on: "the session goes on in memory"
    server.validAccess = 'expired-1';
    const { seen, observer } = log();
    auth.authorized((t) => server.request(t, 2, 'a')).subscribe(observer); // refresh -> access-1 (not stored)
    ts.schedule(() => (server.validAccess = server.validAccess === 'access-1' ? 'expired-2' : server.validAccess), 20); // access-1 expires on the server
    at(30, () => auth.authorized((t) => server.request(t, 2, 'b'))).subscribe(observer);
    at(60, () => auth.authorized((t) => server.request(t, 2, 'c'))).subscribe(observer);
    flush();
    expect(seen).toEqual([
      { at: 9, v: 'a' },
      { at: 39, v: 'b' },
      { at: 62, v: 'c' },
    ]);
    expect(store.state.status).toBe('authenticated');
  }));
