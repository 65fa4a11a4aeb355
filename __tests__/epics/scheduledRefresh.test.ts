import { map } from 'rxjs';
import { createTokenRefresh, type RefreshFn } from '../../src';
import { createScheduledRefreshEpic } from '../../epics';
import { FakeServer, newTestScheduler } from '../support/harness';
import { runStore } from './liveness';

let ts: ReturnType<typeof newTestScheduler>;
beforeEach(() => {
  ts = newTestScheduler();
});

/** A FakeServer whose refreshed tokens live `lifetime` frames from their arrival. */
function setup({ lifetime = 100, expirySkewMs = 30 } = {}) {
  const server = new FakeServer(() => ts.now());
  const refresh: RefreshFn = (token, context) =>
    server.refresh(token, context).pipe(map((tokens) => ({ ...tokens, expiresAt: ts.now() + lifetime })));
  const auth = createTokenRefresh({ refresh, expirySkewMs });
  return { server, auth, epic: createScheduledRefreshEpic(auth) };
}

describe('createScheduledRefreshEpic', () => {
  test('runs when the core says a token is due (its expirySkewMs), without being told the skew: a request then never finds the token about to expire', () =>
    ts.run(({ expectObservable }) => {
      const { server, auth, epic } = setup({ lifetime: 1000, expirySkewMs: 200 });
      const store = runStore(ts, 1100, auth, epic);
      auth.setTokens({ ...server.tokens, expiresAt: 1000 });
      // 1000 - 200 = 800, the core's refreshAt (the epic's own old default, 30, would have said 970).
      expectObservable(store.refreshReasons$, '1100ms !').toBe('800ms s', { s: 'scheduled' });
    }));

  test('refreshes expirySkewMs before expiry, in the background, and again after every refresh', () =>
    ts.run(({ expectObservable }) => {
      const { server, auth, epic } = setup();
      const store = runStore(ts, 200, auth, epic);
      auth.setTokens({ ...server.tokens, expiresAt: 100 });
      // 100 - 30 = 70; the refresh lands at 75 with expiresAt 175, so the next one is at 145.
      expectObservable(store.refreshReasons$, '200ms !').toBe('70ms s 74ms s', { s: 'scheduled' });
    }));

  test('a token whose lifetime is shorter than the skew is refreshed at half its lifetime, not at once', () =>
    ts.run(({ expectObservable }) => {
      const { server, auth, epic } = setup({ lifetime: 40 });
      const store = runStore(ts, 50, auth, epic);
      auth.setTokens({ ...server.tokens, expiresAt: 40 });
      // max(40 - 30, 0 + 40 / 2) = 20; refreshed at 25 with expiresAt 65: max(35, 45) = 45.
      expectObservable(store.refreshReasons$, '50ms !').toBe('20ms s 24ms s', { s: 'scheduled' });
    }));

  test('the timer is cleared on logout', () =>
    ts.run(({ expectObservable }) => {
      const { server, auth, epic } = setup();
      const store = runStore(ts, 300, auth, epic);
      auth.setTokens({ ...server.tokens, expiresAt: 100 });
      ts.schedule(() => store.dispatch(auth.actions.loggedOut()), 50);
      expectObservable(store.refreshReasons$, '300ms !').toBe('');
    }));

  test('the timer is cleared when a refresh fails, and restarted by the next login', () =>
    ts.run(({ expectObservable, flush }) => {
      const { server, auth, epic } = setup();
      const store = runStore(ts, 280, auth, epic);
      server.refreshPlan = [401];
      auth.setTokens({ ...server.tokens, expiresAt: 100 });
      ts.schedule(() => void auth.refresh().catch(() => {}), 10); // fails at 15: the session is over
      ts.schedule(() => auth.setTokens({ ...server.tokens, expiresAt: 300 }), 200); // logs in again: next at 270
      expectObservable(store.refreshReasons$, '280ms !').toBe('10ms m 259ms s', { m: 'manual', s: 'scheduled' });
      flush();
      expect(server.refreshCalls).toBe(2);
    }));

  test('a refresh triggered by a 401 restarts the timer from its new expiry', () =>
    ts.run(({ expectObservable }) => {
      const { server, auth, epic } = setup();
      const store = runStore(ts, 150, auth, epic);
      auth.setTokens({ ...server.tokens, expiresAt: 100 });
      server.validAccess = 'revoked';
      ts.schedule(() => auth.authorized((token) => server.request(token)).subscribe(), 40);
      // 401 at 42, refreshed at 47 (expiresAt 147): the old timer at 70 is gone, the new one is at 117.
      expectObservable(store.refreshReasons$, '150ms !').toBe('42ms u 74ms s', { u: 'unauthorized', s: 'scheduled' });
    }));

  test('a scheduled refresh that finds one in flight joins it: one refresh call', () =>
    ts.run(({ flush }) => {
      const { server, auth, epic } = setup();
      runStore(ts, 300, auth, epic);
      auth.setTokens({ ...server.tokens, expiresAt: 100 });
      ts.schedule(() => void auth.refresh().catch(() => {}), 68); // in flight 68 → 73, across the timer at 70
      ts.schedule(() => expect(server.refreshCalls).toBe(1), 100);
      flush();
    }));

  test('a session that predates the epic is scheduled from the store state', () =>
    ts.run(({ expectObservable }) => {
      const { server, auth } = setup();
      auth.setTokens({ ...server.tokens, expiresAt: 100 });
      const store = runStore(ts, 100, auth, createScheduledRefreshEpic(auth, { expirySkewMs: 30 }));
      expectObservable(store.refreshReasons$, '100ms !').toBe('70ms s', { s: 'scheduled' });
    }));

  test('no timer without a known expiry, nor for a token that arrived already expired', () =>
    ts.run(({ expectObservable }) => {
      const { server, auth, epic } = setup();
      const store = runStore(ts, 500, auth, epic);
      auth.setTokens(server.tokens);
      ts.schedule(() => auth.setTokens({ ...server.tokens, expiresAt: 5 }), 10);
      expectObservable(store.refreshReasons$, '500ms !').toBe('');
    }));

  test('bad options throw a TypeError naming the option', () => {
    const { auth } = setup();
    expect(() => createScheduledRefreshEpic(auth, { scheduler: {} as never })).toThrow(/option "scheduler"/);
    expect(() => createScheduledRefreshEpic({} as never)).toThrow(/createTokenRefresh/);
  });
});
