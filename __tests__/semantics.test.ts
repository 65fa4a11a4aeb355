import { Subject, mergeMap, takeUntil, throwError, timer, type Observable } from 'rxjs';
import {
  EpicNotRunningError,
  LoggedOutError,
  NotAuthenticatedError,
  RefreshTimeoutError,
  RefreshUnavailableError,
  RetryLimitError,
  TokenRefreshError,
  createTokenRefresh,
  memoryStorage,
  type TokenRefresh,
} from '../src';
import { FakeServer, createStore, fakeJwt, newTestScheduler, setup, unauthorized, type TestStore } from './support/harness';

let ts: ReturnType<typeof newTestScheduler>;
beforeEach(() => {
  ts = newTestScheduler();
});

/** Subscribe `source$` at virtual frame `at`. */
const at = <T>(frame: number, source$: () => Observable<T>) => timer(frame).pipe(mergeMap(source$));

describe('the token is read when the call is subscribed', () => {
  test('the token is read when the call is subscribed, never when it is created', () =>
    ts.run(({ expectObservable }) => {
      const { server, auth } = setup();
      const call$ = auth.authorized((token) => server.request(token, 1, token));
      server.validAccess = 'access-new';
      auth.setTokens({ accessToken: 'access-new', refreshToken: 'refresh-0' });
      expectObservable(call$).toBe('-(v|)', { v: 'access-new' });
    }));

  test('a replay reads the token again: the retried call carries the refreshed token', () =>
    ts.run(({ expectObservable, flush }) => {
      const { server, auth } = setup();
      server.validAccess = 'expired-on-server';
      expectObservable(auth.authorized((token) => server.request(token, 2, token))).toBe('---------(v|)', { v: 'access-1' });
      flush();
      expect(server.sent.map((s) => s.token)).toEqual(['access-0', 'access-1']);
    }));
});

describe('concurrent 401s', () => {
  test('ten concurrent 401s cause exactly one refresh call; all ten are replayed with the new token', () =>
    ts.run(({ expectObservable, flush }) => {
      const { server, auth, store } = setup();
      server.validAccess = 'expired-on-server';
      for (let i = 0; i < 10; i++) {
        expectObservable(auth.authorized((token) => server.request(token, 2, `r${i}`))).toBe('---------(v|)', { v: `r${i}` });
      }
      flush();
      expect(server.refreshCalls).toBe(1);
      expect(server.sentWith('access-1')).toBe(10);
      expect(store.types()).toEqual(['tokensSet', 'refreshRequested', 'refreshSucceeded']);
      expect(store.state.status).toBe('authenticated');
    }));
});

describe('calls during a refresh', () => {
  test('a call started while a refresh is in flight waits and is sent once, with the new token', () =>
    ts.run(({ expectObservable, flush }) => {
      const { server, auth, store } = setup();
      server.validAccess = 'expired-on-server';
      expectObservable(auth.authorized((token) => server.request(token, 2, 'first'))).toBe('---------(v|)', { v: 'first' });
      // The refresh runs from frame 2 to 7; this call starts at 4 and is first sent at 7.
      expectObservable(at(4, () => auth.authorized((token) => server.request(token, 2, 'second')))).toBe('---------(v|)', {
        v: 'second',
      });
      ts.schedule(() => expect(store.state.status).toBe('refreshing'), 4);
      flush();
      expect(server.sent).toEqual([
        { token: 'access-0', at: 0 },
        { token: 'access-1', at: 7 },
        { token: 'access-1', at: 7 },
      ]);
      expect(server.refreshCalls).toBe(1);
    }));
});

