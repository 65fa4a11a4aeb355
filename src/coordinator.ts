import type { UnknownAction } from './reduxTypes';
import { EMPTY, Observable, concat, defer, throwError, type SchedulerLike, type Subscriber, type Subscription } from 'rxjs';
import type { AuthActions, RefreshReason, SessionEnd } from './actions';
import { LoggedOutError, NotAuthenticatedError, serializeError } from './errors';
import type { AuthStatus, TokenRefreshState } from './reducer';
import {
  decide,
  initial,
  lastErrorOf,
  running,
  timesOf,
  transition,
  usable,
  type Context,
  type Event,
  type State,
  type Step,
} from './session/machine';
import type { SharedStorage } from './tabs/share';
import { guardStorage, type StorageOperation } from './storage/guarded';
import { isThenable, type TokenStorage } from './storage/types';
import { devWarn } from './warn';
import { newIdentity, toSession, type Identity, type StoredTokens, type Tokens } from './tokens';

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

/**
 * How one refresh attempt runs: `once()` calls the refresh endpoint. A storage the tabs share
 * (src/tabs/share.ts) runs it under the cross-tab lock, after taking another tab's newer tokens.
 */
export type Attempt = (cycle: RefreshCycle, once: () => Observable<Tokens>, signal: AbortSignal) => Observable<Tokens>;

/** @internal What an opt-in module (the tabs' shared storage) sees of the coordinator, and how it acts on it. */
export interface Core {
  readonly state: State;
  /** The refresh or restore running now. */
  readonly live: RefreshCycle | null;
  readonly store: ReturnType<typeof guardStorage>;
  /** Logins this tab saw end: a late write of one (another tab's refresh racing a logout) is never adopted. */
  readonly over: ReadonlySet<string>;
  /** The access token storage holds, as far as this tab knows (its last write, read or storage event). */
  seen: string | undefined;
  /** Runs a module's transition and carries out its effects, as for the core's own events. */
  step(next: (state: State, ctx: Context) => Step): void;
  dispatch(event: Event): void;
}

/** The coordinator as the epic, the operator and the factory see it. */
export interface RefreshCoordinator {
  readonly accessToken: string | undefined;
  /** The login the current token belongs to. */
  readonly identity: Identity | undefined;
  /** How a refresh attempt runs, if the storage has a say (the tabs' lock); else it just runs. */
  readonly attempt: Attempt | undefined;
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
 * The shell around the session machine (src/session/machine.ts): it owns what a pure function
 * cannot, the waiters, the timers, the refresh runner, storage and the store's output, and carries
 * out each transition's effects in one order: the state first, then the actions, then the waiters.
 * Every transition is told to the store as an action, emitted after the state changed, so the
 * reducer (a projection of this state) and the action always agree. A closure rather than a class:
 * its state is private for real, and minifies to short names.
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
  let runner: RefreshRunner | null = null;
  /** The refresh or restore running now: set exactly while the state is `refreshing` or `restoring`. */
  let live: Cycle | null = null;
  const over = new Set<string>();
  let state: State;

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
  const context = (): Context => ({
    now: now(),
    actions,
    skewMs: expirySkewMs,
    backoffMs: retryBackoffMs,
    cookie,
    attached: !!runner,
    identity: newIdentity,
  });

  function open(hydration?: boolean): Cycle {
    const waiters = new Set<Subscriber<never>>();
    const opened: Cycle = {
      accessToken: state.session?.accessToken,
      refreshToken: state.session?.refreshToken,
      waiters,
      settled: false,
      error: null,
      hydration,
      wait$: new Observable<never>((subscriber) => {
        // A refresh can settle synchronously (a cached or mocked answer) before anyone subscribed.
        if (opened.settled) return opened.error ? subscriber.error(opened.error) : subscriber.complete();
        // Queued for an epic that may never run: after refreshTimeoutMs its waiters learn why.
        if (state.status === 'restoring' && state.queued && live === opened)
          opened.timer ??= scheduler.schedule(() => live === opened && dispatch({ type: 'timeout' }), hydrationTimeoutMs);
        waiters.add(subscriber);
        return () => waiters.delete(subscriber);
      }),
    };
    return (live = opened);
  }

