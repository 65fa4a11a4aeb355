import vm from 'node:vm';
import { Observable, defer, mergeMap, of, throwError, timer, type ObservableInput } from 'rxjs';
import {
  LoggedOutError,
  NotAuthenticatedError,
  RefreshUnavailableError,
  TokenRefreshError,
  createTokenRefresh,
  localStorageStorage,
  memoryStorage,
  syncTabs,
  type TokenStorage,
  type Tokens,
} from '../src';
import { FakeServer, fakeJwt, newTestScheduler, createStore, setup, unauthorized } from './support/harness';
import { Browser } from './support/tabs';
import { expectWarning } from './support/console';

/**
 * Issue 8, in virtual time: the world a user's app meets. Each test names the behaviour a user
 * relies on; the same faults against a real server on 127.0.0.1 are in `faults.test.ts`.
 */
let ts = newTestScheduler();
beforeEach(() => (ts = newTestScheduler()));
const at = <T>(frame: number, source$: () => Observable<T>) => timer(frame).pipe(mergeMap(source$));
const outcomes = () => {
  const seen: Array<{ at: number; value?: unknown; error?: unknown }> = [];
  return {
    seen,
    observer: {
      next: (value: unknown) => seen.push({ at: ts.now(), value }),
      error: (error: unknown) => seen.push({ at: ts.now(), error }),
    },
  };
};
/** fetch's "no answer", as undici words it. */
const offline = () => new TypeError('fetch failed');

