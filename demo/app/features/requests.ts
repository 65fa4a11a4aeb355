/**
 * "Load everything": one action fans out into a request action per endpoint, and each request is an
 * epic call through `auth.authorized`. Every attempt (first send, replay) and every 401 is reported
 * as an action, so the activity panel can show the refresh and the replay as they happen.
 */
import { createAction, createSlice } from '@reduxjs/toolkit';
import type { Epic } from 'redux-observable';
import { Subject, catchError, filter, finalize, from, map, merge, mergeMap, of, tap, type Observable } from 'rxjs';
import type { UnknownAction } from 'redux';
import { auth, dpop, getJson, getJsonWith, isNonceChallenge, tokenInfo, type HttpError } from '../auth';
import { nextRequestNumber } from './numbers';
import { loginRequested } from './signIn';

export const ENDPOINTS = {
  profile: { label: 'Profile', path: '/api/profile' },
  items: { label: 'Items', path: '/api/items' },
  report: { label: 'Sales report', path: '/api/report?ms=1200' },
  heartbeat: { label: 'Heartbeat', path: '/api/heartbeat' },
  echo: { label: 'Token check', path: '/api/echo' },
} as const;
export type EndpointKey = keyof typeof ENDPOINTS;
export const ENDPOINT_KEYS = Object.keys(ENDPOINTS) as EndpointKey[];

/** What the demo server answers on each endpoint (demo/server/authServer.ts). */
interface Bodies {
  profile: { name: string; email: string };
  items: { items: Array<{ name: string }> };
  report: { rows: unknown[]; tookMs: number };
  heartbeat: unknown;
  echo: { gen: number };
}
const summaries: { [Key in EndpointKey]: (body: Bodies[Key]) => string } = {
  profile: (body) => `${body.name} · ${body.email}`,
  items: (body) => `${body.items.length} items: ${body.items.map((item) => item.name).join(', ')}`,
  report: (body) => `${body.rows.length} rows, built in ${body.tookMs} ms`,
  heartbeat: () => 'API is up',
  echo: (body) => `Server accepted token gen ${body.gen}`,
};

/** Start every endpoint's request at once. */
export const loadEverything = createAction('requests/loadEverything');
export const requestStarted = createAction('requests/started', (endpoint: EndpointKey, wave: number) => ({
  payload: { id: nextRequestNumber(), endpoint, wave, at: Date.now() },
}));
/** Started while a refresh runs: the request waits for the new token instead of being sent. */
export const requestWaiting = createAction<{ id: number }>('requests/waiting');
export const requestSent = createAction<{ id: number; attempt: number; gen: number | null }>('requests/sent');
export const requestRejected = createAction<{ id: number; attempt: number; status: number; message: string }>('requests/rejected');
export const requestSucceeded = createAction<{ id: number; summary: string }>('requests/succeeded');
export const requestFailed = createAction<{ id: number; error: { name: string; message: string } }>('requests/failed');

export type RequestState = 'waiting' | 'in-flight' | 'ok' | 'failed';

export interface RequestEntry {
  id: number;
  wave: number;
  endpoint: EndpointKey;
  state: RequestState;
  attempts: number;
  /** Token generation carried by each attempt. */
  gens: Array<number | null>;
  unauthorized: number;
  /** Started while a refresh ran, so it was held back until the new token arrived. */
  waited: boolean;
  summary?: string;
  error?: string;
  startedAt: number;
}

export interface RequestsState {
  wave: number;
  byId: Record<number, RequestEntry>;
  /** The latest request of each endpoint, for the tiles. */
  latest: Partial<Record<EndpointKey, number>>;
}

const initialState: RequestsState = { wave: 0, byId: {}, latest: {} };
const KEEP = 100;

