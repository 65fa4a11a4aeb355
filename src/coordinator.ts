import type { UnknownAction } from './reduxTypes';
import { Observable, Subject, type Subscriber, type Subscription } from 'rxjs';
import type { AuthActions, RefreshReason } from './actions';
import { EpicNotRunningError, LoggedOutError, NotAuthenticatedError, TokenRefreshError, serializeError } from './errors';
import type { TokenRefreshState } from './reducer';
import type { TokenStorage } from './storage';
import { toSession, type Session, type Tokens } from './tokens';

/**
 * One refresh and everyone waiting for it. Waiters are a Set, not subscribers to `action$`: adding
 * and removing one is O(1), so 100,000 waiting requests cost one pass when the refresh settles.
 */
export interface RefreshCycle {
  /** The access token this cycle replaces. */
  readonly accessToken: string | undefined;
  /** The refresh token this cycle spends. */
  readonly refreshToken: string | undefined;
  /** Completes when the refresh succeeded; errors with the reason the waiting requests fail. */
  readonly wait$: Observable<never>;
}

interface Cycle extends RefreshCycle {
  waiters: Set<Subscriber<never>>;
  settled: boolean;
  error: unknown;
  run?: Subscription;
}

/** Starts the refresh call for a cycle and reports back through `succeed` or `fail`. */
export type RefreshRunner = (cycle: RefreshCycle) => Subscription;

export interface CoordinatorConfig {
  storage: TokenStorage;
  actions: AuthActions;
  now: () => number;
  expirySkewMs: number;
}

/** The coordinator as the epic, the operator and the factory see it. */
export interface RefreshCoordinator {
  /** The actions for the store; `auth.epic` emits them. */
  readonly actions$: Subject<UnknownAction>;
  readonly accessToken: string | undefined;
  /** The state the reducer starts from. */
  snapshot(): TokenRefreshState;
  /**
   * The token to send now, or an observable to wait on before asking again (a refresh is running,
   * or the token is known to expire within the skew). Throws `NotAuthenticatedError` without a
   * session and `EpicNotRunningError` when a refresh is needed and nobody can run it.
   */
  acquire(): string | Observable<never>;
  /**
   * The API rejected `accessToken`. Starts a refresh only if it is still the current token and no
   * refresh is running: a late 401 for a token already replaced, or a second 401 during a refresh,
   * starts nothing. The caller then acquires again. A 401 that arrives after the session ended
   * with this token (a request in flight when the refresh failed or the user logged out) throws
   * what the waiting requests got, rather than a puzzling `NotAuthenticatedError`.
   */
  rejected(accessToken: string): void;
  /** Refresh now (or join the running refresh). Completes when it succeeded. */
  refresh(reason: RefreshReason): Observable<never>;
  /** Store tokens from a login. Requests waiting for a refresh are replayed with them. */
  setTokens(tokens: Tokens): void;
  /**
   * End the session: tokens cleared, the running refresh cancelled (its tokens, if they still
   * arrive, are discarded), waiting requests fail with `LoggedOutError`. Idempotent.
   */
  logout(announce: boolean): void;
  /** The runner's report: the refresh of `cycle` answered with `tokens`. */
  succeed(cycle: RefreshCycle, tokens: Tokens): void;
  /** The runner's report: the refresh of `cycle` failed for good. */
  fail(cycle: RefreshCycle, error: unknown): void;
  /** `auth.epic` registers here while it runs; only one runner at a time. */
  attach(runner: RefreshRunner): (() => void) | null;
}

/**
 * Where a refresh is decided. It holds the session (in memory, mirrored to `storage`) and at most
 * one refresh cycle, and answers the two questions of every request: "which token do I send?"
 * (`acquire`) and "my token was rejected, what now?" (`rejected`). The refresh call itself is made
 * by `auth.epic`, which registers as the runner; every transition is told to the store as an action.
 * A closure rather than a class: its state is private for real, and minifies to short names.
 */