describe('a network outage does not end the session', () => {
  test('refreshes that get no answer outlast the retries: status unavailable, tokens kept (memory and storage), RefreshUnavailableError with the cause', () =>
    ts.run(({ flush }) => {
      const storage = memoryStorage();
      const server = new FakeServer(() => ts.now());
      const auth = createTokenRefresh({ refresh: () => throwError(offline), refreshRetries: 2, refreshBackoffMs: 10, storage });
      const store = createStore(auth);
      auth.setTokens(server.tokens);
      server.validAccess = 'expired-on-server';
      const { seen, observer } = outcomes();
      auth.authorized((token) => server.request(token)).subscribe(observer);
      flush();
      expect(seen).toEqual([{ at: 32, error: expect.any(RefreshUnavailableError) }]);
      expect((seen[0]!.error as RefreshUnavailableError).cause).toEqual(offline());
      expect(store.state).toEqual({
        status: 'unavailable',
        expiresAt: null,
        refreshAt: null,
        lastError: { name: 'RefreshUnavailableError', code: 'REFRESH_UNAVAILABLE', message: expect.any(String) },
        ended: null,
      });
      expect(store.types()).toEqual(['tokensSet', 'refreshRequested', 'refreshUnavailable']);
      expect(auth.getAccessToken()).toBe('access-0');
      expect(storage.get()).toEqual({ accessToken: 'access-0', refreshToken: 'refresh-0', sessionId: expect.any(String), version: 1 });
    }));

  test('requests during the cool-down fail fast without hammering the token endpoint; the first after it retries, and everything works again without a login', () =>
    ts.run(({ flush }) => {
      const server = new FakeServer(() => ts.now());
      let down = true;
      const refresh = (token: string, context: { signal: AbortSignal }) => (down ? throwError(offline) : server.refresh(token, context));
      let calls = 0;
      const auth = createTokenRefresh({ refresh: (t, c) => (calls++, refresh(t, c)), refreshRetries: 0, refreshBackoffMs: 100 });
      const store = createStore(auth);
      auth.setTokens(server.tokens);
      server.validAccess = 'expired-on-server';
      const { seen, observer } = outcomes();
      auth.authorized((token) => server.request(token)).subscribe(observer); // 401 at 2, outage from 2
      for (let frame = 10; frame < 200; frame += 10) at(frame, () => auth.authorized((token) => server.request(token))).subscribe(observer);
      ts.schedule(() => (down = false), 150);
      at(250, () => auth.authorized((token) => server.request(token, 2, 'back'))).subscribe(observer);
      flush();
      // Cool-down 200 ms (2 × refreshBackoffMs): one attempt at 2, the next at 250 only.
      expect(calls).toBe(2);
      expect(seen.filter((s) => s.at < 250).every((s) => s.error instanceof RefreshUnavailableError)).toBe(true);
      expect(seen.filter((s) => s.at < 250)).toHaveLength(20);
      expect(seen.at(-1)).toEqual({ at: 257, value: 'back' });
      expect(store.state.status).toBe('authenticated');
      expect(server.sent.filter((s) => s.at > 2 && s.at < 250)).toEqual([]); // nothing sent with the rejected token
    }));

  test('the browser saying "online" retries at once, without waiting for the cool-down', () =>
    ts.run(({ flush }) => {
      const target = new EventTarget();
      const globals = globalThis as unknown as Record<string, unknown>;
      globals.addEventListener = target.addEventListener.bind(target);
      globals.removeEventListener = target.removeEventListener.bind(target);
      try {
        const server = new FakeServer(() => ts.now());
        let down = true;
        const auth = createTokenRefresh({
          refresh: (t, c) => (down ? throwError(offline) : server.refresh(t, c)),
          refreshRetries: 0,
          refreshBackoffMs: 10_000,
        });
        const store = createStore(auth);
        auth.setTokens(server.tokens);
        server.validAccess = 'expired-on-server';
        auth.authorized((token) => server.request(token)).subscribe({ error: () => {} });
        ts.schedule(() => ((down = false), target.dispatchEvent(new Event('online'))), 50);
        flush();
        expect(store.types()).toEqual(['tokensSet', 'refreshRequested', 'refreshUnavailable', 'refreshRequested', 'refreshSucceeded']);
        expect((store.actions[3]!.payload as { reason: string }).reason).toBe('online');
        expect(auth.getAccessToken()).toBe('access-1');
      } finally {
        delete globals.addEventListener;
        delete globals.removeEventListener;
      }
    }));

  test.each([
    [
      'a captive portal answers HTML (response.json() throws SyntaxError)',
      () => new SyntaxError('Unexpected token \'<\', "<!DOCTYPE "... is not valid JSON'),
    ],
    ['a 503', () => ({ status: 503 })],
    ['a 429', () => ({ status: 429 })],
  ])('%s: transient, the session is kept', (_, failure) =>
    ts.run(({ flush }) => {
      const server = new FakeServer(() => ts.now());
      const auth = createTokenRefresh({ refresh: () => throwError(failure), refreshRetries: 1, refreshBackoffMs: 5 });
      const store = createStore(auth);
      auth.setTokens(server.tokens);
      server.validAccess = 'expired-on-server';
      const { seen, observer } = outcomes();
      auth.authorized((token) => server.request(token)).subscribe(observer);
      flush();
      expect(seen[0]!.error).toBeInstanceOf(RefreshUnavailableError);
      expect(store.state.status).toBe('unavailable');
      expect(auth.getAccessToken()).toBe('access-0');
    }),
  );

  test("fetch's network TypeError from another realm (an iframe, a test runner) is still an outage, not a bug", () =>
    ts.run(({ flush }) => {
      const foreign = vm.runInNewContext("new TypeError('Failed to fetch')") as Error;
      expect(foreign instanceof TypeError).toBe(false);
      const server = new FakeServer(() => ts.now());
      const auth = createTokenRefresh({ refresh: () => throwError(() => foreign), refreshRetries: 0 });
      const store = createStore(auth);
      auth.setTokens(server.tokens);
      server.validAccess = 'expired-on-server';
      auth.authorized((token) => server.request(token)).subscribe({ error: () => {} });
      flush();
      expect(store.state.status).toBe('unavailable');
      expect(auth.getAccessToken()).toBe('access-0');
    }));

  test.each([400, 401, 403])('only the token endpoint saying no (%i) ends the session', (status) =>
    ts.run(({ flush }) => {
      const { server, auth, store } = setup();
      server.validAccess = 'expired-on-server';
      server.refreshPlan = [status];
      const { seen, observer } = outcomes();
      auth.authorized((token) => server.request(token)).subscribe(observer);
      flush();
      expect(seen[0]!.error).toBeInstanceOf(TokenRefreshError);
      expect(store.state.status).toBe('unauthenticated');
      expect(auth.getAccessToken()).toBeUndefined();
    }),
  );

  test('isSessionEnded says which other answers end the session', () =>
    ts.run(({ flush }) => {
      const { server, auth, store } = setup({ isSessionEnded: (e) => (e as { status?: number }).status === 503 });
      server.validAccess = 'expired-on-server';
      server.refreshPlan = [503];
      auth.authorized((token) => server.request(token)).subscribe({ error: () => {} });
      flush();
      expect(store.state.status).toBe('unauthenticated');
      expect(server.refreshCalls).toBe(1);
    }));

  test('a scheduled refresh that fails while offline keeps sending the still-valid token until it expires', () =>
    ts.run(({ flush }) => {
      const server = new FakeServer(() => ts.now());
      server.accessTtl = 100;
      const auth = createTokenRefresh({ refresh: () => throwError(offline), refreshRetries: 0, expirySkewMs: 30 });
      const store = createStore(auth);
      auth.setTokens(server.login()); // expires at 100, refresh due at 70
      at(80, () => auth.authorized((token) => server.request(token, 2, 'v'))).subscribe(); // starts the due refresh, which fails
      const { seen, observer } = outcomes();
      at(85, () => auth.authorized((token) => server.request(token, 2, 'v'))).subscribe(observer);
      flush();
      expect(seen).toEqual([{ at: 87, value: 'v' }]);
      expect(store.types().filter((t) => t === 'refreshRequested')).toHaveLength(1);
    }));
});

