import { of, throwError } from 'rxjs';
import { createTokenRefresh } from '../../src';
import { createHeartbeatEpic } from '../../epics';
import { FakeServer, newTestScheduler } from '../support/harness';
import { runStore } from './liveness';

let ts: ReturnType<typeof newTestScheduler>;
beforeEach(() => {
  ts = newTestScheduler();
});

function setup() {
  const server = new FakeServer(() => ts.now());
  const auth = createTokenRefresh({ refresh: server.refresh });
  return { server, auth };
}

/** When each check was sent, and with which token. */
const checks = (server: FakeServer) => server.sent.map(({ at, token }) => [at, token]);

describe('createHeartbeatEpic', () => {
  test('checks every intervalMs while authenticated; a rejected token causes one refresh, reason heartbeat', () =>
    ts.run(({ expectObservable, flush }) => {
      const { server, auth } = setup();
      const epic = createHeartbeatEpic(auth, { intervalMs: 100, check: (token) => server.request(token) });
      auth.setTokens(server.tokens);
      const store = runStore(ts, 450, auth, epic);
      ts.schedule(() => (server.validAccess = 'revoked-on-server'), 250);
      // The check at 300 is answered 401 at 302: refresh at 302, new token at 307.
      expectObservable(store.refreshReasons$, '450ms !').toBe('302ms h', { h: 'heartbeat' });
      flush();
      expect(checks(server)).toEqual([
        [100, 'access-0'],
        [200, 'access-0'],
        [300, 'access-0'],
        [400, 'access-1'],
      ]);
    }));

  test('stops on logout and starts again with the next login', () =>
    ts.run(({ flush }) => {
      const { server, auth } = setup();
      const store = runStore(ts, 750, auth, createHeartbeatEpic(auth, { intervalMs: 100, check: (token) => server.request(token) }));
      auth.setTokens(server.tokens);
      ts.schedule(() => store.dispatch(auth.actions.loggedOut()), 150);
      ts.schedule(() => auth.setTokens(server.tokens), 500);
      flush();
      expect(checks(server).map(([at]) => at)).toEqual([100, 600, 700]);
    }));

  test('stops when a refresh fails: the session is over', () =>
    ts.run(({ flush }) => {
      const { server, auth } = setup();
      server.refreshPlan = [401];
      const store = runStore(ts, 500, auth, createHeartbeatEpic(auth, { intervalMs: 100, check: (token) => server.request(token) }));
      auth.setTokens(server.tokens);
      ts.schedule(() => (server.validAccess = 'revoked-on-server'), 150);
      flush();
      // The check at 200 fails, the refresh fails at 207: no check after that.
      expect(checks(server).map(([at]) => at)).toEqual([100, 200]);
      expect(server.refreshCalls).toBe(1);
      expect(auth.getAccessToken()).toBeUndefined();
      store.stop();
    }));

  test('paused while the page is hidden; checks at once when it is visible again', () =>
    ts.run(({ hot, flush }) => {
      const { server, auth } = setup();
      const visible$ = hot('t 149ms f 199ms t', { t: true, f: false });
      auth.setTokens(server.tokens);
      runStore(ts, 500, auth, createHeartbeatEpic(auth, { intervalMs: 100, check: (token) => server.request(token), visible$ }));
      flush();
      // Hidden from 150 to 350: no check at 200 or 300; one at 350, then every 100 again.
      expect(checks(server).map(([at]) => at)).toEqual([100, 350, 450]);
    }));

  test('a rejection of a token replaced while the check ran starts no refresh', () =>
    ts.run(({ expectObservable }) => {
      const { server, auth } = setup();
      auth.setTokens(server.tokens);
      const store = runStore(ts, 150, auth, createHeartbeatEpic(auth, { intervalMs: 100, check: (token) => server.request(token, 10) }));
      server.validAccess = 'access-login-2';
      ts.schedule(() => auth.setTokens({ accessToken: 'access-login-2', refreshToken: 'refresh-0' }), 105); // answer comes at 110
      expectObservable(store.refreshReasons$, '150ms !').toBe('');
    }));

  test('a fetch Response with status 401 or false counts as rejected; a network error or a slow check does not', () =>
    ts.run(({ expectObservable }) => {
      const { server, auth } = setup();
      auth.setTokens(server.tokens);
      const answers = [
        () => throwError(() => new TypeError('Failed to fetch')),
        () => ts.createColdObservable('1000ms a'),
        () => of({ status: 401 }),
        () => of(false),
      ];
      let call = 0;
      const check = () => answers[call++ % answers.length]!();
      const store = runStore(ts, 550, auth, createHeartbeatEpic(auth, { intervalMs: 100, check }));
      // 100: network error; 200: slow, abandoned at 300 (the tick at 300 finds it still running);
      // 400: a 401 Response → refresh; 500: false → refresh.
      expectObservable(store.refreshReasons$, '550ms !').toBe('400ms h 99ms h', { h: 'heartbeat' });
    }));

  test('a tick during a refresh does not send the old token: it waits, then checks the new one', () =>
    ts.run(({ expectObservable, flush }) => {
      const { server, auth } = setup();
      server.refreshLatency = 250; // the refresh runs from 150 to 400
      auth.setTokens(server.tokens);
      const store = runStore(ts, 550, auth, createHeartbeatEpic(auth, { intervalMs: 100, check: (token) => server.request(token) }));
      ts.schedule(() => void auth.refresh().catch(() => {}), 150);
      // One refresh (the one started at 150); the heartbeat neither starts nor duplicates one.
      expectObservable(store.refreshReasons$, '550ms !').toBe('150ms m', { m: 'manual' });
      flush();
      // The tick at 200 waits for the refresh (the one at 300 finds it waiting: no pile-up), and
      // checks with the new token at 400. No check carries access-0 after the refresh started.
      expect(checks(server)).toEqual([
        [100, 'access-0'],
        [400, 'access-1'],
        [500, 'access-1'],
      ]);
    }));

  test('a token known to expire is refreshed before the check, not sent', () =>
    ts.run(({ expectObservable, flush }) => {
      const server = new FakeServer(() => ts.now());
      server.accessTtl = 1_000;
      server.login();
      const auth = createTokenRefresh({ refresh: server.refresh, expirySkewMs: 100 });
      auth.setTokens(server.tokens); // expires at 1000: refreshed first from 900 on
      const store = runStore(ts, 1_050, auth, createHeartbeatEpic(auth, { intervalMs: 300, check: (token) => server.request(token) }));
      expectObservable(store.refreshReasons$, '1050ms !').toBe('900ms e', { e: 'expired' });
      flush();
      expect(checks(server)).toEqual([
        [300, 'access-L1'],
        [600, 'access-L1'],
        [905, 'access-1'],
      ]);
    }));

  test('bad options throw a TypeError naming the option', () => {
    const { auth } = setup();
    const check = () => of(true);
    expect(() => createHeartbeatEpic(auth, { intervalMs: 0, check })).toThrow(/option "intervalMs"/);
    expect(() => createHeartbeatEpic(auth, { intervalMs: 10, check: 'x' as never })).toThrow(/option "check"/);
    expect(() => createHeartbeatEpic(auth, { intervalMs: 10, check, visible$: true as never })).toThrow(/option "visible\$"/);
    expect(() => createHeartbeatEpic(auth, undefined as never)).toThrow(/options object/);
  });
});