describe('late 401', () => {
  test('a 401 for a token older than the current one is replayed at once with the current token, without a refresh', () =>
    ts.run(({ expectObservable, flush }) => {
      const { server, auth } = setup();
      server.validAccess = 'expired-on-server';
      expectObservable(auth.authorized((token) => server.request(token, 1, 'fast'))).toBe('-------(v|)', { v: 'fast' });
      // Sent with access-0 at 0, answered 401 at 10, after the refresh (1 → 6) replaced the token.
      expectObservable(auth.authorized((token) => server.request(token, 10, 'slow'))).toBe('-'.repeat(20) + '(v|)', { v: 'slow' });
      flush();
      expect(server.refreshCalls).toBe(1);
      expect(server.sent.filter((s) => s.at === 10)).toEqual([{ token: 'access-1', at: 10 }]);
    }));
  test("two slow calls that keep running into each other's refresh stop with RetryLimitError instead of replaying forever", () =>
    ts.run(({ flush }) => {
      // A livelock fast-check found: tokens live 10 frames, calls take 25, so every answer is a late
      // 401 for a token the other call's replay has just refreshed. Past the budget, the test fails
      // on unsettled calls rather than hanging.
      ts.maxFrames = 10_000;
      const server = new FakeServer(() => ts.now());
      server.accessTtl = 10;
      server.refreshLatency = 0;
      const auth = createTokenRefresh({ refresh: server.refresh, expirySkewMs: 0, maxRetries: 0 });
      createStore(auth);
      auth.setTokens(server.login());
      const outcomes: unknown[] = [];
      const call = (frame: number, latency: number) =>
        at(frame, () => auth.authorized((token) => server.request(token, latency))).subscribe({
          next: (value) => outcomes.push(value),
          error: (error) => outcomes.push(error),
        });
      call(0, 25);
      call(0, 1);
      call(10, 25);
      flush();
      // The first slow call gives up; with the race over, the second one gets through.
      expect(outcomes).toEqual(['ok', expect.any(RetryLimitError), 'ok']);
      expect(outcomes[1]).toMatchObject({ replaced: true, retries: 0 });
      expect(ts.now()).toBeLessThan(200);
    }));
});

describe('known expiry', () => {
  test('a call within expirySkewMs of a known expiresAt refreshes first: no request carries the expiring token', () =>
    ts.run(({ expectObservable, flush }) => {
      const { server, auth } = setup({ expirySkewMs: 30 });
      auth.setTokens({ ...server.tokens, expiresAt: 100 });
      // refreshAt = max(100 - 30, 0 + 100 / 2) = 70
      expectObservable(at(60, () => auth.authorized((token) => server.request(token, 2, token)))).toBe('-'.repeat(62) + '(v|)', {
        v: 'access-0',
      });
      expectObservable(at(80, () => auth.authorized((token) => server.request(token, 2, token)))).toBe('-'.repeat(87) + '(v|)', {
        v: 'access-1',
      });
      flush();
      expect(server.sent).toEqual([
        { token: 'access-0', at: 60 },
        { token: 'access-1', at: 85 },
      ]);
      expect(server.refreshCalls).toBe(1);
    }));

  test('the JWT exp claim counts, corrected by iat for a client clock that is off', () =>
    ts.run(({ flush }) => {
      const server = new FakeServer(() => ts.now());
      // Issued "in 2001" by the server's clock while ours reads 0: only the 100 s lifetime matters.
      const jwt = fakeJwt({ sub: 'u', iat: 1_000_000_000, exp: 1_000_000_100 });
      server.validAccess = jwt;
      const auth = createTokenRefresh({ refresh: server.refresh, expirySkewMs: 30_000 });
      createStore(auth);
      auth.setTokens({ accessToken: jwt, refreshToken: 'refresh-0' });
      at(60_000, () => auth.authorized((token) => server.request(token))).subscribe();
      at(75_000, () => auth.authorized((token) => server.request(token))).subscribe();
      flush();
      expect(server.sent.map((s) => [s.token === jwt ? 'jwt' : s.token, s.at])).toEqual([
        ['jwt', 60_000],
        ['access-1', 75_005],
      ]);
    }));

  test('a token that arrives with a lifetime shorter than the skew is not refreshed again at once', () =>
    ts.run(({ flush }) => {
      const { server, auth } = setup({ expirySkewMs: 30_000 });
      auth.setTokens({ ...server.tokens, expiresAt: 15_000 });
      for (let i = 0; i < 5; i++) auth.authorized((token) => server.request(token)).subscribe();
      flush();
      expect(server.refreshCalls).toBe(0);
    }));
});