describe('a request never runs in a session it did not start in', () => {
  const users = (now: () => number) => {
    const server = new FakeServer(now);
    const ada = { accessToken: fakeJwt({ sub: 'ada', n: 1 }), refreshToken: 'r-ada' };
    const bob = { accessToken: fakeJwt({ sub: 'bob' }), refreshToken: 'r-bob' };
    return { server, ada, bob };
  };

  test("user A's slow request whose 401 arrives after A logged out and B logged in fails with LoggedOutError; B's token is never sent for it", () =>
    ts.run(({ flush }) => {
      const { server, ada, bob } = users(() => ts.now());
      const auth = createTokenRefresh({ refresh: server.refresh });
      createStore(auth);
      auth.setTokens(ada);
      server.validAccess = 'nobody'; // A's token is refused when the slow POST is answered
      const { seen, observer } = outcomes();
      auth.authorized((token) => server.request(token, 20, 'note saved')).subscribe(observer);
      ts.schedule(() => auth.clearTokens(), 5);
      ts.schedule(() => auth.setTokens(bob), 10);
      flush();
      expect(seen).toEqual([{ at: 20, error: expect.any(LoggedOutError) }]);
      expect(server.sent.map((s) => s.token)).toEqual([ada.accessToken]);
      expect(server.refreshCalls).toBe(0);
    }));

  test('a waiting request fails when another user logs in during the refresh it waits for', () =>
    ts.run(({ flush }) => {
      const { server, ada, bob } = users(() => ts.now());
      server.validRefresh = 'r-ada';
      server.refreshLatency = 50;
      const auth = createTokenRefresh({ refresh: server.refresh });
      createStore(auth);
      auth.setTokens(ada);
      server.validAccess = 'nobody';
      const { seen, observer } = outcomes();
      auth.authorized((token) => server.request(token)).subscribe(observer); // 401 at 2, waits
      ts.schedule(() => auth.setTokens(bob), 10);
      flush();
      expect(seen).toEqual([{ at: 10, error: expect.any(LoggedOutError) }]);
      expect(server.sent.map((s) => s.token)).toEqual([ada.accessToken]);
    }));

  test('a re-login of the same user (same JWT sub) lets the waiting requests go on with the new token', () =>
    ts.run(({ flush }) => {
      const { server, ada } = users(() => ts.now());
      server.refreshLatency = 50;
      const auth = createTokenRefresh({ refresh: server.refresh });
      createStore(auth);
      auth.setTokens(ada);
      server.validAccess = 'nobody';
      const again = { accessToken: fakeJwt({ sub: 'ada', n: 2 }), refreshToken: 'r-ada-2' };
      const { seen, observer } = outcomes();
      auth.authorized((token) => server.request(token, 2, 'v')).subscribe(observer);
      ts.schedule(() => ((server.validAccess = again.accessToken), auth.setTokens(again)), 10);
      flush();
      expect(seen).toEqual([{ at: 12, value: 'v' }]);
    }));

  test.each([false, true])(
    'opaque tokens: a re-login is another session unless the app says { sameUser: true } (sameUser: %p)',
    (sameUser) =>
      ts.run(({ flush }) => {
        const server = new FakeServer(() => ts.now());
        server.refreshLatency = 50;
        const auth = createTokenRefresh({ refresh: server.refresh });
        createStore(auth);
        auth.setTokens(server.tokens);
        server.validAccess = 'nobody';
        const { seen, observer } = outcomes();
        auth.authorized((token) => server.request(token, 2, 'v')).subscribe(observer);
        at(
          10,
          () => ((server.validAccess = 'relogin'), auth.setTokens({ accessToken: 'relogin', refreshToken: 'r' }, { sameUser }), of(0)),
        ).subscribe();
        flush();
        expect(seen).toEqual([sameUser ? { at: 12, value: 'v' } : { at: 10, error: expect.any(LoggedOutError) }]);
      }),
  );

  test('a refresh of the same login is the same session: requests in flight are replayed', () =>
    ts.run(({ expectObservable }) => {
      const { server, auth } = setup();
      server.validAccess = 'expired-on-server';
      expectObservable(auth.authorized((token) => server.request(token, 2, 'v'))).toBe('---------(v|)', { v: 'v' });
    }));
});

