/**
 * The clients beside the epics: an RTK Query API (panels/RtkQueryPanel.tsx) and a plain `fetch`
 * widget (panels/FetchWidget.tsx), both on the one `auth` of ../auth.ts. This file holds what they
 * share with the rest of the dashboard:
 * - "Load from every client": one signal that the RTK Query panel and the fetch widget answer next
 *   to the epics' "Load everything", so that a single click puts every client on the same refresh;
 * - the actions that put their calls and attempts in the activity panel, like the epics' own.
 * Neither is needed to use the adapters; they only make each attempt visible.
 */
import { createAction } from '@reduxjs/toolkit';
import { tokenInfo } from '../auth';
import { nextRequestNumber } from './numbers';

export type ClientId = 'rtk-query' | 'fetch';
export const CLIENT_LABELS: Record<ClientId, string> = { 'rtk-query': 'RTK Query', fetch: 'fetch' };

// ---------------------------------------------------------------------------------------------
// Signals between components that share no state: a button in a card's header and the card's body

export interface Signal {
  emit(): void;
  /** Returns the unsubscribe, so `useEffect(() => signal.subscribe(listener), [listener])` fits. */
  subscribe(listener: () => void): () => void;
}

export function createSignal(): Signal {
  const listeners = new Set<() => void>();
  return {
    emit: () => [...listeners].forEach((listener) => listener()),
    subscribe: (listener) => {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
  };
}

/**
 * "Load from every client": the Workspace's button dispatches `loadEverything()` for the epics and
 * emits this, which the RTK Query panel and the fetch widget answer at once, in the same click.
 */
export const loadFromEveryClient = createSignal();

// ---------------------------------------------------------------------------------------------
// Activity: one call, its attempts, its end

/** A call of a client. `waiting`: started while a refresh ran, so it waits for the new token. */
export const clientCallStarted = createAction('clients/callStarted', (client: ClientId, key: string, path: string, waiting: boolean) => {
  const n = nextRequestNumber();
  return { payload: { call: `${client}-${n}`, n, client, key, path, waiting } };
});
export const clientSent = createAction<{ call: string; attempt: number; gen: number | null }>('clients/sent');
export const clientRejected = createAction<{ call: string; attempt: number; status: number; message: string }>('clients/rejected');
export const clientSucceeded = createAction<{ call: string }>('clients/succeeded');
export const clientFailed = createAction<{ call: string; error: { name: string; message: string } }>('clients/failed');

/** The token generation an attempt carried, read from its `Authorization` header. */
export function genOf(headers: HeadersInit | undefined): number | null {
  const authorization = new Headers(headers).get('Authorization');
  return tokenInfo(authorization?.replace(/^(Bearer|DPoP) /, ''))?.gen ?? null;
}

/** What the tiles show of one call's attempts, as the Workspace tiles do. */
export interface Attempts {
  /** Token generation carried by each attempt. */
  gens: Array<number | null>;
  unauthorized: number;
  waited: boolean;
}

/** "401 with gen 1, replayed with gen 2", "waited for the refresh, sent with gen 2". */
export function describeAttempts({ gens, unauthorized, waited }: Attempts): string {
  const [first, ...replays] = gens.map((gen) => `gen ${gen ?? '?'}`);
  if (first === undefined) return waited ? 'waiting for the refresh, not sent' : 'not sent';
  const sent = waited ? `waited for the refresh, sent with ${first}` : `sent with ${first}`;
  if (unauthorized === 0) return sent;
  const rejected = waited ? `${sent}: 401` : `401 with ${first}`;
  return replays.length > 0 ? `${rejected}, replayed with ${replays.join(', ')}` : rejected;
}