export function createCoordinator({ storage, actions, now, expirySkewMs }: CoordinatorConfig): RefreshCoordinator {
  const actions$ = new Subject<UnknownAction>();
  const emit = (action: UnknownAction) => actions$.next(action);
  let session = load(storage.get());
  let cycle: Cycle | null = null;
  let runner: RefreshRunner | null = null;
  /** How the last session ended, so a 401 still on its way for its token fails for the same reason. */
  let ended: { accessToken: string | undefined; error: unknown } | null = null;

  function load(tokens: Tokens | null): Session | null {
    try {
      return tokens ? toSession(tokens, null, now(), expirySkewMs, false) : null;
    } catch {
      return null; // unreadable tokens in storage: start logged out rather than crash the app
    }
  }

  function start(reason: RefreshReason): Cycle {
    if (!runner) throw new EpicNotRunningError();
    const waiters = new Set<Subscriber<never>>();
    const started: Cycle = {
      accessToken: session?.accessToken,
      refreshToken: session?.refreshToken,
      waiters,
      settled: false,
      error: null,
      wait$: new Observable<never>((subscriber) => {
        // A refresh can settle synchronously (a cached or mocked answer) before anyone subscribed.
        if (started.settled) return started.error ? subscriber.error(started.error) : subscriber.complete();
        waiters.add(subscriber);
        return () => waiters.delete(subscriber);
      }),
    };
    cycle = started;
    emit(actions.refreshRequested({ reason }));
    // Whoever saw that action may have logged out (or in) at once: then there is nothing to refresh.
    if (cycle !== started) return started;
    const run = runner(started);
    if (cycle === started) started.run = run;
    return started;
  }

  /** Ends the running cycle, if any: cancels its call and releases its waiters. */
  function settle(error: unknown): void {
    const settled = cycle;
    if (!settled) return;
    cycle = null;
    settled.settled = true;
    settled.error = error;
    settled.run?.unsubscribe();
    for (const waiter of settled.waiters) {
      if (error) waiter.error(error);
      else waiter.complete();
    }
  }

  /** A new session, from a login, a refresh or another tab: told to the store, then waiters replay. */
  function establish(next: Session, action: UnknownAction, persist: boolean): void {
    session = next;
    ended = null;
    if (persist) storage.set({ accessToken: next.accessToken, refreshToken: next.refreshToken, expiresAt: next.expiresAt });
    emit(action);
    settle(null);
  }

  /**
   * A logout clears the shared storage for every tab. A failed refresh clears it only if it still
   * holds the session that failed: another tab may have stored a good one meanwhile.
   */
  function end(error: unknown, logout: boolean): void {
    const accessToken = session?.accessToken;
    ended = { accessToken, error };
    session = null;
    if (logout || storage.get()?.accessToken === accessToken) storage.clear();
  }

  function logout(announce: boolean): void {
    if (!session && !cycle) return;
    const error = new LoggedOutError();
    end(error, true);
    // Settled before the action goes out, so that `auth.epic` seeing it finds nothing left to end.
    settle(error);
    if (announce) emit(actions.loggedOut());
  }

  function fail(failed: RefreshCycle, error: unknown): void {
    if (failed !== cycle) return;
    end(error, false);
    emit(actions.refreshFailed({ error: serializeError(error) }));
    settle(error);
  }

  // Another tab changed the shared storage: it logged out, logged in, or refreshed. Its tokens
  // replace ours and end a refresh we were running; the store hears of it like of a login.
  storage.subscribe?.((tokens) => {
    if (!tokens) return logout(true);
    const adopted = tokens.accessToken !== session?.accessToken && load(tokens);
    if (adopted) establish(adopted, actions.tokensSet({ expiresAt: adopted.expiresAt ?? null }), false);
  });

  return {
    actions$,
    get accessToken() {
      return session?.accessToken;
    },
    snapshot: () => ({
      status: cycle ? 'refreshing' : session ? 'authenticated' : 'unauthenticated',
      expiresAt: session?.expiresAt ?? null,
      lastError: null,
    }),
    acquire() {
      if (cycle) return cycle.wait$;
      if (!session) throw new NotAuthenticatedError();
      if (now() < session.refreshAt) return session.accessToken;
      return start('expired').wait$;
    },
    rejected(accessToken) {
      if (!cycle && session?.accessToken === accessToken) start('unauthorized');
      // Also when the session ended just now, in reaction to the refresh this 401 started.
      if (!session && ended?.accessToken === accessToken) throw ended.error;
    },
    refresh(reason) {
      if (cycle) return cycle.wait$;
      if (!session) throw new NotAuthenticatedError();
      return start(reason).wait$;
    },
    setTokens(tokens) {
      const next = toSession(tokens, null, now(), expirySkewMs);
      establish(next, actions.tokensSet({ expiresAt: next.expiresAt ?? null }), true);
    },
    logout,
    succeed(succeeded, tokens) {
      if (succeeded !== cycle) return; // cancelled by a logout or a login: these tokens are stale
      let next: Session;
      try {
        next = toSession(tokens, session, now(), expirySkewMs);
      } catch (error) {
        return fail(succeeded, new TokenRefreshError((error as Error).message, { cause: error }));
      }
      establish(next, actions.refreshSucceeded({ expiresAt: next.expiresAt ?? null }), true);
    },
    fail,
    attach(next) {
      if (runner) return null;
      runner = next;
      return () => {
        runner = null;
        settle(new EpicNotRunningError());
      };
    },
  };
}
