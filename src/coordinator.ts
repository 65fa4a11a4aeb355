import type { UnknownAction } from './reduxTypes';
import { EMPTY, Observable, concat, defer, throwError, type SchedulerLike, type Subscriber, type Subscription } from 'rxjs';
import type { AuthActions, EndReason, RefreshReason, SessionEnd, SessionTimes } from './actions';
import {
  EpicNotRunningError,
  LoggedOutError,
  NotAuthenticatedError,
  RefreshUnavailableError,
  TokenRefreshError,
  isRefusal,
  serializeError,
  type SerializedAuthError,
} from './errors';
import type { AuthStatus, TokenRefreshState } from './reducer';
import { guardStorage, type StorageOperation } from './storage/guarded';
import { isThenable, type TokenStorage } from './storage/types';
import { devWarn } from './tabs';
import { newIdentity, subjectOf, toSession, type Identity, type Session, type StoredTokens, type Tokens } from './tokens';

/**
 * One refresh (or restore) and everyone waiting for it. Waiters are a Set, not subscribers to
 * `action$`: adding and removing one is O(1), so 100,000 waiting requests cost one pass when it settles.
 */
export interface RefreshCycle {
  /** The access token this cycle replaces; none for a restore. */
  readonly accessToken: string | undefined;
  /** The refresh token this cycle spends; none in cookie mode. */
  readonly refreshToken: string | undefined;
  /** Completes when the requests may ask for a token again; errors with the reason they fail. */
  readonly wait$: Observable<never>;
}

interface Cycle extends RefreshCycle {
  waiters: Set<Subscriber<never>>;
  settled: boolean;
  error: unknown;
  run?: Subscription;
  /** A restore asked for before `auth.epic` ran: it runs when the epic attaches. */
  queued?: boolean;
  /** Why the refresh could not be done, even if its waiters went on with a still-valid token. */
  failure?: unknown;
  /** Reading an async storage at start, not a refresh. */
  hydration?: boolean;
  /** The EpicNotRunningError timer of a queued cycle, started when the first request waits on it. */
  timer?: Subscription;
}

/** Starts the refresh call for a cycle and reports back through `succeed` or `fail`. */
export type RefreshRunner = (cycle: RefreshCycle) => Subscription;

export interface CoordinatorConfig {
  storage: TokenStorage;
  actions: AuthActions;
  now: () => number;
  expirySkewMs: number;
  /** The first cool-down after a refresh could not be done; it doubles, up to 30 s. */
  retryBackoffMs: number;
  /** The refresh token lives in an HttpOnly cookie: none is kept, and a session can be restored from it. */
  cookie: boolean;
  /** How long reading an async storage at start may take before the app starts logged out. */
  hydrationTimeoutMs: number;
  scheduler: SchedulerLike;
}

/** The coordinator as the epic, the operator and the factory see it. */
export interface RefreshCoordinator {
  readonly accessToken: string | undefined;
  /** The login the current token belongs to. */
  readonly identity: Identity | undefined;
  /** The storage, guarded: what the epic reads under the cross-tab lock. */
  readonly storage: ReturnType<typeof guardStorage>;
  /** The storage's cross-tab lock, if it has one. */
  readonly lock: TokenStorage['lock'];
  /**
   * Under the cross-tab lock, before spending the refresh token: if storage holds newer tokens of
   * this login (another tab refreshed) or another login's, take them instead. True if it did.
   */
  adoptStored(cycle: RefreshCycle): boolean;
  status(): AuthStatus;
  /** The store's state for `action`: the coordinator's own state, whatever the action says. */
  project(action: UnknownAction): TokenRefreshState;
  /**
   * The token to send now, or an observable to wait on before asking again (a refresh or restore is
   * running, or the token is known to expire within the skew). `owner` is the login the request
   * started in: once that has ended, this throws why, so a request never runs in another session.
   * Throws `NotAuthenticatedError` without a session, `RefreshUnavailableError` during the
   * cool-down after a refresh could not be done, `EpicNotRunningError` when nobody can refresh.
   */
  acquire(owner?: Identity): string | Observable<never>;
  /**
   * The API rejected `accessToken`. Starts a refresh only if it is still the current token and no
   * refresh is running: a late 401 for a token already replaced, or a second 401 during a refresh,
   * starts nothing. The caller then acquires again. Throws if `owner`'s session has ended.
   */
  rejected(accessToken: string, owner?: Identity): void;
  /** Refresh now (or join the running refresh); in cookie mode without a session, restore. */
  refresh(reason: RefreshReason): Observable<never>;
  /** Completes once a stored or cookie session is known to exist or not. */
  restore(): Observable<never>;
  /** The network or the page came back: retry a refresh that could not be done. */
  wake(reason: 'online' | 'visible'): void;
  /** A login. Requests waiting for a refresh go on with these tokens if it is the same user. */
  setTokens(tokens: Tokens, sameUser?: boolean): void;
  /** End the session: tokens cleared, the running refresh cancelled, waiting requests fail with `LoggedOutError`. */
  logout(announce: boolean): void;
  /** The runner's report: the refresh of `cycle` answered with `tokens`. */
  succeed(cycle: RefreshCycle, tokens: Tokens): void;
  /** The runner's report: `RefreshUnavailableError` keeps the session, anything else ends it. */
  fail(cycle: RefreshCycle, error: unknown): void;
  /** `auth.epic` registers here while it runs; only one at a time. Returns the detach function. */
  attach(runner: RefreshRunner, output: (action: UnknownAction) => void): (() => void) | null;
  /** Whether the coordinator emitted this action (rather than somebody dispatching it by hand). */
  isOwn(action: unknown): boolean;
}