/** A storage double whose operations fail on demand, the way a full or broken storage does. */
function faultyStorage(initial: Tokens | null = null) {
  const inner = memoryStorage(initial);
  const fail = { get: false, set: false, clear: false };
  const quota = () => Object.assign(new Error('The quota has been exceeded.'), { name: 'QuotaExceededError' });
  const storage: TokenStorage = {
    get: () =>
      fail.get
        ? (() => {
            throw quota();
          })()
        : inner.get(),
    set: (tokens) =>
      fail.set
        ? (() => {
            throw quota();
          })()
        : inner.set(tokens),
    clear: () =>
      fail.clear
        ? (() => {
            throw quota();
          })()
        : inner.clear(),
  };
  return { storage, fail, inner };
}

describe('storage faults never hang anything', () => {
  const quiet = jest.spyOn(console, 'warn');
  beforeEach(() => quiet.mockImplementation(() => {}));
  afterAll(() => quiet.mockRestore());

  test('storage.set throwing (QuotaExceededError) when a refresh succeeds: the session goes on in memory, storageFailed is reported, nothing hangs', () =>
    ts.run(({ expectObservable, flush }) => {
      const { storage, fail } = faultyStorage();
      const { server, auth, store } = setup({ storage });
      fail.set = true;
      server.validAccess = 'expired-on-server';
      expectObservable(auth.authorized((token) => server.request(token, 2, 'v'))).toBe('---------(v|)', { v: 'v' });
      flush();
      expect(store.state.status).toBe('authenticated');
      expect(store.actions).toContainEqual(
        auth.actions.storageFailed({ operation: 'set', error: expect.objectContaining({ name: 'QuotaExceededError' }) }),
      );
      expect(quiet).toHaveBeenCalledWith(expect.stringContaining('storage.set() failed (QuotaExceededError)'));
    }));

  test('storage.get throwing during a refresh: later requests do not hang', () =>
    ts.run(({ flush }) => {
      const { storage, fail } = faultyStorage();
      const { server, auth } = setup({ storage });
      fail.get = true;
      server.validAccess = 'expired-on-server';
      const { seen, observer } = outcomes();
      auth.authorized((token) => server.request(token, 2, 'a')).subscribe(observer);
      at(20, () => auth.authorized((token) => server.request(token, 2, 'b'))).subscribe(observer);
      flush();
      expect(seen).toEqual([
        { at: 9, value: 'a' },
        { at: 22, value: 'b' },
      ]);
    }));

  test('storage.get throwing at creation: the app starts logged out instead of crashing', () => {
    const { storage, fail } = faultyStorage({ accessToken: 'a', refreshToken: 'r' });
    fail.get = true;
    const auth = createTokenRefresh({ refresh: () => of({ accessToken: 'x' }), storage });
    expect(auth.getStatus()).toBe('unauthenticated');
    expect(auth.reducer(undefined, { type: '@@INIT' }).status).toBe('unauthenticated');
  });

  test('storage.clear throwing at logout: the logout sticks, the refresh in flight is cancelled and cannot bring the session back', () =>
    ts.run(({ flush }) => {
      const { storage, fail } = faultyStorage();
      const { server, auth, store } = setup({ storage });
      server.refreshLatency = 20;
      server.validAccess = 'expired-on-server';
      fail.clear = true;
      const { seen, observer } = outcomes();
      auth.authorized((token) => server.request(token)).subscribe(observer);
      ts.schedule(() => auth.clearTokens(), 5);
      flush();
      expect(seen).toEqual([{ at: 5, error: expect.any(LoggedOutError) }]);
      expect(auth.getAccessToken()).toBeUndefined();
      expect(store.state.status).toBe('unauthenticated');
      expect(server.refreshesAborted).toEqual(['refresh-0']);
    }));

  test('a login whose storage write fails: store and coordinator agree that the user is signed in', () =>
    ts.run(() => {
      const { storage, fail } = faultyStorage();
      const auth = createTokenRefresh({ refresh: () => of({ accessToken: 'x' }), storage });
      const store = createStore(auth);
      fail.set = true;
      auth.setTokens({ accessToken: 'a', refreshToken: 'r' });
      expect(auth.getAccessToken()).toBe('a');
      expect(store.state.status).toBe('authenticated');
      expect(store.types()).toEqual(['storageFailed', 'tokensSet']);
    }));

  test.each([
    ['clear still works', false],
    ['clear fails too', true],
  ])("a login whose storage write fails never brings the previous user's stored tokens back (%s)", (_, clearFails) =>
    ts.run(({ flush }) => {
      const { storage, fail } = faultyStorage();
      const server = new FakeServer(() => ts.now());
      const auth = createTokenRefresh({ refresh: server.refresh, storage: syncTabs({ ...storage, lock: (task) => task() }) });
      const store = createStore(auth);
      auth.setTokens({ accessToken: fakeJwt({ sub: 'ada' }), refreshToken: 'r-ada' });
      fail.set = true;
      fail.clear = clearFails;
      const bob = server.login();
      auth.setTokens(bob);
      server.validAccess = 'expired-on-server'; // bob's 401 makes this tab refresh under its lock
      const sent: string[] = [];
      auth.authorized((token) => (sent.push(token), server.request(token))).subscribe({ error: () => {} });
      flush();
      expect(sent).toEqual([bob.accessToken, 'access-1']);
      expect(server.spent).toEqual([bob.refreshToken]);
      expect(store.state.status).toBe('authenticated');
    }),
  );

  test('an async storage whose write rejects is reported the same way, and nothing is unhandled', async () => {
    const auth = createTokenRefresh({
      refresh: () => of({ accessToken: 'x' }),
      storage: { get: async () => null, set: () => Promise.reject(new Error('disk full')), clear: async () => {} },
    });
    const store = createStore(auth);
    await auth.restore();
    auth.setTokens({ accessToken: 'a', refreshToken: 'r' });
    await new Promise((resolve) => setImmediate(resolve));
    expect(store.types()).toEqual(['loggedOut', 'tokensSet', 'storageFailed']);
    expect(auth.getStatus()).toBe('authenticated');
  });
});