describe('retry counter', () => {
  const alwaysUnauthorized = () => timer(1).pipe(mergeMap(() => throwError(unauthorized)));

  test('a call that still gets 401 after maxRetries replays fails with RetryLimitError; no loop', () =>
    ts.run(({ expectObservable, flush }) => {
      const { server, auth } = setup();
      expectObservable(auth.authorized(alwaysUnauthorized)).toBe('-------#', undefined, new RetryLimitError(1, unauthorized()));
      flush();
      expect(server.refreshCalls).toBe(1);
    }));

  test('maxRetries: 3 allows three refreshes for one call, then stops', () =>
    ts.run(({ flush }) => {
      const { server, auth } = setup({ maxRetries: 3 });
      const errors: unknown[] = [];
      auth.authorized(alwaysUnauthorized).subscribe({ error: (e) => errors.push(e) });
      flush();
      expect(server.refreshCalls).toBe(3);
      expect(errors).toEqual([expect.any(RetryLimitError)]);
      expect((errors[0] as RetryLimitError).cause).toEqual(unauthorized());
    }));

  test('maxRetries: 0 refreshes the token for the next call but never replays the call that got the 401', () =>
    ts.run(({ expectObservable, flush }) => {
      const { server, auth } = setup({ maxRetries: 0 });
      server.validAccess = 'expired-on-server';
      expectObservable(auth.authorized((token) => server.request(token))).toBe('--#', undefined, new RetryLimitError(0, unauthorized()));
      // The next call waits for that refresh and goes out once, with the new token.
      // 401 at 2, refresh 2..7; the next call starts at 3, waits, goes out at 7 and answers at 9.
      expectObservable(at(3, () => auth.authorized((token) => server.request(token, 2, 'v')))).toBe('---------(v|)', { v: 'v' });
      flush();
      expect(server.refreshCalls).toBe(1);
      expect(server.sent.map((s) => s.token)).toEqual(['access-0', 'access-1']);
    }));

  test('the refresh call itself is never intercepted: a 401 from it fails the session instead of refreshing again', () =>
    ts.run(({ flush }) => {
      const { server, auth } = setup();
      server.validAccess = 'expired-on-server';
      server.refreshPlan = [401];
      const errors: unknown[] = [];
      auth.authorized((token) => server.request(token)).subscribe({ error: (e) => errors.push(e) });
      flush();
      expect(server.refreshCalls).toBe(1);
      expect(errors).toEqual([expect.any(TokenRefreshError)]);
    }));
});

describe('refresh rejected', () => {
  test.each([401, 400])(
    'a refresh answered %i fails every waiting call with TokenRefreshError, clears tokens, and later calls fail fast',
    (status) =>
      ts.run(({ expectObservable, flush }) => {
        const storage = memoryStorage();
        const { server, auth, store } = setup({ storage });
        server.validAccess = 'expired-on-server';
        server.refreshPlan = [status];
        const failed = new TokenRefreshError(`The refresh token was rejected (HTTP ${status}); the user must log in again.`);
        for (let i = 0; i < 3; i++) {
          expectObservable(auth.authorized((token) => server.request(token))).toBe('-------#', undefined, failed);
        }
        const later: unknown[] = [];
        at(20, () => auth.authorized((token) => server.request(token))).subscribe({ error: (e) => later.push(e) });
        flush();
        expect(server.refreshCalls).toBe(1);
        expect(store.types()).toEqual(['tokensSet', 'refreshRequested', 'refreshFailed', 'loggedOut']);
        expect(store.actions.at(-1)).toEqual(auth.actions.loggedOut({ reason: 'rejected', elsewhere: false }));
        expect(store.state).toEqual({
          status: 'unauthenticated',
          expiresAt: null,
          refreshAt: null,
          lastError: { name: 'TokenRefreshError', code: 'REFRESH_FAILED', status, message: failed.message },
          ended: { reason: 'rejected', elsewhere: false },
        });
        expect(storage.get()).toBeNull();
        expect(auth.getAccessToken()).toBeUndefined();
        expect(later).toEqual([expect.any(NotAuthenticatedError)]);
        expect(server.sent.filter((s) => s.at >= 20)).toEqual([]);
      }),
  );

  test('the TokenRefreshError carries the refresh failure as its cause', () =>
    ts.run(({ flush }) => {
      const { server, auth } = setup();
      server.validAccess = 'expired-on-server';
      server.refreshPlan = [400];
      let error: TokenRefreshError | undefined;
      auth.authorized((token) => server.request(token)).subscribe({ error: (e: TokenRefreshError) => (error = e) });
      flush();
      expect(error?.cause).toEqual({ status: 400, error: 'invalid_grant' });
      expect(error?.code).toBe('REFRESH_FAILED');
    }));
});