/** A user logout in this tab, as a hand-dispatched `loggedOut` shows it before the epic performs it. */
const LOGOUT: SessionEnd = { reason: 'logout', elsewhere: false };

/**
 * Where a refresh is decided: the session as a small state machine.
 *
 * | status | session | left by |
 * | --- | --- | --- |
 * | restoring | none yet | stored tokens read, or the cookie's refresh answered |
 * | authenticated | yes | a 401 or a known expiry → refreshing; logout |
 * | refreshing | yes (old) | tokens → authenticated; the server says no → unauthenticated; could not refresh → unavailable |
 * | unavailable | yes (kept) | a request after the cool-down, `online`, the page visible → refreshing; logout |
 * | unauthenticated | none | a login |
 *
 * Every transition is told to the store as an action, emitted after the state changed, so the
 * reducer (a projection of this state) and the action always agree. A session ends only by a logout
 * or a definitive answer of the refresh endpoint. A closure rather than a class: its state is private
 * for real, and minifies to short names.
 */
export function createCoordinator({
  storage,
  actions,
  now,
  expirySkewMs,
  retryBackoffMs,
  cookie,
  hydrationTimeoutMs,
  scheduler,
}: CoordinatorConfig): RefreshCoordinator {
  const own = new WeakSet<object>();
  let output: ((action: UnknownAction) => void) | null = null;
  /** The last action emitted while no `auth.epic` ran (`setTokens` before `epicMiddleware.run`, a hot reload). */
  let pending: UnknownAction | null = null;
  /** What the reducer last showed the store. */
  let shown: TokenRefreshState | null = null;
  let session: Session | null = null;
  let cycle: Cycle | null = null;
  let runner: RefreshRunner | null = null;
  /** Set while refreshes cannot be done (offline): why, and not before when the next may start. */
  let outage: { error: RefreshUnavailableError; retryAt: number; failures: number } | null = null;
  let lastError: SerializedAuthError | null = null;
  /** The current token once the API said 401 to it: never sent again. */
  let rejectedToken: string | undefined;
  /** The access token storage holds, as far as this tab knows (its last write, read or storage event). */
  let seen: string | undefined;
  /** The token a refresh was started for before it expired. Never a second time of our own accord. */
  let proactive: string | undefined;
  /** Why the last session ended, for the store. */
  let ended: SessionEnd | null = null;
  /** Logins this tab saw end: a late write of one (another tab's refresh racing a logout) is never adopted. */
  const over = new Set<string>();

  const emit = (action: UnknownAction) => {
    own.add(action);
    if (output) output(action);
    else pending = action;
  };
  const report = (operation: StorageOperation, error: unknown) => {
    try {
      if (process.env.NODE_ENV !== 'production')
        devWarn(`storage.${operation}() failed (${(error as Error)?.name}); the session goes on in memory.`);
    } catch {
      // no `process` (an ES module loaded without a bundler): no development warnings
    }
    emit(actions.storageFailed({ operation, error: serializeError(error) }));
  };
  const store = guardStorage(storage, report);
  const expiry = (next: Session | null): SessionTimes => ({
    expiresAt: next?.expiresAt ?? null,
    // A token that expired in storage is refreshed before it is sent (-Infinity): not a time to wait for.
    refreshAt: next && Number.isFinite(next.refreshAt) ? next.refreshAt : null,
  });

  function load(tokens: Tokens | null, identity: Identity, fresh: boolean): Session | null {
    try {
      return tokens ? toSession(tokens, null, now(), expirySkewMs, identity, fresh, cookie) : null;
    } catch {
      return null; // unreadable or tampered tokens in storage: no session, never state
    }
  }

  function open(): Cycle {
    const waiters = new Set<Subscriber<never>>();
    const opened: Cycle = {
      accessToken: session?.accessToken,
      refreshToken: session?.refreshToken,
      waiters,
      settled: false,
      error: null,
      wait$: new Observable<never>((subscriber) => {
        // A refresh can settle synchronously (a cached or mocked answer) before anyone subscribed.
        if (opened.settled) return opened.error ? subscriber.error(opened.error) : subscriber.complete();
        // Queued for an epic that may never run: after refreshTimeoutMs its waiters learn why.
        if (opened.queued) {
          opened.timer ??= scheduler.schedule(
            () => opened.queued && cycle === opened && end(new EpicNotRunningError(), 'noSession', false, false),
            hydrationTimeoutMs,
          );
        }
        waiters.add(subscriber);
        return () => waiters.delete(subscriber);
      }),
    };
    return (cycle = opened);
  }

  function run(started: Cycle): void {
    const subscription = runner!(started);
    if (cycle === started) started.run = subscription;
  }

  /** The current token may be sent: not refused by the API, and not due for a refresh we have not tried yet. */
  function usable(at = now()): boolean {
    return (
      !!session &&
      session.accessToken !== rejectedToken &&
      (at < session.refreshAt || (proactive === session.accessToken && at < session.expiresAt!))
    );
  }

  function start(reason: RefreshReason): Cycle {
    // A restore asked for before `epicMiddleware.run` waits for the epic; a refresh cannot.
    if (!runner && reason !== 'restore') throw new EpicNotRunningError();
    // A token refreshed before it expired: if that refresh cannot be done, it is still sent until
    // it expires, and never refreshed early again of our own accord.
    if (session && session.accessToken !== rejectedToken && !(session.expiresAt! <= now())) proactive = session.accessToken;
    const started = open();
    // Queued for `auth.epic`: the store hears of it when it really starts.
    if ((started.queued = !runner)) return started;
    emit(actions.refreshRequested({ reason }));
    // Whoever saw that action may have logged out (or in) at once: then there is nothing to refresh.
    if (cycle === started) run(started);
    return started;
  }

  /** Releases the waiters of a cycle that `cycle` no longer points to: they ask again, or fail. */
  function release(done: Cycle | null, error: unknown): void {
    if (!done) return;
    done.settled = true;
    done.error = error;
    done.run?.unsubscribe();
    done.timer?.unsubscribe();
    for (const waiter of done.waiters) {
      if (error) waiter.error(error);
      else waiter.complete();
    }
  }

  /**
   * A session from a login, a refresh, a restore or another tab: state first, then the actions, then
   * the waiters. A session of another login that it replaces ends, and every tab hears why.
   */
  function establish(next: Session, action: UnknownAction, persist: boolean, elsewhere = false, restored = false): void {
    const done = cycle;
    const previous = session?.identity;
    cycle = null;
    session = next;
    outage = null;
    lastError = null;
    ended = null;
    rejectedToken = undefined;
    if (persist) {
      const stored: StoredTokens = {
        accessToken: next.accessToken,
        refreshToken: next.refreshToken,
        expiresAt: next.expiresAt,
        sessionId: next.identity.id,
        version: ++next.identity.version,
      };
      if (restored) stored.restored = true;
      // Storage must not keep tokens we have moved on from: a previous user's, or a spent refresh token.
      if (store.set(stored)) seen = next.accessToken;
      else store.clear();
    }
    if (previous && previous !== next.identity) {
      previous.ended ??= new LoggedOutError();
      over.add(previous.id);
      emit(actions.loggedOut({ reason: 'otherUser', elsewhere }));
    }
    emit(action);
    release(done, null);
  }

  /**
   * The session ends: its requests still in flight fail with `error`, never replayed in another.
   * `loggedOut` says why to this tab's store; `clear` tells the other tabs, through storage, too.
   */
  function end(error: unknown, reason: EndReason, elsewhere: boolean, clear: boolean, announce = true, before?: UnknownAction): void {
    const done = cycle;
    cycle = null;
    if (session) {
      session.identity.ended = error;
      over.add(session.identity.id);
    }
    session = null;
    outage = null;
    rejectedToken = undefined;
    ended = { reason, elsewhere };
    if (clear) {
      store.clear(reason);
      seen = undefined;
    }
    if (before) emit(before);
    if (announce) emit(actions.loggedOut(ended));
    release(done, error);
  }

  /** A logout here (`announce`: not already dispatched as `loggedOut`), or the news of one from another tab. */
  function logout(announce: boolean, reason: EndReason = 'logout', elsewhere = false): void {
    if (!session && !cycle && !outage) return;
    lastError = null;
    // Told by another tab: clear storage again (the tab where other code cleared it heard nothing),
    // unless it holds another login's tokens by now. A late write of this login goes too.
    const kept = (elsewhere ? store.get() : null) as StoredTokens | null;
    const clear =
      !elsewhere ||
      isThenable(kept) ||
      !kept?.accessToken ||
      (kept.sessionId !== undefined && (over.has(kept.sessionId) || kept.sessionId === session?.identity.id));
    end(new LoggedOutError(), reason, elsewhere, clear, announce);
  }

  /** A login: the same identity if it is the same user (JWT `sub`, or the app says so), else the old session ends. */
  function identityFor(tokens: Tokens, sameUser: boolean): Identity {
    if (session && (sameUser || (subjectOf(session.accessToken) ?? 0) === (subjectOf(tokens.accessToken) ?? 1))) return session.identity;
    if (session) session.identity.ended = new LoggedOutError();
    return newIdentity();
  }

  /**
   * Tokens another tab stored: a newer version of this login (its refresh: same identity, requests
   * go on), another login (this one ends: its requests fail, never replayed with those tokens), or
   * nothing new (our own, or older than ours because a write of ours failed). Tokens stored without
   * a session id count as another login unless the JWT `sub` is the same.
   */
  function adopt(tokens: StoredTokens | null): Session | null {
    if (!tokens || tokens.accessToken === session?.accessToken) return null;
    // A login this tab saw end (a logout racing another tab's refresh): its late tokens are stale.
    if (tokens.sessionId !== undefined && over.has(tokens.sessionId)) return null;
    const mine = session?.identity;
    const theirs = subjectOf(tokens.accessToken);
    const ours = session && subjectOf(session.accessToken);
    // One login: the same id; or the same user (JWT `sub`), as for a second login in this tab; or,
    // without a `sub` to tell, a restore from the cookie the tabs share, which continues our login.
    const same =
      mine &&
      (tokens.sessionId === mine.id ||
        (theirs !== undefined && ours !== undefined ? theirs === ours : !!tokens.restored && tokens.sessionId !== undefined));
    if (same && tokens.sessionId === mine.id && (tokens.version ?? Infinity) <= mine.version) return null;
    // Fresh for the half-lifetime rule: the other tab just got them, and 20 s tokens alternating
    // between two tabs must not refresh on every request.
    const next = load(tokens, same ? mine : newIdentity(tokens), true);
    if (!next) return null;
    if (same) {
      // Both tabs now name this login by the id it was stored with, so later writes are news to both.
      if (tokens.sessionId !== undefined) mine.id = tokens.sessionId;
      mine.version = tokens.version ?? mine.version;
    }
    return next;
  }

  function fail(failed: RefreshCycle, error: unknown): void {
    if (failed !== cycle) return;
    if (error instanceof RefreshUnavailableError) {
      cycle = null;
      (failed as Cycle).failure = error;
      const failures = (outage?.failures ?? 0) + 1;
      outage = { error, failures, retryAt: now() + Math.min(retryBackoffMs * 2 ** failures, 30_000) };
      lastError = serializeError(error);
      emit(actions.refreshUnavailable({ error: lastError }));
      // Waiters whose token is still good go on with it; the others learn it cannot be had now.
      return release(failed as Cycle, usable() ? null : error);
    }
    // Recorded for `auth.refresh()`, which rejects with it even when its waiters went on.
    (failed as Cycle).failure = error;
    lastError = null;
    // A restore the server said no to: there is no session, which is no error. Waiters ask again
    // and get NotAuthenticatedError.
    if (!session) return end(null, 'noSession', false, false);
    lastError = serializeError(error);
    // Storage is cleared only if it still holds the session that failed: another tab may have
    // stored a good one meanwhile.
    const kept = store.get();
    const clear = isThenable(kept) || kept?.accessToken === failed.accessToken;
    end(error, isRefusal(error) ? 'rejected' : 'refreshError', false, clear, true, actions.refreshFailed({ error: lastError }));
  }

  function status(): AuthStatus {
    return cycle ? (session ? 'refreshing' : 'restoring') : outage ? 'unavailable' : session ? 'authenticated' : 'unauthenticated';
  }

  // Tokens already stored: at once from a synchronous storage, or after hydration from an async one,
  // during which the status is `restoring` and requests wait.
  const stored = store.get();
  if (isThenable(stored)) {
    const hydration = open();
    hydration.hydration = true;
    const hydrate = (tokens: StoredTokens | null) => {
      if (cycle !== hydration) return; // a login or a logout came first, or the timeout
      const restored = load(tokens, newIdentity(tokens ?? undefined), false);
      if (restored) establish(restored, actions.tokensSet(expiry(restored)), false);
      else end(null, 'noSession', false, false);
    };
    // A storage that never answers (IndexedDB blocked by another tab) must not hold every request.
    const timer = scheduler.schedule(() => {
      if (cycle !== hydration) return;
      const error = new Error(`storage.get() did not answer within ${hydrationTimeoutMs} ms`);
      error.name = 'TimeoutError';
      report('get', error);
      hydrate(null);
    }, hydrationTimeoutMs);
    // guardStorage turned a rejection into null: this promise never rejects.
    void stored.then((tokens) => (timer.unsubscribe(), hydrate(tokens)));
  } else {
    session = load(stored, newIdentity(stored ?? undefined), false);
    seen = stored?.accessToken;
    // In cookie mode a page starts not knowing whether it has a session: it is `restoring`, requests
    // wait, and the cookie is asked once `auth.epic` runs. `auth.restore()` joins that. Only in a
    // browser document: a server (one auth per request, no epic) has no cookie of its own to ask.
    if (!session && cookie && typeof document === 'object') start('restore');
  }

  // Another tab changed the shared storage: it logged out, logged in, or refreshed. Its tokens
  // replace ours and end a refresh we were running; the store hears of it like of a login.
  storage.subscribe?.((tokens, reason = 'storageCleared') => {
    if (!tokens) return logout(true, reason, true);
    seen = tokens.accessToken;
    const adopted = adopt(tokens);
    if (adopted)
      establish(
        adopted,
        (adopted.identity === session?.identity ? actions.refreshSucceeded : actions.tokensSet)(expiry(adopted)),
        false,
        true,
      );
  });

  return {
    get accessToken() {
      return session?.accessToken;
    },
    get identity() {
      return session?.identity;
    },
    storage: store,
    lock: storage.lock?.bind(storage),
    adoptStored(current) {
      const found = store.get() as StoredTokens | null;
      // Only news counts: what storage held when we last wrote or heard is ours, or a previous user's
      // left behind by a write that failed.
      if (current !== cycle || isThenable(found)) return false;
      // Our tokens are gone from a storage the tabs share, and no tab said why: other code cleared
      // it. The session ends here as it did in the tabs that heard of it.
      if (!found?.accessToken && storage.subscribe && session && seen === session.accessToken) {
        end(new LoggedOutError(), 'storageCleared', true, true);
        return true;
      }
      const adopted = found?.accessToken !== seen ? adopt(found) : null;
      if (adopted) seen = found!.accessToken;
      if (adopted)
        establish(
          adopted,
          (adopted.identity === session?.identity ? actions.refreshSucceeded : actions.tokensSet)(expiry(adopted)),
          false,
          true,
        );
      return !!adopted;
    },
    status,
    project(action) {
      const idle = actions.loggedOut.match(action) && !own.has(action) && runner;
      return (shown = {
        status: idle ? 'unauthenticated' : status(),
        ...expiry(idle ? null : session),
        lastError: idle ? null : lastError,
        ended: idle ? LOGOUT : ended,
      });
    },
    acquire(owner) {
      // eslint-disable-next-line @typescript-eslint/only-throw-error -- what its session ended with: a LoggedOutError or a TokenRefreshError
      if (owner && owner !== session?.identity) throw owner.ended ?? new LoggedOutError();
      if (cycle) return cycle.wait$;
      const at = now();
      if (usable(at)) return session!.accessToken;
      if (outage) {
        if (at < outage.retryAt) throw outage.error;
        return start(!session ? 'restore' : rejectedToken ? 'unauthorized' : 'expired').wait$;
      }
      if (!session) throw new NotAuthenticatedError();
      return start('expired').wait$;
    },
    rejected(accessToken, owner) {
      // eslint-disable-next-line @typescript-eslint/only-throw-error -- what its session ended with: a LoggedOutError or a TokenRefreshError
      if (owner && owner !== session?.identity) throw owner.ended ?? new LoggedOutError();
      if (session?.accessToken !== accessToken) return;
      rejectedToken = accessToken;
      if (!cycle && !(outage && now() < outage.retryAt)) start('unauthorized');
    },
    refresh(reason): Observable<never> {
      // Join the running cycle, and say how it really ended: its waiters may have gone on with a
      // still-valid token although the refresh could not be done. After a hydration, refresh.
      const joined = cycle ?? (!session && !cookie ? null : start(session ? reason : 'restore'));
      if (!joined) throw new NotAuthenticatedError();
      return concat(
        joined.wait$,
        defer(() => (joined.failure ? throwError(() => joined.failure) : joined.hydration ? this.refresh(reason) : EMPTY)),
      );
    },
    restore(): Observable<never> {
      // Join what runs: after a hydration, in cookie mode and still without a session, ask the
      // cookie; after a restore or a refresh, its outcome is the answer (no second ask).
      const joined = cycle;
      if (joined)
        return concat(
          joined.wait$,
          defer(() => (joined.hydration ? this.restore() : EMPTY)),
        );
      return session || !cookie ? EMPTY : start('restore').wait$;
    },
    wake(reason) {
      if (outage && !cycle && runner) start(session ? reason : 'restore');
    },
    setTokens(tokens, sameUser = false) {
      const next = toSession(tokens, null, now(), expirySkewMs, newIdentity(), true, cookie); // throws before anything changes
      establish({ ...next, identity: identityFor(tokens, sameUser) }, actions.tokensSet(expiry(next)), true);
    },
    logout,
    succeed(done, tokens) {
      if (done !== cycle) return; // cancelled by a logout or a login: these tokens are stale
      let next: Session;
      try {
        next = toSession(tokens, session, now(), expirySkewMs, session?.identity ?? newIdentity(), true, cookie);
      } catch (error) {
        return fail(done, new TokenRefreshError((error as Error).message, { cause: error }));
      }
      establish(next, (session ? actions.refreshSucceeded : actions.tokensSet)(expiry(next)), true, false, !session);
    },
    fail,
    attach(next, out) {
      if (runner) return null;
      runner = next;
      output = out;
      const flushed = pending;
      pending = null;
      // Only if a store saw an older state: a store created after `setTokens` starts right, and an
      // epic marble-tested without a store should not emit what nobody needs.
      if (flushed && shown && (shown.status !== status() || shown.expiresAt !== (session?.expiresAt ?? null))) out(flushed);
      const queued = cycle;
      if (queued?.queued) {
        queued.queued = false;
        emit(actions.refreshRequested({ reason: 'restore' }));
        if (cycle === queued) run(queued);
      }
      // Detaching (a hot reload of the root epic, a store replaced) does not cancel the refresh in
      // flight: the server may have rotated the refresh token already, and dropping its answer would
      // spend the session. Its tokens are stored and its waiters go on; the next epic shows the store.
      return () => {
        runner = null;
        output = null;
      };
    },
    isOwn: (action) => typeof action === 'object' && action !== null && own.has(action),
  };
}