describe('tokens of any shape never loop', () => {
  test('expiresAt as an ISO string (what response.json() gives) or a Date is converted to epoch ms', () => {
    const auth = createTokenRefresh({
      refresh: () => of({ accessToken: 'x' }),
      scheduler: { now: () => Date.parse('2026-01-01T00:00:00Z') } as never,
    });
    auth.setTokens({ accessToken: 'a', expiresAt: '2026-01-01T01:00:00.000Z' });
    expect(auth.reducer(undefined, { type: '@@INIT' }).expiresAt).toBe(Date.parse('2026-01-01T01:00:00Z'));
    auth.setTokens({ accessToken: 'b', expiresAt: new Date('2026-01-01T02:00:00Z') });
    expect(auth.reducer(undefined, { type: '@@INIT' }).expiresAt).toBe(Date.parse('2026-01-01T02:00:00Z'));
  });

  test.each([
    ['NaN', NaN],
    ['a date that does not parse', '2026-13-45T99:00:00Z'],
    ['a number in a string', '1767225600000'],
    ['markup', '<img src=x onerror=alert(1)>'],
  ])('expiresAt %s from refresh(): one refresh call, a TokenRefreshError naming expiresAt, no loop', (_, expiresAt) =>
    ts.run(({ flush }) => {
      ts.maxFrames = 10_000;
      const server = new FakeServer(() => ts.now());
      let calls = 0;
      const auth = createTokenRefresh({ refresh: () => (calls++, of({ accessToken: `t${calls}`, expiresAt } as unknown as Tokens)) });
      const store = createStore(auth);
      auth.setTokens(server.tokens);
      server.validAccess = 'expired-on-server';
      const { seen, observer } = outcomes();
      auth.authorized((token) => server.request(token)).subscribe(observer);
      flush();
      expect(calls).toBe(1);
      expect(seen).toEqual([{ at: 2, error: expect.any(TokenRefreshError) }]);
      expect((seen[0]!.error as Error).message).toMatch(/expiresAt/);
      expect(JSON.stringify(store.actions)).not.toContain('<img');
    }),
  );

  test('setTokens with a bad expiresAt throws a TypeError naming the field, and changes nothing', () => {
    const auth = createTokenRefresh({ refresh: () => of({ accessToken: 'x' }) });
    expect(() => auth.setTokens({ accessToken: 'a', expiresAt: 'tomorrow' })).toThrow(/expiresAt is string/);
    expect(auth.getStatus()).toBe('unauthenticated');
  });

  test('a refresh that answers a token already expired is sent, not refreshed again at once (never a second proactive refresh of our own)', () =>
    ts.run(({ flush }) => {
      ts.maxFrames = 10_000;
      let calls = 0;
      const auth = createTokenRefresh({
        refresh: () => (calls++, of({ accessToken: `t${calls}`, refreshToken: 'r', expiresAt: 1 })),
        maxRetries: 1,
      });
      createStore(auth);
      // Due at 20 (half its lifetime); the refresh answers a token that expired at 1.
      at(10, () => (auth.setTokens({ accessToken: 'a', refreshToken: 'r', expiresAt: 30 }), of(0))).subscribe();
      const sent: string[] = [];
      for (const frame of [20, 25, 40]) at(frame, () => auth.authorized((token) => of(token))).subscribe((token) => sent.push(token));
      flush();
      expect(calls).toBe(1);
      expect(sent).toEqual(['t1', 't1', 't1']);
    }));

  test('refresh returning undefined is a bug: not retried as a network error, TokenRefreshError saying so', () =>
    ts.run(({ flush }) => {
      let calls = 0;
      const server = new FakeServer(() => ts.now());
      const auth = createTokenRefresh({ refresh: (() => void calls++) as never, refreshRetries: 3 });
      createStore(auth);
      auth.setTokens(server.tokens);
      server.validAccess = 'expired-on-server';
      const { seen, observer } = outcomes();
      auth.authorized((token) => server.request(token)).subscribe(observer);
      flush();
      expect(calls).toBe(1);
      expect((seen[0]!.error as Error).message).toMatch(/refresh\(\) gave no tokens/);
    }));

  test('refresh throwing a TypeError (a bug in user code) is not retried as if it were a network error', () =>
    ts.run(({ flush }) => {
      let calls = 0;
      const server = new FakeServer(() => ts.now());
      const auth = createTokenRefresh({
        refresh: () => defer((): ObservableInput<Tokens> => (calls++, (undefined as unknown as { data: ObservableInput<Tokens> }).data)),
        refreshRetries: 3,
      });
      createStore(auth);
      auth.setTokens(server.tokens);
      server.validAccess = 'expired-on-server';
      const { seen, observer } = outcomes();
      auth.authorized((token) => server.request(token)).subscribe(observer);
      flush();
      expect(calls).toBe(1);
      expect(seen[0]!.error).toBeInstanceOf(TokenRefreshError);
      expect((seen[0]!.error as Error).message).toMatch(/bug in your refresh function/);
    }));

  test.each([
    ['maxRetries', '1'],
    ['refreshTimeoutMs', '10000'],
    ['refreshRetries', 1.5],
    ['expirySkewMs', -1],
  ])('option %s: %p is refused in production builds too', (option, value) => {
    const before = process.env.NODE_ENV;
    process.env.NODE_ENV = 'production';
    try {
      expect(() => createTokenRefresh({ refresh: () => of({ accessToken: 'x' }), [option]: value })).toThrow(
        new RegExp(`option "${option}"`),
      );
    } finally {
      process.env.NODE_ENV = before;
    }
  });
});

