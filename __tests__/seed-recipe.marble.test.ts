/**
 * The seed article's epic (freeCodeCamp, "How to get a new access token using Redux observables and
 * the refresh token API"), written with `auth.actions`: the recipe of docs/epics.md "The seed article's
 * shape" shows this file. Its shape: `catchError` on a 401 dispatches a refresh action; the call is
 * merged back (the caught `source` subscribed again) after `take(1)` of the success action,
 * `takeUntil` the failure action, with a retry counter. Here the refresh action is
 * `auth.actions.refreshRequested`, which starts a refresh exactly as `auth.refresh()` does (or joins
 * the one running), and the success and failure actions are `auth.actions.refreshSucceeded` and
 * `refreshFailed`, which `auth.epic` dispatches.
 *
 * The epic runs in a real store (its actions must reach `auth.epic`, and `auth.epic`'s reach it),
 * in virtual time: the API and the refresh are cold observables, the app's actions marbles.
 */
import { createAction } from '@reduxjs/toolkit';
import type { UnknownAction } from 'redux';
import type { Epic } from 'redux-observable';
import { Subject, catchError, defer, filter, map, merge, mergeMap, of, take, takeUntil, type Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createTokenRefresh, isUnauthorized, type RefreshFn, type TokenRefresh } from '../src';
import { createStore } from './support/harness';

// The app's code: the recipe of docs/epics.md.
const fetchUser = createAction<string>('user/fetch');
const fetchUserSucceeded = createAction<{ name: string }>('user/fetchSucceeded');
const fetchUserFailed = createAction<string>('user/fetchFailed');

interface Dependencies {
  auth: TokenRefresh;
  getJSON: (url: string, headers: Record<string, string>) => Observable<{ name: string }>;
}

/** The seed's retry counter: how often one call may be refreshed and replayed. */
const MAX_REFRESHES = 1;

const fetchUserEpic: Epic<UnknownAction, UnknownAction, unknown, Dependencies> = (action$, _state$, { auth, getJSON }) =>
  action$.pipe(
    filter(fetchUser.match),
    mergeMap(({ payload }) => {
      let refreshes = 0;
      // defer(): each (re)subscription reads the token again, so the replay carries the new one.
      return defer(() => getJSON(`/api/users/${payload}`, { Authorization: `Bearer ${auth.getAccessToken()}` })).pipe(
        map(fetchUserSucceeded),
        catchError((error: { status?: number }, source) => {
          if (!isUnauthorized(error) || refreshes++ === MAX_REFRESHES) return of(fetchUserFailed(String(error.status)));
          return merge(
            // Merged back after take(1) of the success action, until the failure action.
            action$.pipe(
              filter(auth.actions.refreshSucceeded.match),
              take(1),
              mergeMap(() => source),
              takeUntil(action$.pipe(filter(auth.actions.refreshFailed.match))),
            ),
            // The refresh action: the package performs one refresh however many calls ask.
            of(auth.actions.refreshRequested({ reason: 'unauthorized' })),
          );
        }),
      );
    }),
  );

// The test.
const isUserResult = (action: UnknownAction) => fetchUserSucceeded.match(action) || fetchUserFailed.match(action);

