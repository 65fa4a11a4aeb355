/**
 * The live panel's data: a log line for each request attempt, each 401, each refresh and each
 * replay, built from the package's actions and the demo's own (the epics' requests, and the calls
 * of the RTK Query panel and the fetch widget); client-side counters; and the server's own
 * counters from GET /stats, polled while signed in.
 */
import { createAction, createSlice } from '@reduxjs/toolkit';
import type { Epic } from 'redux-observable';
import type { UnknownAction } from 'redux';
import { EMPTY, catchError, distinctUntilChanged, exhaustMap, filter, from, ignoreElements, map, mergeMap, switchMap, timer } from 'rxjs';
import { auth, control, tokenInfo } from '../auth';
import { ENDPOINTS, requestFailed, requestRejected, requestSent, requestStarted, requestSucceeded, requestWaiting } from './requests';
import { scenarioStarted, controlApplied, scenarioFailed, SCENARIOS } from './scenarios';
import { CLIENT_LABELS, clientCallStarted, clientFailed, clientRejected, clientSent, clientSucceeded } from './clients';
import type { RefreshReason } from 'redux-observable-token-refresh';

export type EventKind = 'send' | 'replay' | 'wait' | 'unauthorized' | 'refresh' | 'success' | 'failure' | 'session' | 'control';

export interface ActivityEvent {
  seq: number;
  at: number;
  kind: EventKind;
  text: string;
  /** The client that made the request: `epic`, `RTK Query` or `fetch`. */
  client?: string;
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
  /** Endpoint of each request id (epics) or call id (other clients) seen, to name requests in log lines. */
  names: Record<number | string, { name: string; client: string }>;
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
  restore: 'the page loaded: restoring the session',
  online: 'the network is back',
  visible: 'the page is visible again',
  heartbeat: 'heartbeat',
  manual: 'requested',
};

export const clock = (epochMs: number | null) => (epochMs === null ? 'unknown' : new Date(epochMs).toLocaleTimeString([], { hour12: false }));

export const activitySlice = createSlice({
  name: 'activity',
  initialState,
  reducers: {},
  extraReducers: (builder) => {
    const log = (state: ActivityState, kind: EventKind, text: string, client?: string) => {
      const seq = (state.events[state.events.length - 1]?.seq ?? 0) + 1;
      state.events.push({ seq, at: Date.now(), kind, text, ...(client ? { client } : {}) });
      if (state.events.length > KEEP) state.events.splice(0, state.events.length - KEEP);
    };
    // Every client's request tells the same story: waits, sent, 401, replayed, answered or failed.
    const request = {
      waiting: (state: ActivityState, id: number | string) => log(state, 'wait', `${name(state, id)} waits for the refresh (not sent)`, client(state, id)),
      sent: (state: ActivityState, id: number | string, attempt: number, gen: number | null) => {
        state.counters.requests++;
        if (attempt > 1) {
          state.counters.replays++;
          log(state, 'replay', `${name(state, id)} replayed with token gen ${gen}`, client(state, id));
        } else {
          log(state, 'send', `${name(state, id)} sent with token gen ${gen}`, client(state, id));
        }
      },
      rejected: (state: ActivityState, id: number | string, status: number, message: string) => {
        if (status === 401) state.counters.unauthorized++;
        log(state, 'unauthorized', `${name(state, id)} ← ${status} ${message}`, client(state, id));
      },
      succeeded: (state: ActivityState, id: number | string) => log(state, 'success', `${name(state, id)} ← 200 OK`, client(state, id)),
      failed: (state: ActivityState, id: number | string, error: { name: string }) => {
        state.counters.failed++;
        log(state, 'failure', `${name(state, id)} failed: ${error.name}`, client(state, id));
      },
    };
    const name = (state: ActivityState, id: number | string) => state.names[id]?.name ?? `#${id}`;
    const client = (state: ActivityState, id: number | string) => state.names[id]?.client;
    builder
      .addCase(requestStarted, (state, { payload }) => {
        state.names[payload.id] = { name: `${ENDPOINTS[payload.endpoint].path.split('?')[0]} #${payload.id}`, client: 'epic' };
      })
      .addCase(requestWaiting, (state, { payload }) => request.waiting(state, payload.id))
      .addCase(requestSent, (state, { payload }) => request.sent(state, payload.id, payload.attempt, payload.gen))
      .addCase(requestRejected, (state, { payload }) => request.rejected(state, payload.id, payload.status, payload.message))
      .addCase(requestSucceeded, (state, { payload }) => request.succeeded(state, payload.id))
      .addCase(requestFailed, (state, { payload }) => request.failed(state, payload.id, payload.error))
      .addCase(clientCallStarted, (state, { payload }) => {
        state.names[payload.call] = { name: `${payload.path} #${payload.n}`, client: CLIENT_LABELS[payload.client] };
        if (payload.waiting) request.waiting(state, payload.call);
      })
      .addCase(clientSent, (state, { payload }) => request.sent(state, payload.call, payload.attempt, payload.gen))
      .addCase(clientRejected, (state, { payload }) => request.rejected(state, payload.call, payload.status, payload.message))
      .addCase(clientSucceeded, (state, { payload }) => request.succeeded(state, payload.call))
      .addCase(clientFailed, (state, { payload }) => request.failed(state, payload.call, payload.error))
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