export const requestsSlice = createSlice({
  name: 'requests',
  initialState,
  reducers: {},
  extraReducers: (builder) => {
    const update = (state: RequestsState, id: number, change: (entry: RequestEntry) => void) => {
      const entry = state.byId[id];
      if (entry) change(entry);
    };
    builder
      .addCase(loadEverything, (state) => void state.wave++)
      .addCase(requestStarted, (state, { payload }) => {
        state.byId[payload.id] = {
          id: payload.id,
          wave: payload.wave,
          endpoint: payload.endpoint,
          state: 'in-flight',
          attempts: 0,
          gens: [],
          unauthorized: 0,
          waited: false,
          startedAt: payload.at,
        };
        state.latest[payload.endpoint] = payload.id;
        const ids = Object.keys(state.byId);
        for (const old of ids.slice(0, Math.max(0, ids.length - KEEP))) delete state.byId[Number(old)];
      })
      .addCase(requestWaiting, (state, { payload }) =>
        update(state, payload.id, (entry) => {
          entry.state = 'waiting';
          entry.waited = true;
        }),
      )
      .addCase(requestSent, (state, { payload }) =>
        update(state, payload.id, (entry) => {
          entry.state = 'in-flight';
          entry.attempts = payload.attempt;
          entry.gens.push(payload.gen);
        }),
      )
      .addCase(requestRejected, (state, { payload }) =>
        update(state, payload.id, (entry) => {
          if (payload.status === 401) entry.unauthorized++;
          entry.state = 'waiting';
        }),
      )
      .addCase(requestSucceeded, (state, { payload }) =>
        update(state, payload.id, (entry) => {
          entry.state = 'ok';
          entry.summary = payload.summary;
        }),
      )
      .addCase(requestFailed, (state, { payload }) =>
        update(state, payload.id, (entry) => {
          entry.state = 'failed';
          entry.error = payload.error.message;
        }),
      )
      // A refresh that starts before a request was sent holds it back (a known expiry: the request
      // itself started the refresh), exactly like a request started during the refresh.
      .addCase(auth.actions.refreshRequested, (state) => {
        for (const entry of Object.values(state.byId)) {
          if (entry.state === 'in-flight' && entry.attempts === 0) {
            entry.state = 'waiting';
            entry.waited = true;
          }
        }
      })
      .addCase(loginRequested, () => initialState);
  },
});

/** A request started in this status is held back until the token is settled. */
export const mustWait = (status: string): boolean => status === 'refreshing' || status === 'restoring';

export const loadEverythingEpic: Epic<UnknownAction, UnknownAction, { requests: RequestsState }> = (action$, state$) =>
  action$.pipe(
    filter(loadEverything.match),
    mergeMap(() => from(ENDPOINT_KEYS.map((key) => requestStarted(key, state$.value.requests.wave)))),
  );

/**
 * One request: `auth.authorized` hands each attempt the current token, waits while a refresh runs,
 * and on a 401 refreshes once for every caller and replays. The progress subject reports each
 * attempt and each rejection; `catchError` inside `mergeMap` keeps one failure from ending the epic.
 *
 * In DPoP mode `dpop.authorized(auth, { method, url }, send)` does the same with `Authorization: DPoP`
 * and a fresh proof per attempt, and answers the API's nonce challenge inside the attempt: that
 * retry is no replay (no refresh came before it), so it is not reported as one.
 */
export const requestEpic: Epic<UnknownAction, UnknownAction, Record<string, unknown>> = (action$, state$) =>
  action$.pipe(
    filter(requestStarted.match),
    mergeMap(({ payload: { id, endpoint } }): Observable<UnknownAction> => {
      const progress$ = new Subject<UnknownAction>();
      let attempt = 0;
      const refreshing = mustWait(auth.selectState(state$.value as never).status);
      const path = ENDPOINTS[endpoint].path;
      let challenged = false; // the last answer was a nonce challenge: the next send is its retry
      const report = (token: string, request$: Observable<unknown>) => {
        if (!challenged) progress$.next(requestSent({ id, attempt: ++attempt, gen: tokenInfo(token)?.gen ?? null }));
        challenged = false;
        const current = attempt;
        return request$.pipe(
          tap({
            error: (error: Partial<HttpError>) => {
              if (typeof error?.status !== 'number') return;
              if (isNonceChallenge(error.status, error.headers)) challenged = true;
              else progress$.next(requestRejected({ id, attempt: current, status: error.status, message: error.message ?? '' }));
            },
          }),
        );
      };
      const answer$: Observable<unknown> = dpop
        ? dpop.authorized(auth, { method: 'GET', url: path }, (headers) =>
            report(headers.Authorization.replace(/^DPoP /, ''), getJsonWith<unknown>(path, headers)),
          )
        : auth.authorized((token) => report(token, getJson<unknown>(path, token)));
      const call$ = answer$.pipe(
        map((body) => requestSucceeded({ id, summary: (summaries[endpoint] as (body: unknown) => string)(body) })),
        catchError((error: Error) =>
          of(requestFailed({ id, error: { name: error?.name ?? 'Error', message: error?.message ?? String(error) } })),
        ),
        finalize(() => progress$.complete()),
      );
      return merge(refreshing ? of(requestWaiting({ id })) : [], progress$, call$);
    }),
  );
