/**
 * The live panel's data: a log line for each request attempt, each 401, each refresh attempt and
 * its backoff, each replay, built from the package's actions and the demo's own (the epics'
 * requests, and the calls of the RTK Query panel and the fetch widget); client-side counters; and
 * the server's own counters from GET /stats, polled while signed in.
 *
 * The log and the counters start afresh at each sign-in, and the counters (here and on the
 * server) at each scenario, so that what the panel counts is what the scenario's card promises.
 */
import { createAction, createSlice } from '@reduxjs/toolkit';
import type { Epic } from 'redux-observable';
import type { UnknownAction } from 'redux';
import { EMPTY, catchError, distinctUntilChanged, exhaustMap, filter, from, ignoreElements, map, mergeMap, switchMap, timer } from 'rxjs';
import { REFRESH_BACKOFF_MS, REFRESH_RETRIES, auth, control, refreshAttempts$, tokenInfo, type RefreshAttemptEvent } from '../auth';
import { ENDPOINTS, requestFailed, requestRejected, requestSent, requestStarted, requestSucceeded, requestWaiting } from './requests';
import { scenarioStarted, controlApplied, scenarioFailed, scenarioNote, scenarioCountersReset, SCENARIOS } from './scenarios';
import { CLIENT_LABELS, clientCallStarted, clientFailed, clientRejected, clientSent, clientSucceeded } from './clients';
import { loginRequested, pageLoaded, restoreFinished } from './session';
import { MODE_LABELS } from '../mode';
import { dpopExchanged, nonceRotated, thiefAnswered, thiefSkipped } from './dpop';
import type { DpopExchange } from '../auth';
import type { RefreshReason } from 'redux-observable-token-refresh';

export type EventKind =
  | 'send'
  | 'replay'
  | 'wait'
  | 'unauthorized'
  | 'refresh'
  | 'attempt'
  | 'success'
  | 'failure'
  | 'session'
  | 'control'
  | 'note'
  | 'dpop'
  | 'thief';

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
  /** Calls of the refresh endpoint: one per refresh, more when a transient failure was retried. */
  attempts: number;
  replays: number;
  failed: number;
}

export interface ServerStats {
  apiRequests: number;
  api401: number;
  apiOk: number;
  refreshCalls: number;
  refreshOk: number;
  refreshFailed: number;
  reuseDetections: number;
  requestsWithReplacedToken: number;
}

export interface ActivityState {
  events: ActivityEvent[];
  counters: Counters;
  server: ServerStats | null;
  /** Endpoint of each request id (epics) or call id (other clients) seen, to name requests in log lines. */
  names: Record<number | string, { name: string; client: string }>;
  /** Requests started and not sent yet; `true` once the log said that they wait. */
  unsent: Record<number | string, boolean>;
  /** The running refresh's attempts so far, and when the last one failed (for its backoff). */
  refresh: { attempts: number; failedAt: number | null };
  /** What the next `tokensSet` is: this tab's sign-in, its restore at page load, or (null) another tab's tokens. */
  expecting: 'login' | 'restore' | null;
}

export const statsReceived = createAction<ServerStats>('activity/statsReceived');
export const countersReset = createAction('activity/countersReset');
export const refreshAttempt = createAction<RefreshAttemptEvent>('activity/refreshAttempt');

const zero: Counters = { requests: 0, unauthorized: 0, refreshes: 0, attempts: 0, replays: 0, failed: 0 };
const initialState: ActivityState = {
  events: [],
  counters: zero,
  server: null,
  names: {},
  unsent: {},
  refresh: { attempts: 0, failedAt: null },
  expecting: null,
};
const KEEP = 200;

const reasons: Record<string, string> = {
  unauthorized: 'a request got 401',
  expired: 'the access token is about to expire (known expiry), so the request waits instead of being sent',
  scheduled: 'scheduled',
  heartbeat: 'heartbeat',
  manual: 'auth.refresh() was called',
  restore: 'restoring the session after a page load',
  online: 'the browser is back online',
  visible: 'the page became visible',
} satisfies Record<RefreshReason, string>;

export const clock = (epochMs: number | null) =>
  epochMs === null ? 'unknown' : new Date(epochMs).toLocaleTimeString([], { hour12: false });

/** What happens after a failed refresh attempt: the package's retry rule, in words. */
export function retryPlan(attempt: number, transient: boolean): { text: string; retryInMs: number | null } {
  if (!transient) return { text: 'final, not retried', retryInMs: null };
  if (attempt > REFRESH_RETRIES) return { text: `transient, but no retry left (refreshRetries: ${REFRESH_RETRIES})`, retryInMs: null };
  const retryInMs = REFRESH_BACKOFF_MS * 2 ** (attempt - 1);
  return { text: `transient: retry ${attempt} of ${REFRESH_RETRIES} in ${retryInMs} ms`, retryInMs };
}