describe('lifecycle', () => {
  test('auth.setTokens() between configureStore and epicMiddleware.run reaches the store', () => {
    const auth = createTokenRefresh({ refresh: () => of({ accessToken: 'x' }) });
    const store = createStore(auth, { run: false }); // configureStore
    auth.setTokens({ accessToken: 'a', refreshToken: 'r' });
    store.run(); // epicMiddleware.run
    expect(store.types()).toEqual(['tokensSet']);
    expect(store.state.status).toBe('authenticated');
  });

  test('a request that emitted values and then gets a 401 is replayed from the start, as retry would', () =>
    ts.run(({ expectObservable }) => {
      const { server, auth } = setup();
      const stream = (token: string) => (token === 'access-0' ? cold('a-#', { a: 1 }, unauthorized()) : cold('ab|', { a: 1, b: 2 }));
      const cold = ts.createColdObservable.bind(ts);
      // 1 at 0, the 401 at 2, the refresh until 7, then the replay from the start: 1, 2, done.
      expectObservable(auth.authorized(stream)).toBe('a------ab|', { a: 1, b: 2 });
      void server;
    }));

  test('{ replayAfterValues: false } fails a stream that has emitted instead of delivering its values twice', () =>
    ts.run(({ expectObservable, flush }) => {
      const { server, auth } = setup();
      const cold = ts.createColdObservable.bind(ts);
      expectObservable(auth.authorized(() => cold('a-#', { a: 1 }, unauthorized()), { replayAfterValues: false })).toBe(
        'a-#',
        { a: 1 },
        unauthorized(),
      );
      flush();
      expect(server.refreshCalls).toBe(0);
    }));
});

