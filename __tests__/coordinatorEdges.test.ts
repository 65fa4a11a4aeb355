/**
 * Edges of the coordinator: another login's tokens under the lock, auth.refresh() when a refresh could not be done, a preloaded state, maxRetries 0 after a late 401, an async storage that never answers.
 * Each test failed before its fix.
 */
import { Observable, mergeMap, of, throwError, timer } from 'rxjs';
import { RefreshUnavailableError, createTokenRefresh, localStorageStorage, type Tokens } from '../src';
import { FakeServer, fakeJwt, newTestScheduler, createStore, setup } from './support/harness';
import { Browser } from './support/tabs';
import { expectWarning } from './support/console';

let ts = newTestScheduler();
beforeEach(() => (ts = newTestScheduler()));
const at = <T>(frame: number, source$: () => Observable<T>) => timer(frame).pipe(mergeMap(source$));

test("under the cross-tab lock, another login's stored tokens are not taken for a refresh of ours: A's request is never sent with B's token", () =>
  ts.run(({ flush }) => {
    expectWarning(/no Web Locks/); // locks: null, one warning per tab
    const browser = new Browser(60_000); // the storage event is a task; here it has not run yet
    const ada = { accessToken: fakeJwt({ sub: 'ada' }), refreshToken: 'r-ada' };
    const bob = { accessToken: fakeJwt({ sub: 'bob' }), refreshToken: 'r-bob' };
    const [t1, t2] = [browser.openTab(), browser.openTab()].map((tab) =>
      createTokenRefresh({
        refresh: () => timer(5).pipe(mergeMap(() => of({ accessToken: fakeJwt({ sub: 'ada', n: 2 }), refreshToken: 'r-ada-2' }))),
        storage: localStorageStorage('app/tokens', { storage: tab.localStorage, locks: null, events: tab.events }),
      }),
    );
    createStore(t1!);
    createStore(t2!);
    t1!.setTokens(ada);
    const sent: string[] = [];
    const api = (token: string) => (
      sent.push(token),
      timer(10).pipe(mergeMap(() => (token === ada.accessToken ? throwError(() => ({ status: 401 })) : of(token))))
    );
    t1!.authorized(api).subscribe({ error: () => {} }); // ada's request, 401 at 10
    ts.schedule(() => t2!.setTokens(bob), 5); // account switch in tab 2
    flush();
    expect(sent).not.toContain(bob.accessToken);
  }));

test('auth.refresh() rejects with RefreshUnavailableError when the refresh could not be done, even while the old token is still valid', async () => {
  let result: unknown = 'pending';
  ts.run(({ flush }) => {
    const server = new FakeServer(() => ts.now());
    server.accessTtl = 600_000;
    server.refreshPlan = [503, 503, 503];
    const auth = createTokenRefresh({ refresh: server.refresh });
    const store = createStore(auth);
    server.login();
    auth.setTokens(server.tokens);
    auth.refresh().then(
      () => (result = 'resolved'),
      (e: unknown) => (result = e),
    );
    flush();
    expect(store.state.status).toBe('unavailable');
  });
  await Promise.resolve();
  expect(result).toBeInstanceOf(RefreshUnavailableError);
});

test('a preloaded (SSR, rehydrated) state is replaced by what the coordinator is in', () => {
  const auth = createTokenRefresh({ refresh: () => of({ accessToken: 'x' }) });
  const store = createStore(auth, {
    preloadedState: { tokenRefresh: { status: 'authenticated' as const, expiresAt: null, refreshAt: null, lastError: null, ended: null } },
  });
  expect(auth.getStatus()).toBe('unauthenticated');
  expect(store.state.status).toBe(auth.getStatus());
});

test('maxRetries: 0 never sends a request twice, not even after a late 401', () =>
  ts.run(({ flush }) => {
    const { server, auth } = setup({ maxRetries: 0 }, () => ts.now());
    server.validAccess = 'expired';
    let posts = 0;
    auth.authorized((t) => server.request(t, 2)).subscribe({ error: () => {} }); // 401 at 2 -> refresh 2..7
    at(1, () => auth.authorized((t) => (posts++, server.request(t, 10, 'posted')))).subscribe({ error: () => {} }); // POST with access-0, 401 at 11 (late)
    flush();
    expect(posts).toBe(1);
  }));

test('an async storage whose get() never answers: hydration ends after refreshTimeoutMs, nothing hangs', () =>
  ts.run(({ flush }) => {
    expectWarning(/storage\.get\(\) failed \(TimeoutError\); the session goes on in memory/);
    const auth = createTokenRefresh({
      refresh: () => of({ accessToken: 'x' }),
      storage: { get: () => new Promise<Tokens | null>(() => {}), set: async () => {}, clear: async () => {} },
      refreshTimeoutMs: 1000,
    });
    createStore(auth);
    let settled = false;
    at(10, () => auth.authorized((t) => of(t))).subscribe({ next: () => (settled = true), error: () => (settled = true) });
    ts.schedule(() => {}, 600_000);
    flush();
    expect(auth.getStatus()).not.toBe('restoring');
    expect(settled).toBe(true);
  }));