/** One DPoP proof and its answer, in words: "DPoP proof 1a2b3c4d: GET /api/items · nonce Xy7Qa1b2 · ath …c3d4e5 ← 200". */
export function describeExchange({ jti, htm, htu, nonce, ath, status, error, nextNonce }: DpopExchange): string {
  const proof = `DPoP proof ${jti}: ${htm} ${htu} · nonce ${nonce ?? 'none'}${ath ? ` · ath …${ath}` : ''}`;
  if (status < 300) return `${proof} ← ${status}`;
  if (error === 'use_dpop_nonce')
    return nextNonce
      ? `${proof} ← ${status} use_dpop_nonce: nonce challenge, retried with a new proof and the nonce ${nextNonce}`
      : `${proof} ← ${status} use_dpop_nonce: nonce challenge with the same nonce, not retried`;
  if (error === 'invalid_token') return `${proof} ← ${status} invalid_token: the token is refused, so a refresh, then a replay`;
  return `${proof} ← ${status}${error ? ` ${error}` : ''}`;
}

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
    const name = (state: ActivityState, id: number | string) => state.names[id]?.name ?? `#${id}`;
    const client = (state: ActivityState, id: number | string) => state.names[id]?.client;
    // Every client's request tells the same story: waits, sent, 401, replayed, answered or failed.
    const request = {
      started: (state: ActivityState, id: number | string, entry: { name: string; client: string }) => {
        state.names[id] = entry;
        state.unsent[id] = false;
      },
      waiting: (state: ActivityState, id: number | string) => {
        if (state.unsent[id] !== false) return;
        state.unsent[id] = true;
        log(state, 'wait', `${name(state, id)} waits for the refresh (not sent)`, client(state, id));
      },
      sent: (state: ActivityState, id: number | string, attempt: number, gen: number | null) => {
        delete state.unsent[id];
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
        const unsent = id in state.unsent;
        delete state.unsent[id];
        state.counters.failed++;
        log(state, 'failure', `${name(state, id)} failed: ${error.name}${unsent ? ' (never sent)' : ''}`, client(state, id));
      },
    };
    builder
      .addCase(loginRequested, () => ({ ...initialState, expecting: 'login' as const }))
      .addCase(requestStarted, (state, { payload }) =>
        request.started(state, payload.id, { name: `${ENDPOINTS[payload.endpoint].path.split('?')[0]} #${payload.id}`, client: 'epic' }),
      )
      .addCase(requestWaiting, (state, { payload }) => request.waiting(state, payload.id))
      .addCase(requestSent, (state, { payload }) => request.sent(state, payload.id, payload.attempt, payload.gen))
      .addCase(requestRejected, (state, { payload }) => request.rejected(state, payload.id, payload.status, payload.message))
      .addCase(requestSucceeded, (state, { payload }) => request.succeeded(state, payload.id))
      .addCase(requestFailed, (state, { payload }) => request.failed(state, payload.id, payload.error))
      .addCase(clientCallStarted, (state, { payload }) => {
        request.started(state, payload.call, { name: `${payload.path} #${payload.n}`, client: CLIENT_LABELS[payload.client] });
        if (payload.waiting) request.waiting(state, payload.call);
      })
      .addCase(clientSent, (state, { payload }) => request.sent(state, payload.call, payload.attempt, payload.gen))
      .addCase(clientRejected, (state, { payload }) => request.rejected(state, payload.call, payload.status, payload.message))
      .addCase(clientSucceeded, (state, { payload }) => request.succeeded(state, payload.call))
      .addCase(clientFailed, (state, { payload }) => request.failed(state, payload.call, payload.error))
      .addCase(auth.actions.tokensSet, (state) => {
        const info = tokenInfo(auth.getAccessToken());
        const token = `token gen ${info?.gen ?? '?'}, expires ${clock(info?.exp ?? null)}`;
        // Tokens from a restore or another tab end a refresh cycle as a success does.
        state.refresh = { attempts: 0, failedAt: null };
        // A restore's tokens are told by restoreFinished.
        if (state.expecting === 'login') log(state, 'session', `Signed in as ${info?.sub ?? '?'} · ${token}`);
        else if (state.expecting === null) log(state, 'session', `Tokens taken over from another tab (${info?.sub ?? '?'}) · ${token}`);
        state.expecting = null;
      })
      .addCase(auth.actions.refreshRequested, (state, { payload }) => {
        state.counters.refreshes++;
        log(state, 'refresh', `Refresh started: ${reasons[payload.reason] ?? payload.reason}`);
        // Every request started and not sent yet now waits for this refresh: the one whose token
        // was about to expire, and any other that had not read its token.
        for (const id of Object.keys(state.unsent)) request.waiting(state, id);
      })
      .addCase(refreshAttempt, (state, { payload }) => {
        const { refresh } = state;
        if (payload.type === 'sent') {
          refresh.attempts++;
          state.counters.attempts++;
          const backoff = refresh.failedAt === null ? '' : `, after a ${((payload.at - refresh.failedAt) / 1000).toFixed(1)} s backoff`;
          log(state, 'attempt', `Refresh attempt ${refresh.attempts}: POST /auth/refresh${backoff}`);
        } else if (payload.type === 'failed') {
          refresh.failedAt = payload.at;
          const status = payload.status === null ? 'network error' : `${payload.status} ${payload.message}`;
          log(state, 'failure', `Refresh attempt ${refresh.attempts} ← ${status}: ${retryPlan(refresh.attempts, payload.transient).text}`);
        }
      })
      .addCase(auth.actions.refreshSucceeded, (state, { payload }) => {
        const info = tokenInfo(auth.getAccessToken());
        const attempts = state.refresh.attempts > 1 ? ` after ${state.refresh.attempts} attempts` : '';
        log(state, 'refresh', `Refresh succeeded${attempts} · new token gen ${info?.gen ?? '?'}, expires ${clock(payload.expiresAt)}`);
        state.refresh = { attempts: 0, failedAt: null };
      })
      .addCase(auth.actions.refreshFailed, (state, { payload }) => {
        log(state, 'failure', `Refresh failed (${payload.error.name}): signed out`);
        state.refresh = { attempts: 0, failedAt: null };
      })
      .addCase(auth.actions.refreshUnavailable, (state, { payload }) => {
        log(state, 'failure', `Refresh unavailable (${payload.error.name}): still signed in, tokens kept; the next request tries again`);
        state.refresh = { attempts: 0, failedAt: null };
      })
      .addCase(auth.actions.storageFailed, (state, { payload }) =>
        log(state, 'failure', `Token storage failed (${payload.operation}): the session goes on in memory`),
      )
      .addCase(auth.actions.loggedOut, (state) => {
        // A restore that finds no session ends this way too; restoreFinished says so.
        if (state.expecting !== 'restore') log(state, 'session', 'Signed out: tokens cleared, waiting requests cancelled');
        state.refresh = { attempts: 0, failedAt: null };
      })
      .addCase(pageLoaded, (state, { payload }) => {
        const where = `refresh token ${MODE_LABELS[payload.mode].title.toLowerCase()}`;
        if (payload.mode === 'cookie') {
          state.expecting = 'restore';
          log(state, 'session', `Page loaded (${where}): no token in memory, so auth.restore() asks the server for one with the cookie`);
        } else {
          log(
            state,
            'session',
            payload.gen === null
              ? `Page loaded (${where}): no session stored`
              : `Page loaded (${where}): session found in localStorage, token gen ${payload.gen}`,
          );
        }
      })
      .addCase(restoreFinished, (state, { payload }) => {
        if (state.expecting === 'restore') state.expecting = null;
        return void (payload.restored
          ? log(state, 'session', `Session restored from the cookie without a sign-in · token gen ${payload.gen ?? '?'}`)
          : log(state, 'session', `No session to restore${payload.error ? ` (${payload.error})` : ' (no valid refresh cookie)'}: sign in`));
      })
      .addCase(dpopExchanged, (state, { payload }) => log(state, 'dpop', describeExchange(payload), payload.client ?? undefined))
      .addCase(thiefAnswered, (state, { payload }) => {
        const how = payload.scheme === 'Bearer' ? 'as Bearer' : 'with the DPoP scheme but no proof';
        const why = [payload.error, payload.description].filter(Boolean).join(': ');
        log(state, 'thief', `Thief replays the access token (ath …${payload.ath}) ${how} ← ${payload.status}${why ? ` ${why}` : ''}`);
      })
      .addCase(thiefSkipped, (state) => log(state, 'note', 'No access token to replay: sign in first'))
      .addCase(nonceRotated, (state) =>
        log(state, 'control', "Server: new DPoP nonce; each client's next proof carries the old one and gets a nonce challenge"),
      )
      .addCase(scenarioStarted, (state, { payload }) => log(state, 'control', `Scenario: ${SCENARIOS[payload.id].title}`))
      .addCase(scenarioNote, (state, { payload }) => log(state, 'note', payload.text))
      .addCase(scenarioCountersReset, (state) => {
        state.counters = zero;
        state.server = null;
        log(state, 'note', 'Counters zeroed for this scenario, here and on the server');
      })
      .addCase(controlApplied, (state, { payload }) => log(state, 'control', `Server: ${payload.text}`))
      .addCase(scenarioFailed, (state, { payload }) => log(state, 'failure', `Scenario stopped: ${payload.message}`))
      .addCase(statsReceived, (state, { payload }) => void (state.server = payload))
      .addCase(countersReset, (state) => ({ ...state, counters: zero, events: [], server: null, unsent: {} }));
  },
});

const signedIn = (state: Record<string, unknown>) => auth.selectState(state as never).status !== 'unauthenticated';

/** GET /stats every second while signed in. /stats is not an API route: it is never counted. */
export const statsEpic: Epic<UnknownAction, UnknownAction, Record<string, unknown>> = (_action$, state$) =>
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

/** Each call of the refresh endpoint (auth.ts reports them), as an action for the log. */
export const refreshAttemptsEpic: Epic<UnknownAction, UnknownAction> = () => refreshAttempts$.pipe(map((event) => refreshAttempt(event)));

/** "Reset": the server's counters, and this panel's counters and log. */
export const resetEpic: Epic<UnknownAction, UnknownAction> = (action$) =>
  action$.pipe(
    filter(countersReset.match),
    mergeMap(() =>
      control('reset-stats').pipe(
        catchError(() => EMPTY),
        ignoreElements(),
      ),
    ),
  );
