/**
 * The live panel's data: a log line for each request attempt, each 401, each refresh and each
 * replay, built from the package's actions and the demo's own; client-side counters; and the
 * server's own counters from GET /stats, polled while signed in.
 */
import { createAction, createSlice } from '@reduxjs/toolkit';
import type { Epic } from 'redux-observable';
import type { UnknownAction } from 'redux';
import { EMPTY, catchError, distinctUntilChanged, exhaustMap, filter, from, ignoreElements, map, mergeMap, switchMap, timer } from 'rxjs';
import { auth, control, tokenInfo } from '../auth';
import { ENDPOINTS, requestFailed, requestRejected, requestSent, requestStarted, requestSucceeded, requestWaiting } from './requests';
import { scenarioStarted, controlApplied, scenarioFailed, SCENARIOS } from './scenarios';
import type { RefreshReason } from 'redux-observable-token-refresh';

export type EventKind = 'send' | 'replay' | 'wait' | 'unauthorized' | 'refresh' | 'success' | 'failure' | 'session' | 'control';

export interface ActivityEvent {
  seq: number;
  at: number;
  kind: EventKind;
  text: string;
}

export interface Counters {
  requests: number;
  unauthorized: number;
  refreshes: number;
  replays: number;
  failed: number;
}

export interface ServerStats {
  apiRequests: number; api401: number; apiOk: number;
  refreshCalls: number; refreshOk: number; refreshFailed: number;
  reuseDetections: number; requestsWithReplacedToken: number;
}

export interface ActivityState {
  events: ActivityEvent[];
  counters: Counters;
  server: ServerStats | null;
  /** Endpoint of each request id seen, to name requests in log lines. */
  names: Record<number, string>;
}

export const statsReceived = createAction<ServerStats>('activity/statsReceived');
export const countersReset = createAction('activity/countersReset');

const zero: Counters = { requests: 0, unauthorized: 0, refreshes: 0, replays: 0, failed: 0 };
const initialState: ActivityState = { events: [], counters: zero, server: null, names: {} };
const KEEP = 200;

const reasons: Record<RefreshReason, string> = {
  unauthorized: 'a request got 401',
  expired: 'the access token is about to expire',
  scheduled: 'scheduled',
  heartbeat: 'heartbeat',
  manual: 'requested',
};

export const clock = (epochMs: number | null) => (epochMs === null ? 'unknown' : new Date(epochMs).toLocaleTimeString([], { hour12: false }));

export const activitySlice = createSlice({
  name: 'activity',
  initialState,
  reducers: {},
  extraReducers: (builder) => {
    const log = (state: ActivityState, kind: EventKind, text: string) => {
      const seq = (state.events[state.events.length - 1]?.seq ?? 0) + 1;
      state.events.push({ seq, at: Date.now(), kind, text });
      if (state.events.length > KEEP) state.events.splice(0, state.events.length - KEEP);
    };
    const name = (state: ActivityState, id: number) => state.names[id] ?? `#${id}`;
    builder
      .addCase(requestStarted, (state, { payload }) => {
        state.names[payload.id] = `${ENDPOINTS[payload.endpoint].path.split('?')[0]} #${payload.id}`;
      })
      .addCase(requestWaiting, (state, { payload }) => log(state, 'wait', `${name(state, payload.id)} waits for the refresh (not sent)`))
      .addCase(requestSent, (state, { payload }) => {
        state.counters.requests++;
        if (payload.attempt > 1) {
          state.counters.replays++;
          log(state, 'replay', `${name(state, payload.id)} replayed with token gen ${payload.gen}`);
        } else {
          log(state, 'send', `${name(state, payload.id)} sent with token gen ${payload.gen}`);
        }
      })
      .addCase(requestRejected, (state, { payload }) => {
        if (payload.status === 401) state.counters.unauthorized++;
        log(state, 'unauthorized', `${name(state, payload.id)} ← ${payload.status} ${payload.message}`);
      })
      .addCase(requestSucceeded, (state, { payload }) => log(state, 'success', `${name(state, payload.id)} ← 200 OK`))
      .addCase(requestFailed, (state, { payload }) => {
        state.counters.failed++;
        log(state, 'failure', `${name(state, payload.id)} failed: ${payload.error.name}`);
      })
      .addCase(auth.actions.tokensSet, (state) => {
        const info = tokenInfo(auth.getAccessToken());
        log(state, 'session', `Signed in as ${info?.sub ?? '?'} · token gen ${info?.gen ?? '?'}`);
      })
      .addCase(auth.actions.refreshRequested, (state, { payload }) => {
        state.counters.refreshes++;
        log(state, 'refresh', `Refresh started: ${reasons[payload.reason] ?? payload.reason}`);
      })
      .addCase(auth.actions.refreshSucceeded, (state, { payload }) => {
        const info = tokenInfo(auth.getAccessToken());
        log(state, 'refresh', `Refresh succeeded · new token gen ${info?.gen ?? '?'}, expires ${clock(payload.expiresAt)}`);
      })
      .addCase(auth.actions.refreshFailed, (state, { payload }) =>
        log(state, 'failure', `Refresh failed (${payload.error.name}): signed out`))
      .addCase(auth.actions.loggedOut, (state) => log(state, 'session', 'Signed out: tokens cleared, waiting requests cancelled'))
      .addCase(scenarioStarted, (state, { payload }) => log(state, 'control', `Scenario: ${SCENARIOS[payload.id].title}`))
      .addCase(controlApplied, (state, { payload }) => log(state, 'control', `Server: ${payload.text}`))
      .addCase(scenarioFailed, (state, { payload }) => log(state, 'failure', `Scenario stopped: ${payload.message}`))
      .addCase(statsReceived, (state, { payload }) => void (state.server = payload))
      .addCase(countersReset, (state) => ({ ...state, counters: zero, events: [], server: null }));
  },
});

const signedIn = (state: Record<string, any>) => auth.selectState(state as never).status !== 'unauthenticated';

/** GET /stats every second while signed in. /stats is not an API route: it is never counted. */
export const statsEpic: Epic<UnknownAction, UnknownAction, Record<string, any>> = (_action$, state$) =>
  state$.pipe(
    map(signedIn),
    distinctUntilChanged(),
    switchMap((on) =>
      on
        ? timer(0, 1000).pipe(
            exhaustMap(() =>
              from(fetch('/stats', { cache: 'no-store' }).then((response) => response.json() as Promise<ServerStats>)).pipe(
                map((stats) => statsReceived(stats)),
                catchError(() => EMPTY),
              ),
            ),
          )
        : EMPTY,
    ),
  );

/** "Reset counters": the server's stats and faults, and this panel's counters and log. */
export const resetEpic: Epic<UnknownAction, UnknownAction> = (action$) =>
  action$.pipe(
    filter(countersReset.match),
    mergeMap(() => control('reset').pipe(catchError(() => EMPTY), ignoreElements())),
  );
