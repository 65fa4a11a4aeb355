import { Observable, Subject, map, timer } from 'rxjs';
import type { UnknownAction } from 'redux';
import {
  EpicNotRunningError,
  LoggedOutError,
  NotAuthenticatedError,
  RefreshTimeoutError,
  RetryLimitError,
  TokenRefreshError,
  createTokenRefresh,
  isAuthRefreshError,
  memoryStorage,
} from '../src';
import { FakeServer, newTestScheduler, createStore, setup } from './support/harness';

let ts: ReturnType<typeof newTestScheduler>;
beforeEach(() => {
  ts = newTestScheduler();
});

describe('no raw token reaches Redux', () => {
  test('no action and no state along login, refresh, failure and logout contains a token', () =>
    ts.run(({ flush }) => {
      const { server, auth, store } = setup();
      server.validAccess = 'expired-on-server';
      auth.authorized((token) => server.request(token)).subscribe();
      ts.schedule(() => {
        server.validAccess = 'expired-again';
        server.refreshPlan = [400];
        auth.authorized((token) => server.request(token)).subscribe({ error: () => {} });
      }, 20);
      ts.schedule(() => {
        auth.setTokens({ accessToken: 'access-relogin', refreshToken: 'refresh-relogin' });
        auth.clearTokens();
      }, 40);
      const states: unknown[] = [];
      ts.schedule(() => states.push(store.state), 10);
      flush();
      states.push(store.state);
      expect(store.types()).toEqual([
        'tokensSet',
        'refreshRequested',
        'refreshSucceeded',
        'refreshRequested',
        'refreshFailed',
        'loggedOut',
        'tokensSet',
        'loggedOut',
      ]);
      const everything = JSON.stringify([store.actions, states]);
      expect(everything).not.toMatch(/access-|refresh-\d|refresh-relogin/);
    }));
});

describe('cost stays linear', () => {
  // `npm run mutation` runs this for every mutant: 1,000 calls show the same there, in a tenth of the time.
  const CALLS = process.env.MUTATION_TESTING ? 1_000 : 10_000;
  test('10,000 waiting calls share one subscription to action$ and all settle after one refresh', () =>
    ts.run(({ flush }) => {
      const server = new FakeServer(() => ts.now());
      const auth = createTokenRefresh({ refresh: server.refresh });
      const actionSubject = new Subject<UnknownAction>();
      let subscriptionsToActions = 0;
      const action$ = new Observable<UnknownAction>((subscriber) => {
        subscriptionsToActions++;
        return actionSubject.subscribe(subscriber);
      });
      auth.epic(action$, undefined, undefined).subscribe((action) => actionSubject.next(action));
      auth.setTokens(server.tokens);
      server.validAccess = 'expired-on-server';
      let ok = 0;
      for (let i = 0; i < CALLS; i++) auth.authorized((token) => server.request(token)).subscribe(() => ok++);
      ts.schedule(() => {
        for (let i = 0; i < 100; i++) actionSubject.next({ type: 'unrelated' });
        expect(subscriptionsToActions).toBe(1);
        expect(actionSubject.observed).toBe(true);
      }, 4);
      flush();
      expect(ok).toBe(CALLS);
      expect(server.refreshCalls).toBe(1);
      expect(subscriptionsToActions).toBe(1);
    }));
});

