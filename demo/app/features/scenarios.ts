/**
 * The demo's scenarios: each sets a fault on the server (`/control/*`), then makes requests, so the
 * package's behaviour can be watched in the activity panel. A scenario stops when the session ends.
 *
 * Each run first makes its precondition true, whatever the pace of the person pressing Run, and
 * says so in the log: a scenario about the server's 401s starts from a token that is not inside its
 * refresh window (else the package would refresh before sending, and the server would never see
 * the expired token); the known-expiry scenario waits until the token is inside that window. Then
 * it zeroes the counters (here and on the server), so the panel counts what the card promises.
 */
import { createAction, createSlice } from '@reduxjs/toolkit';
import type { Epic } from 'redux-observable';
import type { UnknownAction } from 'redux';
import {
  EMPTY,
  catchError,
  concat,
  defer,
  delay,
  endWith,
  filter,
  ignoreElements,
  map,
  merge,
  mergeMap,
  of,
  take,
  takeUntil,
  timeout,
  timer,
  type Observable,
} from 'rxjs';
import { EXPIRY_SKEW_MS, auth, control, refreshWindowOpensAt, tokenInfo } from '../auth';
import { loadEverything, requestStarted } from './requests';
import { loadFromEveryClient } from './clients';
import { logoutRequested } from './session';

export type ScenarioId = 'expired' | 'everyClient' | 'knownExpiry' | 'flakyRefresh' | 'slowRefresh' | 'revoked' | 'logoutDuringRefresh';

/** What a scenario needs of the current token before it starts. */
type Precondition = 'outside-refresh-window' | 'inside-refresh-window';

export const SCENARIOS: Record<ScenarioId, { title: string; description: string; expect: string; needs: Precondition }> = {
  expired: {
    title: 'Expired access token',
    description: 'The server expires the access token (its exp claim still says it is valid), then every endpoint is called at once.',
    expect: 'Five 401s, exactly one refresh, five replays that succeed.',
    needs: 'outside-refresh-window',
  },
  everyClient: {
    title: 'Expired token, every client',
    description: 'The server expires the access token, then the five epics, the two RTK Query endpoints and the fetch widget call at once.',
    expect: 'Eight 401s from three clients, exactly one refresh, eight replays that succeed.',
    needs: 'outside-refresh-window',
  },
  knownExpiry: {
    title: 'Token about to expire',
    description:
      `Waits until the access token is inside its refresh window (${EXPIRY_SKEW_MS / 1000} s before its exp, and half its life gone), ` +
      'then calls every endpoint. The server rejects nothing.',
    expect: 'No 401: one refresh before anything is sent; the five requests wait for it and go out once, with the new token.',
    needs: 'inside-refresh-window',
  },
  flakyRefresh: {
    title: 'Refresh fails once',
    description: 'The refresh endpoint will answer 500 once; the server expires the access token; every endpoint is called.',
    expect: 'Five 401s, one refresh in two attempts (500, a 0.5 s backoff, then 200), five replays that succeed.',
    needs: 'outside-refresh-window',
  },
  slowRefresh: {
    title: 'Slow refresh',
    description: 'The next refresh takes 3 s. One request gets a 401 and starts it; one second in, every endpoint is called.',
    expect: 'One 401, one refresh; the new requests wait for the new token: none reaches the server with the old one.',
    needs: 'outside-refresh-window',
  },
  revoked: {
    title: 'Revoked refresh token',
    description: 'The server revokes the refresh token and expires the access token, then the app loads.',
    expect: 'Five 401s, one refresh attempt that is rejected, every waiting request fails, back to sign-in with a message.',
    needs: 'outside-refresh-window',
  },
  logoutDuringRefresh: {
    title: 'Log out during a refresh',
    description: 'A slow refresh starts; you sign out one second into it.',
    expect: 'Nothing more is sent, and the tokens that arrive late are thrown away.',
    needs: 'outside-refresh-window',
  },
};

export const scenarioStarted = createAction<{ id: ScenarioId }>('scenarios/started');
export const scenarioNote = createAction<{ text: string }>('scenarios/note');
/** Zero the activity counters; the scenario epic zeroes the server's at the same time. */
export const scenarioCountersReset = createAction('scenarios/countersReset');
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
  fail: {
    label: 'Refresh 500 once',
    run: () => control('fail-refresh', { status: 500, times: 1 }),
    text: 'next refresh call answers 500 (the package retries it)',
  },
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

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const time = (epochMs: number) => new Date(epochMs).toLocaleTimeString([], { hour12: false });