describe('requests in flight when the session ends', () => {
  test('a 401 that arrives after the refresh failed fails with the same TokenRefreshError as the waiting calls', () =>
    ts.run(({ flush }) => {
      const { server, auth } = setup();
      server.validAccess = 'expired-on-server';
      server.refreshPlan = [400];
      const errors: unknown[] = [];
      auth.authorized((token) => server.request(token, 1)).subscribe({ error: (e) => errors.push(e) });
      // Sent with the same token at 0, answered at 20: long after the refresh failed at 6.
      auth.authorized((token) => server.request(token, 20)).subscribe({ error: (e) => errors.push(e) });
      flush();
      expect(errors).toHaveLength(2);
      expect(errors[1]).toBe(errors[0]);
      expect(errors[0]).toBeInstanceOf(TokenRefreshError);
      expect(server.refreshCalls).toBe(1);
    }));

  test('a 401 that arrives after a logout fails with LoggedOutError and is not replayed', () =>
    ts.run(({ flush }) => {
      const { server, auth } = setup();
      server.validAccess = 'expired-on-server';
      const errors: unknown[] = [];
      auth.authorized((token) => server.request(token, 10)).subscribe({ error: (e) => errors.push(e) });
      ts.schedule(() => auth.clearTokens(), 5);
      flush();
      expect(errors).toEqual([expect.any(LoggedOutError)]);
      expect(server.sent).toHaveLength(1);
      expect(server.refreshCalls).toBe(0);
    }));

  test('after a new login, a call that is refused fails as before: NotAuthenticatedError only when no one is logged in', () =>
    ts.run(({ flush }) => {
      const { server, auth } = setup();
      auth.clearTokens();
      auth.setTokens(server.login());
      const values: unknown[] = [];
      auth.authorized((token) => server.request(token, 1, 'after relogin')).subscribe((v) => values.push(v));
      flush();
      expect(values).toEqual(['after relogin']);
    }));
});

