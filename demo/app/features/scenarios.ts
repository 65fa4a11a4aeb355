/**
 * The demo's scenarios: each sets a fault on the server (`/control/*`), then makes requests, so the
 * package's behaviour can be watched in the activity panel. A scenario stops when the session ends.
 */
import { createAction, createSlice } from '@reduxjs/toolkit';
import type { Epic } from 'redux-observable';
import type { UnknownAction } from 'redux';
import { EMPTY, catchError, concat, delay, endWith, filter, ignoreElements, map, merge, mergeMap, of, take, takeUntil, timeout, type Observable } from 'rxjs';
import { auth, control } from '../auth';
import { loadEverything, requestStarted } from './requests';
import { logoutRequested } from './session';

export type ScenarioId = 'expired' | 'slowRefresh' | 'revoked' | 'logoutDuringRefresh';

export const SCENARIOS: Record<ScenarioId, { title: string; description: string; expect: string }> = {
  expired: {
    title: 'Expired access token',
    description: 'The server expires the access token, then every endpoint is called at once.',
    expect: 'Five 401s, exactly one refresh, five replays that succeed.',
  },
  slowRefresh: {
    title: 'Slow refresh',
    description: 'The next refresh takes 3 s. One request gets a 401 and starts it; one second in, every endpoint is called.',
    expect: 'The new requests wait for the new token: none reaches the server with the old one.',
  },
  revoked: {
    title: 'Revoked refresh token',
    description: 'The server revokes the refresh token and expires the access token, then the app loads.',
    expect: 'One refresh attempt, every waiting request fails, back to sign-in with a message.',
  },
  logoutDuringRefresh: {
    title: 'Log out during a refresh',
    description: 'A slow refresh starts; you sign out one second into it.',
    expect: 'Nothing more is sent, and the tokens that arrive late are thrown away.',
  },
};

export const scenarioStarted = createAction<{ id: ScenarioId }>('scenarios/started');
export const controlApplied = createAction<{ text: string }>('scenarios/controlApplied');
export const scenarioFailed = createAction<{ message: string }>('scenarios/failed');
export const scenarioFinished = createAction<{ id: ScenarioId }>('scenarios/finished');

/** Which scenario is running, so its button shows it and the others wait. */
export const scenariosSlice = createSlice({
  name: 'scenarios',
  initialState: { running: null as ScenarioId | null },
  reducers: {},
  extraReducers: (builder) =>
    builder
      .addCase(scenarioStarted, (state, { payload }) => void (state.running = payload.id))
      .addCase(scenarioFinished, (state, { payload }) => void (state.running === payload.id && (state.running = null))),
});

/** Server fault controls, each also usable on its own from the panel. */
export const serverControls = {
  expire: { label: 'Expire access token', run: () => control('expire'), text: 'access token expired' },
  revoke: { label: 'Revoke refresh token', run: () => control('revoke'), text: 'refresh token revoked' },
  slow: { label: 'Slow refresh (3 s)', run: () => control('slow-refresh', { ms: 3000 }), text: 'next refresh will take 3 s' },
  fail: { label: 'Refresh 500 once', run: () => control('fail-refresh', { status: 500, times: 1 }), text: 'next refresh answers 500 once (retried)' },
} as const;
export type ControlId = keyof typeof serverControls;
export const controlRequested = createAction<{ id: ControlId }>('scenarios/controlRequested');

const apply = (id: ControlId): Observable<UnknownAction> =>
  concat(serverControls[id].run().pipe(ignoreElements()), of(controlApplied({ text: serverControls[id].text })));

export const controlEpic: Epic<UnknownAction, UnknownAction> = (action$) =>
  action$.pipe(
    filter(controlRequested.match),
    mergeMap(({ payload }) => apply(payload.id).pipe(catchError((error: Error) => of(scenarioFailed({ message: error.message }))))),
  );

export const scenarioEpic: Epic<UnknownAction, UnknownAction> = (action$) => {
  const sessionEnded$ = action$.pipe(filter((action) => auth.actions.loggedOut.match(action) || auth.actions.refreshFailed.match(action)));
  // Bounded: a scenario whose refresh never starts ends after 10 s instead of showing "running" forever.
  const refreshStarted$ = action$.pipe(
    filter(auth.actions.refreshRequested.match),
    take(1),
    timeout({ first: 10_000, with: () => EMPTY }),
  );
  const steps: Record<ScenarioId, () => Observable<UnknownAction>> = {
    expired: () => concat(apply('expire'), of(loadEverything())),
    revoked: () => concat(apply('revoke'), apply('expire'), of(loadEverything())),
    // `merge` subscribes to "refresh started" before the request that causes it is dispatched.
    // One request starts the refresh, so every old-token request provably left before it.
    slowRefresh: () =>
      concat(
        apply('slow'),
        apply('expire'),
        merge(refreshStarted$.pipe(delay(1000), map(() => loadEverything())), of(requestStarted('heartbeat', 0))),
      ),
    logoutDuringRefresh: () =>
      concat(
        apply('slow'),
        apply('expire'),
        merge(
          refreshStarted$.pipe(delay(1000), map(() => logoutRequested({ reason: 'You signed out while a token refresh was running.' }))),
          of(loadEverything()),
        ),
      ),
  };
  return action$.pipe(
    filter(scenarioStarted.match),
    mergeMap(({ payload }) =>
      steps[payload.id]().pipe(
        takeUntil(sessionEnded$),
        catchError((error: Error) => of(scenarioFailed({ message: error.message }))),
        endWith(scenarioFinished({ id: payload.id })),
      ),
    ),
  );
};