describe('actions mean what they say', () => {
  test('a refreshRequested dispatched by hand starts a refresh, exactly as auth.refresh() does', () =>
    ts.run(({ flush }) => {
      const { server, auth, store } = setup();
      ts.schedule(() => store.dispatch(auth.actions.refreshRequested({ reason: 'manual' })), 5);
      flush();
      expect(server.refreshCalls).toBe(1);
      expect(store.types()).toEqual(['tokensSet', 'refreshRequested', 'refreshRequested', 'refreshSucceeded']);
      expect(store.state.status).toBe('authenticated');
      expect(auth.getAccessToken()).toBe('access-1');
    }));

  test('refreshSucceeded or tokensSet dispatched while logged out leave the store unauthenticated', () => {
    const auth = createTokenRefresh({ refresh: () => of({ accessToken: 'x' }) });
    const store = createStore(auth);
    store.dispatch(auth.actions.refreshSucceeded({ expiresAt: 123, refreshAt: null }));
    expect(store.state).toEqual({ status: 'unauthenticated', expiresAt: null, refreshAt: null, lastError: null, ended: null });
    store.dispatch(auth.actions.tokensSet({ expiresAt: 123, refreshAt: null }));
    expect(store.state.status).toBe('unauthenticated');
  });

  test('refreshFailed or refreshUnavailable dispatched by hand change nothing: the session goes on and requests succeed', () =>
    ts.run(({ expectObservable }) => {
      const { server, auth, store } = setup();
      const error = { name: 'TokenRefreshError', message: 'forged' };
      store.dispatch(auth.actions.refreshFailed({ error }));
      store.dispatch(auth.actions.refreshUnavailable({ error }));
      expect(store.state).toEqual({ status: 'authenticated', expiresAt: null, refreshAt: null, lastError: null, ended: null });
      expectObservable(auth.authorized((token) => server.request(token, 1, 'v'))).toBe('-(v|)', { v: 'v' });
    }));

  test('a refreshRequested dispatched by hand while nobody is logged in does nothing and leaves the store unauthenticated', () => {
    const auth = createTokenRefresh({ refresh: () => of({ accessToken: 'x' }) });
    const store = createStore(auth);
    store.dispatch(auth.actions.refreshRequested({ reason: 'manual' }));
    expect(store.state.status).toBe('unauthenticated');
    expect(store.types()).toEqual(['refreshRequested']);
  });

  test('a loggedOut dispatched by hand logs out, and the store says so in the same dispatch', () => {
    const auth = createTokenRefresh({ refresh: () => of({ accessToken: 'x' }) });
    const store = createStore(auth);
    auth.setTokens({ accessToken: 'a', refreshToken: 'r' });
    store.dispatch(auth.actions.loggedOut());
    expect(store.state.status).toBe('unauthenticated');
    expect(auth.getAccessToken()).toBeUndefined();
    let error: unknown;
    auth.authorized((t) => of(t)).subscribe({ error: (e: unknown) => (error = e) });
    expect(error).toBeInstanceOf(NotAuthenticatedError);
  });
});