describe('re-entrancy and stored sessions', () => {
  test('a stored token that expired while the app was closed is refreshed before the first request', () =>
    ts.run(({ flush }) => {
      const server = new FakeServer(() => ts.now());
      const storage = memoryStorage({ accessToken: 'access-0', refreshToken: 'refresh-0', expiresAt: -60_000 });
      const auth = createTokenRefresh({ refresh: server.refresh, storage });
      createStore(auth);
      auth.authorized((token) => server.request(token)).subscribe();
      flush();
      expect(server.refreshCalls).toBe(1);
      expect(server.sent.map((s) => s.token)).toEqual(['access-1']);
    }));

  test('a logout whose action is handled synchronously still fails a 401 in flight with LoggedOutError', () =>
    ts.run(({ flush }) => {
      const { server, auth } = setup();
      server.validAccess = 'expired-on-server';
      const errors: unknown[] = [];
      auth.authorized((token) => server.request(token, 1)).subscribe({ error: (e) => errors.push(e) });
      auth.authorized((token) => server.request(token, 10)).subscribe({ error: (e) => errors.push(e) });
      ts.schedule(() => auth.clearTokens(), 3);
      flush();
      expect(errors).toEqual([expect.any(LoggedOutError), expect.any(LoggedOutError)]);
      expect(server.refreshesAborted).toEqual(['refresh-0']);
    }));

  test('a failed refresh does not clear tokens that another tab stored meanwhile', () =>
    ts.run(({ flush }) => {
      const storage = memoryStorage();
      const { server, auth } = setup({ storage });
      server.validAccess = 'expired-on-server';
      server.refreshPlan = [400];
      auth.authorized((token) => server.request(token)).subscribe({ error: () => {} });
      const otherTab = { accessToken: 'access-other-tab', refreshToken: 'refresh-other-tab' };
      ts.schedule(() => storage.set(otherTab), 4);
      flush();
      expect(auth.getAccessToken()).toBeUndefined();
      expect(storage.get()).toEqual(otherTab);
    }));

  test('a logout in reaction to refreshRequested means no refresh call is made', () =>
    ts.run(({ flush }) => {
      const server = new FakeServer(() => ts.now());
      const auth = createTokenRefresh({ refresh: server.refresh });
      const store = createStore(auth, {
        onAction: (action) => auth.actions.refreshRequested.match(action) && store.dispatch(auth.actions.loggedOut()),
      });
      auth.setTokens(server.tokens);
      server.validAccess = 'expired-on-server';
      const errors: unknown[] = [];
      auth.authorized((token) => server.request(token)).subscribe({ error: (e) => errors.push(e) });
      flush();
      expect(server.refreshCalls).toBe(0);
      expect(errors).toEqual([expect.any(LoggedOutError)]);
      expect(store.types()).toEqual(['tokensSet', 'refreshRequested', 'loggedOut']);
    }));
});

describe('transient refresh failures and timeout', () => {
  test('a 503 is retried refreshRetries times with exponential backoff before it succeeds', () =>
    ts.run(({ expectObservable, flush }) => {
      const { server, auth } = setup({ refreshRetries: 2, refreshBackoffMs: 100 });
      server.validAccess = 'expired-on-server';
      server.refreshPlan = [503, 503, 'ok'];
      // 401 at 2; attempts at 2, 107 (after 100), 312 (after 200); tokens at 317; replay answers at 319.
      expectObservable(auth.authorized((token) => server.request(token, 2, 'v'))).toBe('-'.repeat(319) + '(v|)', { v: 'v' });
      flush();
      expect(server.refreshCalls).toBe(3);
    }));

  test('after refreshRetries transient failures the session is kept: RefreshUnavailableError, status unavailable, tokens stay', () =>
    ts.run(({ flush }) => {
      const storage = memoryStorage();
      const { server, auth, store } = setup({ refreshRetries: 2, refreshBackoffMs: 100, storage });
      server.validAccess = 'expired-on-server';
      server.refreshPlan = [503, 502, 500];
      const errors: unknown[] = [];
      auth.authorized((token) => server.request(token)).subscribe({ error: (e) => errors.push(e) });
      flush();
      expect(server.refreshCalls).toBe(3);
      expect(errors).toEqual([expect.any(RefreshUnavailableError)]);
      expect((errors[0] as RefreshUnavailableError).cause).toEqual({ status: 500 });
      expect(store.state.status).toBe('unavailable');
      expect(store.types()).toEqual(['tokensSet', 'refreshRequested', 'refreshUnavailable']);
      expect(auth.getAccessToken()).toBe('access-0');
      expect(storage.get()?.refreshToken).toBe('refresh-0');
    }));

  test('a refresh that does not answer within refreshTimeoutMs is aborted; the waiting calls get RefreshUnavailableError caused by RefreshTimeoutError', () =>
    ts.run(({ flush }) => {
      const { server, auth, store } = setup({ refreshTimeoutMs: 1000 });
      server.validAccess = 'expired-on-server';
      server.refreshPlan = ['never'];
      const errors: Array<{ at: number; error: unknown }> = [];
      auth.authorized((token) => server.request(token)).subscribe({ error: (error) => errors.push({ at: ts.now(), error }) });
      flush();
      expect(errors).toEqual([{ at: 1002, error: expect.any(RefreshUnavailableError) }]);
      expect((errors[0]!.error as RefreshUnavailableError).cause).toEqual(new RefreshTimeoutError(1000));
      expect(server.refreshesAborted).toEqual(['refresh-0']);
      expect(store.state.status).toBe('unavailable');
    }));

  test('refreshTimeoutMs bounds the retries too', () =>
    ts.run(({ flush }) => {
      const { server, auth } = setup({ refreshTimeoutMs: 150, refreshRetries: 5, refreshBackoffMs: 100 });
      server.validAccess = 'expired-on-server';
      server.refreshPlan = [503, 503, 503, 503, 503, 503];
      let failedAt = -1;
      auth
        .authorized((token) => server.request(token))
        .subscribe({ error: (e: Error) => e.cause instanceof RefreshTimeoutError && (failedAt = ts.now()) });
      flush();
      expect(failedAt).toBe(152);
      expect(server.refreshCalls).toBe(2);
    }));
});