describe('bad options', () => {
  const refresh = () => Promise.resolve({ accessToken: 'a' });
  test.each([
    ['refresh', {}],
    ['refresh', { refresh: 'https://example.test/refresh' }],
    ['maxRetries', { refresh, maxRetries: -1 }],
    ['maxRetries', { refresh, maxRetries: 1.5 }],
    ['refreshRetries', { refresh, refreshRetries: -2 }],
    ['refreshTimeoutMs', { refresh, refreshTimeoutMs: 0 }],
    ['refreshTimeoutMs', { refresh, refreshTimeoutMs: Number.NaN }],
    ['refreshBackoffMs', { refresh, refreshBackoffMs: -1 }],
    ['expirySkewMs', { refresh, expirySkewMs: Infinity }],
    ['storage', { refresh, storage: { get: () => null } }],
    ['isAuthError', { refresh, isAuthError: 401 }],
    ['name', { refresh, name: '' }],
  ])('a bad %s throws a TypeError at creation that names it', (option, options) => {
    expect(() => createTokenRefresh(options as never)).toThrow(TypeError);
    expect(() => createTokenRefresh(options as never)).toThrow(`option "${option}"`);
  });

  test('no options at all says how to call it', () => {
    expect(() => (createTokenRefresh as (o?: unknown) => unknown)()).toThrow(/createTokenRefresh\(\{ refresh \}\)/);
  });

  test('setTokens without an accessToken throws a TypeError that says what is missing', () => {
    const auth = createTokenRefresh({ refresh });
    expect(() => auth.setTokens({ refreshToken: 'r' } as never)).toThrow(/accessToken is missing/);
  });

  test('a refresh answering without an accessToken fails the session with a TokenRefreshError that says so', () =>
    ts.run(({ flush }) => {
      const server = new FakeServer(() => ts.now());
      const auth = createTokenRefresh({ refresh: () => timer(1).pipe(map(() => ({ token: 'x' }) as never)) });
      createStore(auth);
      auth.setTokens(server.tokens);
      server.validAccess = 'expired-on-server';
      const errors: unknown[] = [];
      auth.authorized((token) => server.request(token)).subscribe({ error: (e) => errors.push(e) });
      flush();
      expect(errors).toEqual([expect.any(TokenRefreshError)]);
      expect((errors[0] as Error).message).toMatch(/accessToken is missing/);
      expect(auth.getAccessToken()).toBeUndefined();
    }));
});

describe('errors', () => {
  test.each([
    [new TokenRefreshError('x'), 'TokenRefreshError', 'REFRESH_FAILED'],
    [new RefreshTimeoutError(5), 'RefreshTimeoutError', 'REFRESH_TIMEOUT'],
    [new RetryLimitError(1, { status: 401 }), 'RetryLimitError', 'RETRY_LIMIT'],
    [new LoggedOutError(), 'LoggedOutError', 'LOGGED_OUT'],
    [new NotAuthenticatedError(), 'NotAuthenticatedError', 'NOT_AUTHENTICATED'],
    [new EpicNotRunningError(), 'EpicNotRunningError', 'EPIC_NOT_RUNNING'],
  ])('%s has a stable name and code and is an Error', (error, name, code) => {
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe(name);
    expect(error.code).toBe(code);
    expect(isAuthRefreshError(error)).toBe(true);
  });

  test('a timeout is a refresh failure: instanceof TokenRefreshError', () => {
    expect(new RefreshTimeoutError(5)).toBeInstanceOf(TokenRefreshError);
  });

  test('isAuthRefreshError recognises an error from another realm by name, and rejects others', () => {
    const foreign = Object.assign(new Error('x'), { name: 'LoggedOutError' });
    expect(isAuthRefreshError(foreign)).toBe(true);
    expect(isAuthRefreshError(new Error('x'))).toBe(false);
    expect(isAuthRefreshError(undefined)).toBe(false);
  });

  test('RetryLimitError keeps the last auth error as its cause', () => {
    const cause = { status: 401 };
    expect(new RetryLimitError(2, cause).cause).toBe(cause);
  });
});

describe('storage', () => {
  test('a session stored before the app started is used without logging in again', () => {
    const storage = memoryStorage({ accessToken: 'stored-access', refreshToken: 'stored-refresh' });
    const auth = createTokenRefresh({ refresh: () => Promise.reject(new Error('not called')), storage });
    expect(auth.getAccessToken()).toBe('stored-access');
    expect(auth.reducer(undefined, { type: '@@INIT' }).status).toBe('authenticated');
  });

  test('unreadable stored tokens start the app logged out instead of crashing it', () => {
    const storage = memoryStorage({ refreshToken: 'r' } as never);
    const auth = createTokenRefresh({ refresh: () => Promise.reject(new Error('not called')), storage });
    expect(auth.getAccessToken()).toBeUndefined();
    expect(auth.reducer(undefined, { type: '@@INIT' }).status).toBe('unauthenticated');
  });
});
