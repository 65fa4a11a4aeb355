/**
 * Type test (checked by `tsc --noEmit` in `npm test`, never run): the README's quick start compiles
 * as written, with an untyped and with a typed epic middleware.
 */
import { configureStore, createAction } from '@reduxjs/toolkit';
import type { UnknownAction } from 'redux';
import { combineEpics, createEpicMiddleware, type Epic } from 'redux-observable';
import { catchError, filter, map, mergeMap, of } from 'rxjs';
import { ajax } from 'rxjs/ajax';
import { createTokenRefresh, localStorageStorage } from 'redux-observable-token-refresh';

export const auth = createTokenRefresh({
  refresh: (refreshToken, { signal }) =>
    fetch('/auth/refresh', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ refreshToken }),
      signal,
    }).then((response) => (response.ok ? response.json() : Promise.reject(response))),
  storage: localStorageStorage('my-app/tokens'),
});

const fetchUser = createAction<string>('user/fetch');
const fetchUserSucceeded = createAction<unknown>('user/fetchSucceeded');
const fetchUserFailed = createAction<string>('user/fetchFailed');

const fetchUserEpic: Epic = (action$) =>
  action$.pipe(
    filter(fetchUser.match),
    mergeMap(({ payload }) =>
      auth
        .authorized((token) => ajax.getJSON(`/api/users/${payload}`, { Authorization: `Bearer ${token}` }))
        .pipe(
          map(fetchUserSucceeded),
          catchError((error: Error) => of(fetchUserFailed(error.name))),
        ),
    ),
  );

// Untyped middleware, as in most apps.
const epicMiddleware = createEpicMiddleware();
export const store = configureStore({
  reducer: { [auth.reducerPath]: auth.reducer },
  middleware: (getDefault) => getDefault().concat(epicMiddleware),
});
epicMiddleware.run(combineEpics(auth.epic, fetchUserEpic));

// Typed middleware.
type RootState = ReturnType<typeof store.getState>;
const typedMiddleware = createEpicMiddleware<UnknownAction, UnknownAction, RootState>();
const typedEpic: Epic<UnknownAction, UnknownAction, RootState> = (action$) =>
  action$.pipe(
    filter(fetchUser.match),
    map(() => fetchUserFailed('x')),
  );
typedMiddleware.run(combineEpics<UnknownAction, UnknownAction, RootState>(auth.epic, typedEpic));

// The slice is typed through reducerPath.
export const status: 'restoring' | 'authenticated' | 'refreshing' | 'unavailable' | 'unauthenticated' = auth.selectState(
  store.getState(),
).status;