describe('logout', () => {
  test('loggedOut during a refresh cancels it, discards its tokens and fails the waiting calls with LoggedOutError', () =>
    ts.run(({ expectObservable, flush }) => {
      const storage = memoryStorage();
      const { server, auth, store } = setup({ storage });
      server.validAccess = 'expired-on-server';
      expectObservable(auth.authorized((token) => server.request(token))).toBe('----#', undefined, new LoggedOutError());
      ts.schedule(() => store.dispatch(auth.actions.loggedOut()), 4);
      flush();
      expect(server.refreshesAborted).toEqual(['refresh-0']);
      expect(storage.get()).toBeNull();
      expect(auth.getAccessToken()).toBeUndefined();
      expect(store.types()).toEqual(['tokensSet', 'refreshRequested', 'loggedOut']);
      expect(server.sent).toHaveLength(1);
    }));

  test('tokens from a refresh that answers after clearTokens() are not stored', async () => {
    let store!: TestStore;
    const storage = memoryStorage();
    let auth!: TokenRefresh;
    ts.run(({ flush }) => {
      const server = new FakeServer(() => ts.now());
      // A promise cannot be cancelled: it resolves after the logout all the same.
      let resolveLate: (tokens: { accessToken: string }) => void = () => {};
      auth = createTokenRefresh({ storage, refresh: () => new Promise((resolve) => (resolveLate = resolve)) });
      store = createStore(auth);
      auth.setTokens(server.tokens);
      auth.refresh().catch(() => {});
      ts.schedule(() => auth.clearTokens(), 3);
      ts.schedule(() => resolveLate({ accessToken: 'late-access' }), 5);
      flush();
    });
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(storage.get()).toBeNull();
    expect(auth.getAccessToken()).toBeUndefined();
    expect(store.types()).toEqual(['tokensSet', 'refreshRequested', 'loggedOut']);
    expect(store.state.status).toBe('unauthenticated');
  });

  test('no call is sent after logout', () =>
    ts.run(({ flush }) => {
      const { server, auth } = setup();
      auth.clearTokens();
      const errors: unknown[] = [];
      auth.authorized((token) => server.request(token)).subscribe({ error: (e) => errors.push(e) });
      flush();
      expect(errors).toEqual([expect.any(NotAuthenticatedError)]);
      expect(server.sent).toEqual([]);
    }));
});

