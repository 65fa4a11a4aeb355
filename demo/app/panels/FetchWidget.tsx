/**
 * A widget outside Redux: its state is React state, and it calls the API with `authFetch`, a
 * drop-in `fetch` on the same `auth` as the epics and RTK Query. A 401 here joins the one shared
 * refresh and the request is replayed with the new token; a request to another origin would go
 * out without the token.
 *
 * The `fetchFn` under the adapter is the browser's `fetch` plus a report of each attempt, for the
 * card and the activity panel: the demo's instrumentation only. An app writes
 * `authFetch(auth, { allowedOrigins: [location.origin] })`, and in DPoP mode
 * `authFetch(auth, { allowedOrigins: [location.origin], fetchFn: dpop.resourceFetch(auth) })`. Here DPoP
 * mode's `fetchFn` is `dpop.resourceFetch(auth, observedFetch)`: the request then goes as
 * `Authorization: DPoP` with a proof, which it puts in the headers `observedFetch` gets, and a nonce
 * challenge is answered with one more call of `observedFetch` (no replay, no refresh).
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import { useStore } from 'react-redux';
import { authFetch } from 'redux-observable-token-refresh/fetch';
import { auth, isNonceChallenge, resourceFetchOver, traceDpop } from '../auth';
import { clock } from '../features/activity';
import { mustWait } from '../features/requests';
import {
  clientCallStarted,
  clientFailed,
  clientRejected,
  clientSent,
  clientSucceeded,
  describeAttempts,
  genOf,
  loadFromEveryClient,
  type Attempts,
} from '../features/clients';
import type { DemoPanel } from '../panel';

/** What one call tells the card about its attempts. */
interface AttemptObserver {
  sent(gen: number | null): void;
  rejected(status: number, message: string): void;
}

/** Keyed by the call's own `AbortSignal`, which `authFetch` passes on to every attempt. */
const observers = new WeakMap<AbortSignal, AttemptObserver>();
/** Calls whose last answer was a DPoP nonce challenge: their next attempt is its retry, not a replay. */
const challenged = new WeakSet<AbortSignal>();

async function observedFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  const signal = init?.signal ?? undefined;
  const observer = signal ? observers.get(signal) : undefined;
  if (!signal || !challenged.delete(signal)) observer?.sent(genOf(init?.headers));
  const response = await fetch(input, init);
  await traceDpop('fetch', init?.headers, response);
  if (signal && isNonceChallenge(response.status, response.headers)) {
    challenged.add(signal);
    return response;
  }
  if (observer && response.status === 401) {
    const body = (await response
      .clone()
      .json()
      .catch(() => null)) as { error_description?: string } | null;
    observer.rejected(response.status, body?.error_description ?? 'Unauthorized');
  }
  return response;
}

export const apiFetch = authFetch(auth, { allowedOrigins: [location.origin], fetchFn: resourceFetchOver(observedFetch) });

interface Echo {
  sub: string;
  gen: number;
  sid: string;
}

type CheckState = 'idle' | 'waiting' | 'in-flight' | 'ok' | 'failed';
interface Check extends Attempts {
  state: CheckState;
  echo?: Echo;
  error?: string;
  answeredAt?: number;
}

const idle: Check = { state: 'idle', gens: [], unauthorized: 0, waited: false };

const badgeLabel: Record<CheckState, string> = {
  idle: 'Not called',
  waiting: 'Waiting for token',
  'in-flight': 'Loading…',
  ok: 'Accepted',
  failed: 'Failed',
};

function FetchWidget() {
  // The store only to read whether a refresh runs and to report to the activity panel: the
  // widget's own state and its requests never go through it.
  const store = useStore();
  const [check, setCheck] = useState<Check>(idle);
  const latest = useRef(0);

  const run = useCallback(async () => {
    const mine = ++latest.current;
    const update = (change: (previous: Check) => Check) => {
      if (latest.current === mine) setCheck(change);
    };
    const waited = mustWait(auth.selectState(store.getState() as never).status);
    const started = clientCallStarted('fetch', 'echo', '/api/echo', waited);
    const { call } = started.payload;
    store.dispatch(started);
    // A new call: nothing of the previous one stays on the card (its "accepted gen 1" included).
    setCheck(() => ({ state: waited ? 'waiting' : 'in-flight', gens: [], unauthorized: 0, waited }));

    const controller = new AbortController();
    let attempt = 0;
    // A refresh that starts before the first attempt is sent holds the call back (a known expiry).
    const stopWatching = store.subscribe(() => {
      if (attempt === 0 && mustWait(auth.selectState(store.getState() as never).status)) {
        update((previous) => (previous.waited ? previous : { ...previous, state: 'waiting', waited: true }));
      }
    });
    observers.set(controller.signal, {
      sent: (gen) => {
        stopWatching();
        attempt++;
        update((previous) => ({ ...previous, state: 'in-flight', gens: [...previous.gens, gen] }));
        store.dispatch(clientSent({ call, attempt, gen }));
      },
      rejected: (status, message) => {
        update((previous) => ({ ...previous, state: 'waiting', unauthorized: previous.unauthorized + 1 }));
        store.dispatch(clientRejected({ call, attempt, status, message }));
      },
    });
    try {
      const response = await apiFetch('/api/echo', { signal: controller.signal, cache: 'no-store' });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const echo = (await response.json()) as Echo;
      update((previous) => ({ ...previous, state: 'ok', echo, answeredAt: Date.now() }));
      store.dispatch(clientSucceeded({ call }));
    } catch (caught) {
      const error = caught instanceof Error ? caught : new Error(String(caught));
      update((previous) => ({ ...previous, state: 'failed', error: error.message }));
      store.dispatch(clientFailed({ call, error: { name: error.name, message: error.message } }));
    } finally {
      stopWatching();
    }
  }, [store]);

  useEffect(() => loadFromEveryClient.subscribe(() => void run()), [run]);

  const { state, echo, error, answeredAt } = check;
  return (
    <div className="widget">
      <article className={`tile tile-${state}`} data-testid="fetch-echo" data-state={state}>
        <header>
          <h3>Token check</h3>
          <span className={`badge badge-${state}`}>{badgeLabel[state]}</span>
        </header>
        <code className="path">apiFetch('/api/echo')</code>
        <p className="tile-body" data-testid="fetch-echo-result">
          {state === 'failed' ? (
            error
          ) : echo ? (
            <>
              Server accepted token gen <b>{echo.gen}</b> for {echo.sub}
              {answeredAt !== undefined && <span className="muted"> · {clock(answeredAt)}</span>}
            </>
          ) : state === 'idle' ? (
            'Press “Call /api/echo”.'
          ) : (
            ' '
          )}
        </p>
        {state !== 'idle' && <p className="tile-meta">{describeAttempts(check)}</p>}
      </article>
      <button className="button secondary" data-testid="fetch-call" onClick={() => void run()}>
        Call /api/echo
      </button>
    </div>
  );
}

export const panel: DemoPanel = {
  id: 'fetch',
  title: 'fetch widget',
  subtitle: 'Outside Redux: React state and authFetch',
  column: 'side',
  order: 20,
  Component: FetchWidget,
};
