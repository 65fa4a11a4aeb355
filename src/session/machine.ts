import type { AuthActions, EndReason, RefreshReason, SessionEnd, SessionTimes } from '../actions';
import {
  EpicNotRunningError,
  LoggedOutError,
  NotAuthenticatedError,
  RefreshUnavailableError,
  TokenRefreshError,
  isRefusal,
  serializeError,
  type SerializedAuthError,
} from '../errors';
import type { UnknownAction } from '../reduxTypes';
import { subjectOf, toSession, type Identity, type Session, type StoredTokens, type Tokens } from '../tokens';

/** Refreshes cannot be done now (offline): why, and not before when the next may start. */
export interface Outage {
  readonly error: RefreshUnavailableError;
  /** `error` as the store shows it. */
  readonly lastError: SerializedAuthError;
  readonly retryAt: number;
  /** How many refreshes in a row could not be done: the cool-down doubles with each, up to 30 s. */
  readonly failures: number;
}

/** What a state with a session knows about its token. */
interface Held {
  readonly session: Session;
  /** The current token once the API said 401 to it: never sent again. */
  readonly rejected?: string;
  /** The token a refresh was started for before it expired: never refreshed early again of our own accord. */
  readonly proactive?: string;
  readonly ended?: undefined;
}

/** A state without a session, and why the last one ended. */
interface Free {
  readonly session?: undefined;
  readonly rejected?: undefined;
  readonly proactive?: undefined;
  readonly ended: SessionEnd | null;
}

/**
 * The session. Each state carries only what it needs: "refreshing without a session" or "a
 * rejected token without a session" cannot be written down.
 *
 * | status | session | left by |
 * | --- | --- | --- |
 * | restoring | none yet | stored tokens read, or the cookie's refresh answered → authenticated; none → unauthenticated; could not ask → unavailable |
 * | authenticated | yes | a 401 or a known expiry → refreshing |
 * | refreshing | yes (old) | tokens → authenticated; the server says no → unauthenticated; could not refresh → unavailable |
 * | unavailable | kept, if any | a request after the cool-down, `online`, the page visible → refreshing (restoring without a session) |
 * | unauthenticated | none | a restore from the cookie → restoring |
 *
 * From every state a login (or another tab's tokens) leads to authenticated, and a logout to
 * unauthenticated.
 */
export type State =
  | (Free & {
      readonly status: 'restoring';
      /** Asked for before `auth.epic` ran: it runs when the epic attaches. */
      readonly queued: boolean;
      /** Reading an async storage at start, not a refresh. */
      readonly hydration: boolean;
      readonly outage?: Outage;
    })
  | (Held & { readonly status: 'authenticated'; readonly outage?: undefined })
  | (Held & { readonly status: 'refreshing'; readonly outage?: Outage })
  | ((Held | Free) & { readonly status: 'unavailable'; readonly outage: Outage })
  | (Free & { readonly status: 'unauthenticated'; readonly outage?: undefined; readonly lastError: SerializedAuthError | null });

/** What happens to the session: from the app, the API, the refresh runner, storage and other tabs. */
export type Event =
  /** `setTokens`: `session` is validated, with a new identity that the same user's login does not take. */
  | { readonly type: 'login'; readonly session: Session; readonly sameUser: boolean }
  /** An async storage answered at start (`null`: nothing stored, or it timed out). */
  | { readonly type: 'hydrated'; readonly tokens: StoredTokens | null }
  /** The API said 401 to `token`. */
  | { readonly type: 'rejected'; readonly token: string }
  /** A refresh is needed now (or a restore, without a session). */
  | { readonly type: 'refresh'; readonly reason: RefreshReason }
  /** `auth.epic` is running: a restore queued for it starts. */
  | { readonly type: 'attached' }
  /** The network or the page came back. */
  | { readonly type: 'wake'; readonly reason: 'online' | 'visible' }
  /** The refresh endpoint answered with tokens. */
  | { readonly type: 'refreshed'; readonly tokens: Tokens }
  /** The refresh failed: `RefreshUnavailableError` keeps the session, anything else ends it. */
  | { readonly type: 'failed'; readonly error: unknown }
  /** A queued restore waited `refreshTimeoutMs` for an `auth.epic` that never ran. */
  | { readonly type: 'timeout' }
  /**
   * A logout here (`announce`: not already dispatched as `loggedOut`) or in another tab (`elsewhere`);
   * `clear`: storage is to be cleared.
   */
  | {
      readonly type: 'logout';
      readonly reason: EndReason;
      readonly elsewhere: boolean;
      readonly announce: boolean;
      readonly clear: boolean;
    };