  /** The waiters of a cycle that ended go on, or fail. */
  function release(done: Cycle | null, error: unknown, failure: unknown): void {
    if (!done) return;
    done.settled = true;
    done.error = error;
    // Recorded for `auth.refresh()`, which rejects with it even when its waiters went on.
    if (failure !== undefined) done.failure = failure;
    done.run?.unsubscribe();
    done.timer?.unsubscribe();
    for (const waiter of done.waiters) {
      if (error) waiter.error(error);
      else waiter.complete();
    }
  }

  /** One transition and its effects. Returns the cycle it opened, if any. */
  function step(next: (state: State, ctx: Context) => Step): Cycle | null {
    const before = live;
    let opened: Cycle | null = null;
    const step = next(state, context());
    state = step.state;
    if (!running(state)) live = null;
    for (const effect of step.effects) {
      switch (effect.type) {
        case 'persist': {
          const { session, restored } = effect;
          const stored: StoredTokens = {
            accessToken: session.accessToken,
            refreshToken: session.refreshToken,
            expiresAt: session.expiresAt,
            sessionId: session.identity.id,
            version: ++session.identity.version,
          };
          if (restored) stored.restored = true;
          // Storage must not keep tokens we have moved on from: a previous user's, or a spent refresh token.
          if (store.set(stored)) core.seen = session.accessToken;
          else store.drop();
          break;
        }
        case 'clear': {
          const kept = effect.ifHolds === undefined || (store.get() as StoredTokens | null);
          if (kept === true || isThenable(kept) || kept?.accessToken === effect.ifHolds) {
            store.clear(effect.reason);
            core.seen = undefined;
          }
          break;
        }
        case 'emit':
          emit(effect.action);
          break;
        case 'open':
          opened = open();
          break;
        case 'run': {
          const started = opened ?? before;
          if (started && live === started) {
            const subscription = runner!(started);
            // Whoever saw `refreshRequested`, or a synchronous answer, may have ended it already.
            if (live === started) started.run = subscription;
          }
          break;
        }
        case 'release':
          release(before, effect.unlessUsable && usable(state, now()) ? null : effect.error, effect.failure);
          break;
        case 'end':
          effect.identity.ended ??= effect.error;
          over.add(effect.identity.id);
          break;
        case 'rename':
          effect.identity.id = effect.id;
          effect.identity.version = effect.version;
          break;
        case 'throw':
          throw effect.error;
      }
    }
    return opened;
  }
  const dispatch = (event: Event) => step((current, ctx) => transition(current, event, ctx));
  const core: Core = {
    get state() {
      return state;
    },
    get live() {
      return live;
    },
    store,
    over,
    seen: undefined,
    step,
    dispatch,
  };

  /** Starts a refresh or restore for `reason` and returns it, or the one running. */
  const begin = (reason: RefreshReason): Cycle => live ?? dispatch({ type: 'refresh', reason })!;

  // Tokens already stored: at once from a synchronous storage, or after hydration from an async one,
  // during which the status is `restoring` and requests wait.
  const stored = store.get();
  if (isThenable(stored)) {
    state = { status: 'restoring', queued: false, hydration: true, ended: null };
    const hydration = open(true);
    const hydrate = (tokens: StoredTokens | null) => live === hydration && dispatch({ type: 'hydrated', tokens });
    // A storage that never answers (IndexedDB blocked by another tab) must not hold every request.
    const timer = scheduler.schedule(() => {
      if (live !== hydration) return;
      const error = new Error(`storage.get() did not answer within ${hydrationTimeoutMs} ms`);
      error.name = 'TimeoutError';
      report('get', error);
      hydrate(null);
    }, hydrationTimeoutMs);
    // guardStorage turned a rejection into null: this promise never rejects.
    void stored.then((tokens) => (timer.unsubscribe(), hydrate(tokens)));
  } else {
    state = initial(stored ?? null, context());
    core.seen = stored?.accessToken;
    // In cookie mode a page starts not knowing whether it has a session: it is `restoring`, requests
    // wait, and the cookie is asked once `auth.epic` runs. `auth.restore()` joins that. Only in a
    // browser document: a server (one auth per request, no epic) has no cookie of its own to ask.
    if (!state.session && cookie && typeof document === 'object') dispatch({ type: 'refresh', reason: 'restore' });
  }