describe('unsubscribing a waiting call', () => {
  test('leaves nothing behind and does not cancel the shared refresh for the others', () =>
    ts.run(({ expectObservable, flush }) => {
      const { server, auth } = setup();
      server.validAccess = 'expired-on-server';
      const cancel = new Subject<void>();
      expectObservable(auth.authorized((token) => server.request(token)).pipe(takeUntil(timer(4)))).toBe('----|');
      expectObservable(auth.authorized((token) => server.request(token, 2, 'kept'))).toBe('---------(v|)', { v: 'kept' });
      flush();
      cancel.complete();
      expect(server.refreshesAborted).toEqual([]);
      expect(server.refreshCalls).toBe(1);
      expect(server.sentWith('access-1')).toBe(1);
    }));
});

describe('rotated refresh tokens', () => {
  test('the refresh token a refresh returns replaces the old one; a response without one keeps the old', () =>
    ts.run(({ flush }) => {
      const storage = memoryStorage();
      const { server, auth } = setup({ storage });
      server.refreshPlan = ['ok', 'no-rotate', 'ok'];
      const expireAndCall = (frame: number) =>
        ts.schedule(() => {
          server.validAccess = `expired-at-${frame}`;
          auth.authorized((token) => server.request(token)).subscribe();
        }, frame);
      expireAndCall(0);
      expireAndCall(20);
      expireAndCall(40);
      ts.schedule(() => expect(storage.get()).toMatchObject({ accessToken: 'access-1', refreshToken: 'refresh-1' }), 10);
      ts.schedule(() => expect(storage.get()).toMatchObject({ accessToken: 'access-2', refreshToken: 'refresh-1' }), 30);
      flush();
      expect(server.spent).toEqual(['refresh-0', 'refresh-1', 'refresh-1']);
      expect(storage.get()?.refreshToken).toBe('refresh-3');
      expect(server.sent.filter((s) => s.token.startsWith('expired'))).toEqual([]);
    }));
});

describe('epic not running', () => {
  test('an auth error fails the call at once with EpicNotRunningError naming the fix', () =>
    ts.run(({ expectObservable, flush }) => {
      const server = new FakeServer(() => ts.now());
      const auth = createTokenRefresh({ refresh: server.refresh });
      auth.setTokens(server.tokens);
      server.validAccess = 'expired-on-server';
      expectObservable(auth.authorized((token) => server.request(token))).toBe('--#', undefined, new EpicNotRunningError());
      flush();
      expect(new EpicNotRunningError().message).toMatch(/add auth\.epic to your root epic/);
      expect(server.refreshCalls).toBe(0);
    }));

  test('a known-expired token without the epic fails before anything is sent', () =>
    ts.run(({ expectObservable, flush }) => {
      const server = new FakeServer(() => ts.now());
      const auth = createTokenRefresh({ refresh: server.refresh, expirySkewMs: 0 });
      auth.setTokens({ ...server.tokens, expiresAt: 10 });
      expectObservable(at(20, () => auth.authorized((token) => server.request(token)))).toBe(
        '-'.repeat(20) + '#',
        undefined,
        new EpicNotRunningError(),
      );
      flush();
      expect(server.sent).toEqual([]);
    }));

  test('a refresh in flight when auth.epic stops (hot reload) still finishes: its tokens are kept and the waiting calls replay', () =>
    ts.run(({ expectObservable, flush }) => {
      const { server, auth, store } = setup();
      server.validAccess = 'expired-on-server';
      // 401 at 2, refresh 2..7; the epic stops at 3 and the next one starts at 4 (epic$ + switchMap).
      expectObservable(auth.authorized((token) => server.request(token, 2, 'v'))).toBe('---------(v|)', { v: 'v' });
      ts.schedule(() => store.stop(), 3);
      let next: TestStore | undefined;
      ts.schedule(() => (next = createStore(auth)), 4);
      flush();
      expect(server.refreshCalls).toBe(1);
      expect(server.refreshesAborted).toEqual([]);
      expect(auth.getAccessToken()).toBe('access-1');
      expect(next!.state.status).toBe('authenticated');
    }));
});