/**
 * Every event's `type`, for the tests that draw events from this list (the table test, the property
 * tests). Not used by the package, so bundlers drop it.
 */
export const EVENT_TYPES = [
  'login',
  'hydrated',
  'rejected',
  'refresh',
  'attached',
  'wake',
  'refreshed',
  'failed',
  'timeout',
  'logout',
] as const satisfies ReadonlyArray<Event['type']>;
// Each type of `Event` is in the list: a new event without a test fails the type check.
type Missing = Exclude<Event['type'], (typeof EVENT_TYPES)[number]>;
export const everyEventListed: Missing extends never ? true : Missing = true;

/** What the shell does after a transition, in this order: the state is already set. */
export type Effect =
  /** Store the session's tokens with its identity (and the next version). */
  | { readonly type: 'persist'; readonly session: Session; readonly restored: boolean }
  /** Clear storage; with `ifHolds`, only if it still holds that access token (another tab may have stored a good one). */
  | { readonly type: 'clear'; readonly reason: EndReason; readonly ifHolds?: string }
  | { readonly type: 'emit'; readonly action: UnknownAction }
  /** A refresh or restore begins: requests wait for its outcome from now on. */
  | { readonly type: 'open' }
  /** The runner starts the call (not for a restore queued for `auth.epic`). */
  | { readonly type: 'run' }
  /**
   * The waiters of the cycle that ended go on (`error` null) or fail; `failure` is how the refresh
   * really ended. With `unlessUsable`, they go on if the token is good when they are released: a
   * listener of the actions before may have logged the same user in again.
   */
  | { readonly type: 'release'; readonly error: unknown; readonly failure?: unknown; readonly unlessUsable?: boolean }
  /** A login ended: its requests still in flight fail with `error`, and its late tokens are never adopted. */
  | { readonly type: 'end'; readonly identity: Identity; readonly error: unknown }
  /** Both tabs of one login name it alike from now on, so later writes are news to both. */
  | { readonly type: 'rename'; readonly identity: Identity; readonly id: string; readonly version: number }
  /** The caller gets this error; the state above is kept. */
  | { readonly type: 'throw'; readonly error: unknown };

/** What a transition knows besides the state: the clock and the setup. */
export interface Context {
  readonly now: number;
  readonly actions: AuthActions;
  readonly skewMs: number;
  /** The first cool-down after a refresh could not be done; it doubles, up to 30 s. */
  readonly backoffMs: number;
  /** The refresh token is in an HttpOnly cookie: none is kept, and a session can be restored from it. */
  readonly cookie: boolean;
  /** Whether `auth.epic` runs, so a refresh can start. */
  readonly attached: boolean;
  /** A new login's identity, or the one stored tokens carry. */
  readonly identity: (stored?: StoredTokens) => Identity;
}

export interface Step {
  readonly state: State;
  readonly effects: readonly Effect[];
}

export const stay = (state: State): Step => ({ state, effects: [] });
const emit = (action: UnknownAction): Effect => ({ type: 'emit', action });

/** Whether a refresh or restore is running: requests wait for it. */
export const running = (state: State): boolean => state.status === 'refreshing' || state.status === 'restoring';

/** When the session's token expires and is due, as the store and the scheduled-refresh epic see them. */
export function timesOf(session: Session | undefined): SessionTimes {
  return {
    expiresAt: session?.expiresAt ?? null,
    // A token that expired in storage is refreshed before it is sent (-Infinity): not a time to wait for.
    refreshAt: session && Number.isFinite(session.refreshAt) ? session.refreshAt : null,
  };
}

/** The last error as the store shows it. */
export const lastErrorOf = (state: State): SerializedAuthError | null =>
  state.status === 'unauthenticated' ? state.lastError : (state.outage?.lastError ?? null);

/** The current token may be sent: not refused by the API, and not due for a refresh not tried yet. */
export function usable(state: State, now: number): boolean {
  const { session } = state;
  return (
    !!session &&
    session.accessToken !== state.rejected &&
    (now < session.refreshAt || (state.proactive === session.accessToken && now < session.expiresAt!))
  );
}

/**
 * What a request gets now: the token, `null` to wait for the running cycle, a reason to start one,
 * or the error it fails with.
 */