  const attempt = (storage as Partial<SharedStorage>).connect?.(core);

  const logout = (announce: boolean) => void dispatch({ type: 'logout', reason: 'logout', elsewhere: false, announce, clear: true });
  const owned = (owner: Identity | undefined) => {
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- what its session ended with: a LoggedOutError or a TokenRefreshError
    if (owner && owner !== state.session?.identity) throw owner.ended ?? new LoggedOutError();
  };

  return {
    get accessToken() {
      return state.session?.accessToken;
    },
    get identity() {
      return state.session?.identity;
    },
    attempt,
    status: () => state.status,
    project(action) {
      const idle = actions.loggedOut.match(action) && !own.has(action) && runner;
      return (shown = {
        status: idle ? 'unauthenticated' : state.status,
        ...timesOf(idle ? undefined : state.session),
        lastError: idle ? null : lastErrorOf(state),
        ended: idle ? LOGOUT : (state.ended ?? null),
      });
    },
    acquire(owner) {
      owned(owner);
      const next = decide(state, now());
      if (next === null) return live!.wait$;
      if (typeof next === 'string') return next;
      if (next instanceof Error) throw next;
      return begin(next.start).wait$;
    },
    rejected(accessToken, owner) {
      owned(owner);
      dispatch({ type: 'rejected', token: accessToken });
    },
    refresh(reason): Observable<never> {
      // Join the running cycle, and say how it really ended: its waiters may have gone on with a
      // still-valid token although the refresh could not be done. After a hydration, refresh.
      if (!live && !state.session && !cookie) throw new NotAuthenticatedError();
      const joined = begin(reason);
      return concat(
        joined.wait$,
        defer(() => (joined.failure ? throwError(() => joined.failure) : joined.hydration ? this.refresh(reason) : EMPTY)),
      );
    },
    restore(): Observable<never> {
      // Join what runs: after a hydration, in cookie mode and still without a session, ask the
      // cookie; after a restore or a refresh, its outcome is the answer (no second ask).
      const joined = live;
      if (joined)
        return concat(
          joined.wait$,
          defer(() => (joined.hydration ? this.restore() : EMPTY)),
        );
      return state.session || !cookie ? EMPTY : begin('restore').wait$;
    },
    wake(reason) {
      dispatch({ type: 'wake', reason });
    },
    setTokens(tokens, sameUser = false) {
      const next = toSession(tokens, null, now(), expirySkewMs, newIdentity(), true, cookie); // throws before anything changes
      dispatch({ type: 'login', session: next, sameUser });
    },
    logout,
    succeed(done, tokens) {
      if (done === live) dispatch({ type: 'refreshed', tokens }); // else cancelled by a logout or a login: these tokens are stale
    },
    fail(done, error) {
      if (done === live) dispatch({ type: 'failed', error });
    },
    attach(next, out) {
      if (runner) return null;
      runner = next;
      output = out;
      const flushed = pending;
      pending = null;
      // Only if a store saw an older state: a store created after `setTokens` starts right, and an
      // epic marble-tested without a store should not emit what nobody needs.
      if (flushed && shown && (shown.status !== state.status || shown.expiresAt !== (state.session?.expiresAt ?? null))) out(flushed);
      dispatch({ type: 'attached' });
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
