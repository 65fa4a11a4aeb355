/**
 * How an app marble-tests its own epic that uses `auth.authorized`: docs/epics.md shows this file.
 * Run the app's epic together with `auth.epic` (it performs the refresh), feed a hot `action$`,
 * and let the API and the refresh be cold observables.
 */
import { createAction } from '@reduxjs/toolkit';
import type { UnknownAction } from 'redux';
import { combineEpics, StateObservable, type Epic } from 'redux-observable';
import { Subject, catchError, filter, map, mergeMap, of, type Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { createTokenRefresh, type TokenRefresh } from '../src';

// The app's code.
const fetchUser = createAction<string>('user/fetch');
const fetchUserSucceeded = createAction<{ name: string }>('user/fetchSucceeded');
const fetchUserFailed = createAction<string>('user/fetchFailed');

interface Dependencies {
  auth: TokenRefresh;
  getJSON: (url: string, headers: Record<string, string>) => Observable<{ name: string }>;
}

const fetchUserEpic: Epic<UnknownAction, UnknownAction, unknown, Dependencies> = (action$, _state$, { auth, getJSON }) =>
  action$.pipe(
    filter(fetchUser.match),
    mergeMap(({ payload }) =>
      auth
        .authorized((token) => getJSON(`/api/users/${payload}`, { Authorization: `Bearer ${token}` }))
        .pipe(
          map(fetchUserSucceeded),
          catchError((error: Error) => of(fetchUserFailed(error.name))),
        ),
    ),
  );

// The test.
describe('marble-testing an epic that uses auth.authorized', () => {
  let testScheduler: TestScheduler;
  beforeEach(() => {
    testScheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
  });

  test('a 401 refreshes once and the request is replayed with the new token', () =>
    testScheduler.run(({ hot, cold, expectObservable }) => {
      const auth = createTokenRefresh({
        refresh: (refreshToken) => cold('--t|', { t: { accessToken: `new-for-${refreshToken}`, refreshToken: 'r1' } }),
      });
      auth.setTokens({ accessToken: 'old', refreshToken: 'r0' });
      const getJSON = (_url: string, headers: Record<string, string>) =>
        headers.Authorization === 'Bearer new-for-r0'
          ? cold('-u|', { u: { name: 'Ada' } })
          : cold<{ name: string }>('-#', undefined, { status: 401 });

      const action$ = hot<UnknownAction>('a-b', { a: fetchUser('1'), b: fetchUser('2') });
      const state$ = new StateObservable<unknown>(new Subject(), {});
      const rootEpic = combineEpics<UnknownAction, UnknownAction, unknown, Dependencies>(auth.epic, fetchUserEpic);

      // a at 0 and b at 2 both get 401 (at 1 and 3); the refresh runs from 1 to 3; both replays answer at 4.
      expectObservable(rootEpic(action$, state$, { auth, getJSON })).toBe('-r-s(xy)', {
        r: auth.actions.refreshRequested({ reason: 'unauthorized' }),
        s: auth.actions.refreshSucceeded({ expiresAt: null, refreshAt: null }),
        x: fetchUserSucceeded({ name: 'Ada' }),
        y: fetchUserSucceeded({ name: 'Ada' }),
      });
    }));

  test('a rejected refresh fails the request with TokenRefreshError, as an action', () =>
    testScheduler.run(({ hot, cold, expectObservable }) => {
      const auth = createTokenRefresh({ refresh: () => cold('--#', undefined, { status: 400, error: 'invalid_grant' }) });
      auth.setTokens({ accessToken: 'old', refreshToken: 'r0' });
      const getJSON = () => cold<{ name: string }>('-#', undefined, { status: 401 });
      const action$ = hot<UnknownAction>('a', { a: fetchUser('1') });
      const state$ = new StateObservable<unknown>(new Subject(), {});
      const rootEpic = combineEpics<UnknownAction, UnknownAction, unknown, Dependencies>(auth.epic, fetchUserEpic);

      expectObservable(rootEpic(action$, state$, { auth, getJSON })).toBe('-r-(fle)', {
        r: auth.actions.refreshRequested({ reason: 'unauthorized' }),
        f: auth.actions.refreshFailed({
          error: {
            name: 'TokenRefreshError',
            code: 'REFRESH_FAILED',
            status: 400,
            message: 'The refresh token was rejected (HTTP 400); the user must log in again.',
          },
        }),
        l: auth.actions.loggedOut({ reason: 'rejected', elsewhere: false }),
        e: fetchUserFailed('TokenRefreshError'),
      });
    }));
});