/** A request needs this long, at most, to leave before the 401-scenarios' first refresh starts. */
const SETUP_MARGIN_MS = 2000;

/**
 * Makes the scenario's precondition true. For the 401 scenarios: if the token is inside (or about
 * to enter) its refresh window, refresh it first. For the known-expiry one: wait for the window.
 */
function prepare(needs: Precondition, state: unknown): Observable<UnknownAction> {
  return defer(() => {
    const info = tokenInfo(auth.getAccessToken());
    const opensAt = refreshWindowOpensAt(info, auth.selectState(state as never).expiresAt);
    if (opensAt === null || !info) throw new Error('the access token has no known expiry');
    const gen = `token gen ${info.gen ?? '?'}`;
    if (needs === 'inside-refresh-window') {
      const waitMs = opensAt - Date.now() + 250;
      if (waitMs <= 0) return of(scenarioNote({ text: `Setup: ${gen} is inside its refresh window since ${time(opensAt)}` }));
      return concat(
        of(scenarioNote({ text: `Setup: waiting ${seconds(waitMs)} until ${gen} enters its refresh window at ${time(opensAt)}` })),
        timer(waitMs).pipe(ignoreElements()),
      );
    }
    if (Date.now() < opensAt - SETUP_MARGIN_MS) return EMPTY;
    return concat(
      of(
        scenarioNote({
          text:
            `Setup: ${gen} enters its refresh window at ${time(opensAt)}, so a request now would refresh before it is sent and the ` +
            'server would never see the expired token. Refreshing it first:',
        }),
      ),
      defer(() => auth.refresh('manual')).pipe(ignoreElements()),
    );
  });
}

/** Zero the counters on both sides, so the panel shows this scenario's numbers only. */
const zeroCounters = (): Observable<UnknownAction> => concat(control('reset-stats').pipe(ignoreElements()), of(scenarioCountersReset()));

export const scenarioEpic: Epic<UnknownAction, UnknownAction, unknown> = (action$, state$) => {
  const sessionEnded$ = action$.pipe(filter((action) => auth.actions.loggedOut.match(action) || auth.actions.refreshFailed.match(action)));
  // Bounded: a scenario whose refresh never starts ends after 10 s instead of showing "running" forever.
  const refreshStarted$ = action$.pipe(filter(auth.actions.refreshRequested.match), take(1), timeout({ first: 10_000, with: () => EMPTY }));
  const steps: Record<ScenarioId, () => Observable<UnknownAction>> = {
    expired: () => concat(apply('expire'), of(loadEverything())),
    everyClient: () =>
      concat(
        apply('expire'),
        defer(() => (loadFromEveryClient.emit(), of(loadEverything()))),
      ),
    knownExpiry: () => of(loadEverything()),
    flakyRefresh: () => concat(apply('fail'), apply('expire'), of(loadEverything())),
    revoked: () => concat(apply('revoke'), apply('expire'), of(loadEverything())),
    // `merge` subscribes to "refresh started" before the request that causes it is dispatched.
    // One request starts the refresh, so every old-token request provably left before it.
    slowRefresh: () =>
      concat(
        apply('slow'),
        apply('expire'),
        merge(
          refreshStarted$.pipe(
            delay(1000),
            map(() => loadEverything()),
          ),
          of(requestStarted('heartbeat', 0)),
        ),
      ),
    logoutDuringRefresh: () =>
      concat(
        apply('slow'),
        apply('expire'),
        merge(
          refreshStarted$.pipe(
            delay(1000),
            map(() => logoutRequested({ reason: 'You signed out while a token refresh was running.' })),
          ),
          of(loadEverything()),
        ),
      ),
  };
  return action$.pipe(
    filter(scenarioStarted.match),
    mergeMap(({ payload }) =>
      concat(prepare(SCENARIOS[payload.id].needs, state$.value), zeroCounters(), defer(steps[payload.id])).pipe(
        takeUntil(sessionEnded$),
        catchError((error: Error) => of(scenarioFailed({ message: error.message }))),
        endWith(scenarioFinished({ id: payload.id })),
      ),
    ),
  );
};