describe('tokens adopted from another tab', () => {
  test('follow the half-lifetime rule of fresh tokens: 20 s tokens and a 30 s skew, 10 requests alternating between two tabs, one refresh', () =>
    ts.run(({ flush }) => {
      expectWarning(/no Web Locks/); // locks: null
      const browser = new Browser();
      const server = new FakeServer(() => ts.now());
      server.accessTtl = 20_000;
      server.refreshLatency = 5;
      const tabs = [browser.openTab(), browser.openTab()].map((tab) => {
        const auth = createTokenRefresh({
          refresh: server.refresh,
          storage: localStorageStorage('app/tokens', { storage: tab.localStorage, locks: null, events: tab.events }),
        });
        createStore(auth);
        return auth;
      });
      tabs[0]!.setTokens(server.login()); // the other tab adopts it
      for (let i = 0; i < 10; i++) {
        at(11_000 + i * 1_000, () => tabs[i % 2]!.authorized((token) => server.request(token))).subscribe({ error: () => {} });
      }
      flush();
      // The first request at 11 s (past half of 20 s) refreshes; the other tab adopts the new tokens
      // and, like the tab that got them, does not refresh them again before half their lifetime.
      expect(server.refreshCalls).toBe(1);
      expect(server.sent.every((s) => s.at < (server.expiries.get(s.token) ?? Infinity))).toBe(true);
    }));
});