export function decide(state: State, now: number): string | null | { start: RefreshReason } | Error {
  if (running(state)) return null;
  if (usable(state, now)) return state.session!.accessToken;
  const { outage, session } = state;
  if (outage && now < outage.retryAt) return outage.error;
  return session || outage ? { start: !session ? 'restore' : state.rejected ? 'unauthorized' : 'expired' } : new NotAuthenticatedError();
}

/** Stored tokens as a session, or none: unreadable or tampered tokens in storage are no session, never state. */
export function load(tokens: StoredTokens | null, identity: Identity, ctx: Context, fresh: boolean): Session | null {
  try {
    return tokens ? toSession(tokens, null, ctx.now, ctx.skewMs, identity, fresh, ctx.cookie) : null;
  } catch {
    return null;
  }
}

/** The state at creation, from what a synchronous storage holds. */
export function initial(stored: StoredTokens | null, ctx: Context): State {
  const session = load(stored, ctx.identity(stored ?? undefined), ctx, false);
  return session ? { status: 'authenticated', session } : { status: 'unauthenticated', ended: null, lastError: null };
}

/**
 * A session from a login, a refresh, a restore or another tab: the actions, then the waiters. A
 * session of another login that it replaces ends, and every tab hears why.
 */
export function establish(
  state: State,
  next: Session,
  ctx: Context,
  persist?: { restored: boolean },
  elsewhere = false,
  effects: Effect[] = [],
): Step {
  const previous = state.session?.identity;
  if (persist) effects.push({ type: 'persist', session: next, ...persist });
  if (previous && previous !== next.identity)
    effects.push(
      { type: 'end', identity: previous, error: new LoggedOutError() },
      emit(ctx.actions.loggedOut({ reason: 'otherUser', elsewhere })),
    );
  return { state: { status: 'authenticated', session: next }, effects };
}

export interface Ending {
  clear?: Omit<Extract<Effect, { type: 'clear' }>, 'type' | 'reason'>;
  announce?: boolean;
  /** The action that says why, before `loggedOut`. */
  before?: UnknownAction;
  lastError?: SerializedAuthError;
  failure?: unknown;
}

/** The session ends: its requests still in flight fail with `error`, never replayed in another. */
export function end(state: State, error: unknown, reason: EndReason, elsewhere: boolean, ctx: Context, how: Ending = {}): Step {
  const ended = { reason, elsewhere };
  const effects: Effect[] = [];
  if (state.session) effects.push({ type: 'end', identity: state.session.identity, error });
  if (how.clear) effects.push({ type: 'clear', reason, ...how.clear });
  if (how.before) effects.push(emit(how.before));
  if (how.announce !== false) effects.push(emit(ctx.actions.loggedOut(ended)));
  effects.push({ type: 'release', error, failure: how.failure });
  return { state: { status: 'unauthenticated', ended, lastError: how.lastError ?? null }, effects };
}

/** A refresh (with a session) or a restore (without) begins; queued for `auth.epic` if it is not running yet. */
function start(state: State, reason: RefreshReason, ctx: Context): Step {
  // A restore asked for before `epicMiddleware.run` waits for the epic; a refresh cannot.
  if (!ctx.attached && reason !== 'restore') return { state, effects: [{ type: 'throw', error: new EpicNotRunningError() }] };
  const { session, outage } = state;
  const next: State = session
    ? {
        status: 'refreshing',
        session,
        rejected: state.rejected,
        // A token refreshed before it expired: if that refresh cannot be done, it is still sent until
        // it expires, and never refreshed early again of our own accord.
        proactive: session.accessToken !== state.rejected && !(session.expiresAt! <= ctx.now) ? session.accessToken : state.proactive,
        outage,
      }
    : { status: 'restoring', queued: !ctx.attached, hydration: false, outage, ended: state.ended };
  // Queued for `auth.epic`: the store hears of it when it really starts.
  return {
    state: next,
    effects: ctx.attached ? [{ type: 'open' }, emit(ctx.actions.refreshRequested({ reason })), { type: 'run' }] : [{ type: 'open' }],
  };
}

/** The transition's own action, then the waiters of the cycle it ended. */
export function withAction(step: Step, action: UnknownAction): Step {
  return { state: step.state, effects: [...step.effects, emit(action), { type: 'release', error: null }] };
}

