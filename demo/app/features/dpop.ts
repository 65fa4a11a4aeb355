/**
 * DPoP mode's story for the activity panel and the DPoP card: each proof and its answer (from
 * `dpopExchanges$`, auth.ts), the key's thumbprint, and the thief, who replays the current access
 * token without a proof and gets 401s.
 *
 * Nothing here carries a token: an exchange has the proof's claims (jti and nonce shortened, `ath`
 * as its last 6 characters) and the answer; the thief's result names the token by the same `ath`
 * fingerprint. The thief's epic reads the token from `auth.getAccessToken()` when it runs.
 */
import { createAction, createSlice } from '@reduxjs/toolkit';
import type { Epic } from 'redux-observable';
import type { UnknownAction } from 'redux';
import { EMPTY, catchError, concat, defer, filter, from, ignoreElements, map, mergeMap, of, switchMap } from 'rxjs';
import { auth, control, dpop, dpopExchanges$, tokenFingerprint, type DpopExchange } from '../auth';
import { loginRequested } from './signIn';

export const dpopExchanged = createAction<DpopExchange>('dpop/exchanged');
export const dpopKeyKnown = createAction<{ jkt: string }>('dpop/keyKnown');
export const thiefRequested = createAction('dpop/thiefRequested');
export type ThiefScheme = 'Bearer' | 'DPoP';
export interface ThiefResult {
  /** How the stolen token was sent: `Bearer`, or the DPoP scheme without a `DPoP` header. */
  scheme: ThiefScheme;
  status: number;
  error: string | null;
  description: string | null;
  /** The last 6 characters of the token's `ath`: the same token the proofs' `ath` names. */
  ath: string;
}
export const thiefAnswered = createAction<ThiefResult>('dpop/thiefAnswered');
export const thiefSkipped = createAction('dpop/thiefSkipped');
export const nonceRotateRequested = createAction('dpop/nonceRotateRequested');
export const nonceRotated = createAction('dpop/nonceRotated');

export interface DpopState {
  /** The key's RFC 7638 thumbprint, last 8 characters (the token's `cnf.jkt`). */
  jkt: string | null;
  /** The server's nonce as last learned (first 8 characters). */
  nonce: string | null;
  proofs: number;
  nonceChallenges: number;
  /** 401s the thief got. */
  thief401: number;
  thief: ThiefResult[];
  thiefRunning: boolean;
}

const initialState: DpopState = { jkt: null, nonce: null, proofs: 0, nonceChallenges: 0, thief401: 0, thief: [], thiefRunning: false };

export const dpopSlice = createSlice({
  name: 'dpop',
  initialState,
  reducers: {},
  extraReducers: (builder) =>
    builder
      .addCase(loginRequested, (state) => ({ ...initialState, jkt: state.jkt }))
      .addCase(dpopKeyKnown, (state, { payload }) => void (state.jkt = payload.jkt))
      .addCase(dpopExchanged, (state, { payload }) => {
        state.proofs++;
        if (payload.error === 'use_dpop_nonce') state.nonceChallenges++;
        state.nonce = payload.nextNonce ?? payload.nonce ?? state.nonce;
      })
      .addCase(thiefRequested, (state) => void (state.thiefRunning = true))
      .addCase(thiefSkipped, (state) => void (state.thiefRunning = false))
      .addCase(thiefAnswered, (state, { payload }) => {
        if (payload.status === 401) state.thief401++;
        state.thief = [...state.thief, payload].slice(-4);
        // Bearer first, then the DPoP scheme: the second answer ends the run.
        state.thiefRunning = payload.scheme === 'Bearer';
      })
      .addCase(auth.actions.loggedOut, (state) => ({ ...initialState, nonce: state.nonce })),
});

/** Each proof and its answer, as an action. */
export const dpopExchangesEpic: Epic<UnknownAction, UnknownAction> = () => dpopExchanges$.pipe(map((exchange) => dpopExchanged(exchange)));

/** The key's thumbprint, when a session starts (a login, a reload, another tab's tokens). */
export const dpopKeyEpic: Epic<UnknownAction, UnknownAction> = (action$) =>
  action$.pipe(
    filter((action) => auth.actions.tokensSet.match(action) || auth.actions.refreshSucceeded.match(action)),
    switchMap(() =>
      dpop
        ? from(dpop.thumbprint()).pipe(
            map((jkt) => dpopKeyKnown({ jkt: jkt.slice(-8) })),
            catchError(() => EMPTY),
          )
        : EMPTY,
    ),
  );

/** What the API answered the thief: the challenge's error, and its description from the body. */
async function asThief(scheme: ThiefScheme, token: string, ath: string): Promise<ThiefResult> {
  // The browser's own fetch, not `dpop.fetch`, `dpop.resourceFetch` nor an adapter: no proof, no refresh, no replay.
  const response = await fetch('/api/echo', { headers: { Authorization: `${scheme} ${token}` }, cache: 'no-store' });
  const challenge = response.headers.get('WWW-Authenticate') ?? '';
  const body = (await response.json().catch(() => null)) as { error?: string; error_description?: string } | null;
  return {
    scheme,
    status: response.status,
    error: /\berror="?([\w-]+)/.exec(challenge)?.[1] ?? body?.error ?? null,
    description: body?.error_description ?? null,
    ath,
  };
}

/**
 * "Replay as a thief": the current access token, as a thief who read it (an XSS, a log) would send
 * it: as Bearer, then with the DPoP scheme but no proof (the thief has no key). Both are 401.
 */
export const thiefEpic: Epic<UnknownAction, UnknownAction> = (action$) =>
  action$.pipe(
    filter(thiefRequested.match),
    switchMap(() => {
      const token = auth.getAccessToken();
      if (!token) return of(thiefSkipped());
      return from(tokenFingerprint(token)).pipe(
        mergeMap((ath) =>
          concat(
            defer(() => asThief('Bearer', token, ath)),
            defer(() => asThief('DPoP', token, ath)),
          ),
        ),
        map((result) => thiefAnswered(result)),
        catchError(() => of(thiefSkipped())),
      );
    }),
  );

/** "Rotate the server's nonce": the next proof of every client carries the old one and is challenged. */
export const nonceRotateEpic: Epic<UnknownAction, UnknownAction> = (action$) =>
  action$.pipe(
    filter(nonceRotateRequested.match),
    switchMap(() => concat(control('rotate-nonce').pipe(ignoreElements()), of(nonceRotated())).pipe(catchError(() => EMPTY))),
  );