describe("the seed article's shape, written with auth.actions", () => {
  let testScheduler: TestScheduler;
  beforeEach(() => {
    testScheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
  });

  /** A store running `auth.epic` and the recipe's epic; every dispatched action goes to `dispatched$`. */
  function app(refresh: RefreshFn, getJSON: Dependencies['getJSON']) {
    const auth = createTokenRefresh({ refresh });
    const dispatched$ = new Subject<UnknownAction>();
    const dependencies: Dependencies = { auth, getJSON };
    const store = createStore(auth, {
      epics: [fetchUserEpic as Epic<UnknownAction, UnknownAction>],
      dependencies,
      onAction: (action) => dispatched$.next(action),
    });
    auth.setTokens({ accessToken: 'old', refreshToken: 'r0' });
    return { auth, store, dispatched$ };
  }

  test('two calls get 401 at once: the refresh action is dispatched twice, one refresh runs, both calls are merged back with the new token', () =>
    testScheduler.run(({ hot, cold, expectObservable, flush }) => {
      let refreshes = 0;
      const { auth, store, dispatched$ } = app(
        (refreshToken) => (refreshes++, cold('--t|', { t: { accessToken: `new-for-${refreshToken}`, refreshToken: 'r1' } })),
        (_url, headers) =>
          headers.Authorization === 'Bearer new-for-r0'
            ? cold('-u|', { u: { name: 'Ada' } })
            : cold<{ name: string }>('-#', undefined, { status: 401 }),
      );
      // a at 1 and b at 2 get 401 at 2 and 3; the refresh runs from 2 to 4; both replays answer at 5.
      hot('-ab', { a: fetchUser('1'), b: fetchUser('2') }).subscribe((action) => store.dispatch(action));
      expectObservable(dispatched$.pipe(filter(isUserResult))).toBe('-----(xy)', {
        x: fetchUserSucceeded({ name: 'Ada' }),
        y: fetchUserSucceeded({ name: 'Ada' }),
      });
      expectObservable(dispatched$.pipe(filter(auth.actions.refreshSucceeded.match))).toBe('----s', {
        s: auth.actions.refreshSucceeded({ expiresAt: null, refreshAt: null }),
      });
      flush();
      expect(refreshes).toBe(1);
      expect(auth.getAccessToken()).toBe('new-for-r0');
      expect(auth.selectState(store.getState() as never).status).toBe('authenticated');
    }));

  test('the refresh fails: refreshFailed ends both waiting calls through takeUntil, without a value, and the session ends', () =>
    testScheduler.run(({ hot, cold, expectObservable, flush }) => {
      let refreshes = 0;
      const { auth, store, dispatched$ } = app(
        () => (refreshes++, cold('--#', undefined, { status: 401 })),
        () => cold<{ name: string }>('-#', undefined, { status: 401 }),
      );
      hot('-ab', { a: fetchUser('1'), b: fetchUser('2') }).subscribe((action) => store.dispatch(action));
      // The seed's takeUntil completes the calls: no success, no failure action. An app that wants a
      // failure action per call uses auth.authorized instead (every waiter gets TokenRefreshError).
      expectObservable(dispatched$.pipe(filter(isUserResult))).toBe('');
      expectObservable(
        dispatched$.pipe(
          filter(auth.actions.refreshFailed.match),
          map((action) => action.payload.error.code),
        ),
      ).toBe('----f', {
        f: 'REFRESH_FAILED',
      });
      flush();
      expect(refreshes).toBe(1);
      expect(auth.getAccessToken()).toBeUndefined();
      expect(auth.selectState(store.getState() as never).status).toBe('unauthenticated');
    }));

  test('the retry counter: a call still refused after MAX_REFRESHES refresh fails instead of refreshing again', () =>
    testScheduler.run(({ hot, cold, expectObservable, flush }) => {
      let refreshes = 0;
      const { store, dispatched$ } = app(
        (refreshToken) => (refreshes++, cold('--t|', { t: { accessToken: `new-for-${refreshToken}`, refreshToken: 'r1' } })),
        () => cold<{ name: string }>('-#', undefined, { status: 401 }),
      );
      hot('-a', { a: fetchUser('1') }).subscribe((action) => store.dispatch(action));
      // 401 at 2, refresh 2 to 4, replay refused at 5: the counter is spent, the call fails.
      expectObservable(dispatched$.pipe(filter(isUserResult))).toBe('-----f', { f: fetchUserFailed('401') });
      flush();
      expect(refreshes).toBe(1);
    }));
});

test("docs/epics.md's recipe is this file's epic, as written", () => {
  const readme = readFileSync(join(__dirname, '..', 'docs', 'epics.md'), 'utf8');
  const recipe = readme.split("If you want exactly the article's epic")[1]?.match(/```ts\n([\s\S]*?)```/)?.[1];
  expect(recipe).toBeDefined();
  expect(readFileSync(__filename, 'utf8')).toContain(recipe!.trim());
});