function fail(state: State, error: unknown, ctx: Context): Step {
  const { session } = state;
  if (error instanceof RefreshUnavailableError) {
    const failures = (state.outage?.failures ?? 0) + 1;
    const outage: Outage = {
      error,
      lastError: serializeError(error),
      failures,
      retryAt: ctx.now + Math.min(ctx.backoffMs * 2 ** failures, 30_000),
    };
    const next: State = session
      ? { status: 'unavailable', session, rejected: state.rejected, proactive: state.proactive, outage }
      : { status: 'unavailable', outage, ended: state.ended };
    // Waiters whose token is still good go on with it; the others learn it cannot be had now.
    return {
      state: next,
      effects: [
        emit(ctx.actions.refreshUnavailable({ error: outage.lastError })),
        { type: 'release', error, failure: error, unlessUsable: true },
      ],
    };
  }
  // A restore the server said no to: there is no session, which is no error. Waiters ask again
  // and get NotAuthenticatedError.
  if (!session) return end(state, null, 'noSession', false, ctx, { failure: error });
  const lastError = serializeError(error);
  // Storage is cleared only if it still holds the session that failed: another tab may have stored
  // a good one meanwhile.
  return end(state, error, isRefusal(error) ? 'rejected' : 'refreshError', false, ctx, {
    clear: { ifHolds: session.accessToken },
    before: ctx.actions.refreshFailed({ error: lastError }),
    lastError,
    failure: error,
  });
}

/**
 * Where a refresh is decided: the next state and what to do about it, for every (state, event).
 * Pure but for `ctx.identity`, which makes a login's random id. Throws only the `TypeError` of
 * tokens that are not tokens, before anything changed.
 */
export function transition(state: State, event: Event, ctx: Context): Step {
  const { session } = state;
  switch (event.type) {
    case 'login': {
      const next = event.session;
      // The same identity if it is the same user (JWT `sub`, or the app says so); else the old session ends.
      const same = session && (event.sameUser || (subjectOf(session.accessToken) ?? 0) === (subjectOf(next.accessToken) ?? 1));
      const step = establish(state, same ? { ...next, identity: session.identity } : next, ctx, { restored: false });
      return withAction(step, ctx.actions.tokensSet(timesOf(next)));
    }
    case 'hydrated': {
      if (state.status !== 'restoring' || !state.hydration) return stay(state);
      const restored = load(event.tokens, ctx.identity(event.tokens ?? undefined), ctx, false);
      return restored
        ? withAction(establish(state, restored, ctx), ctx.actions.tokensSet(timesOf(restored)))
        : end(state, null, 'noSession', false, ctx);
    }
    case 'rejected': {
      if (session?.accessToken !== event.token) return stay(state);
      const marked = { ...state, rejected: event.token } as State;
      // A late 401 during a refresh, or during the cool-down, starts nothing more.
      return running(state) || (state.outage && ctx.now < state.outage.retryAt) ? stay(marked) : start(marked, 'unauthorized', ctx);
    }
    case 'refresh':
      return running(state) ? stay(state) : start(state, session ? event.reason : 'restore', ctx);
    case 'attached':
      return state.status === 'restoring' && state.queued
        ? { state: { ...state, queued: false }, effects: [emit(ctx.actions.refreshRequested({ reason: 'restore' })), { type: 'run' }] }
        : stay(state);
    case 'wake':
      return state.status === 'unavailable' && ctx.attached ? start(state, session ? event.reason : 'restore', ctx) : stay(state);
    case 'refreshed': {
      if (!running(state) || (state.status === 'restoring' && state.hydration)) return stay(state);
      let next: Session;
      try {
        next = toSession(event.tokens, session, ctx.now, ctx.skewMs, session?.identity ?? ctx.identity(), true, ctx.cookie);
      } catch (error) {
        return fail(state, new TokenRefreshError((error as Error).message, { cause: error }), ctx);
      }
      return withAction(
        establish(state, next, ctx, { restored: !session }),
        (session ? ctx.actions.refreshSucceeded : ctx.actions.tokensSet)(timesOf(next)),
      );
    }
    case 'failed':
      return running(state) && !(state.status === 'restoring' && state.hydration) ? fail(state, event.error, ctx) : stay(state);
    case 'timeout':
      return state.status === 'restoring' && state.queued ? end(state, new EpicNotRunningError(), 'noSession', false, ctx) : stay(state);
    case 'logout':
      // Another tab's logout clears storage only if it still holds this login: `clear` says so.
      return state.status === 'unauthenticated'
        ? stay(state)
        : end(state, new LoggedOutError(), event.reason, event.elsewhere, ctx, {
            clear: event.clear ? {} : undefined,
            announce: event.announce,
          });
  }
}
