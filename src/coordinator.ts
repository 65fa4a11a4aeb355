import type { UnknownAction } from 'redux';
import { Observable, Subject, type Subscriber, type Subscription } from 'rxjs';
import type { AuthActions, RefreshReason } from './actions';
import { EpicNotRunningError, LoggedOutError, NotAuthenticatedError, TokenRefreshError, serializeError } from './errors';
import type { AuthStatus, TokenRefreshState } from './reducer';
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

/**
 * Where a refresh is decided. It holds the session (in memory, mirrored to `storage`) and at most
 * one refresh cycle, and answers the two questions of every request: "which token do I send?"
 * (`acquire`) and "my token was rejected, what now?" (`rejected`). The refresh call itself is made
 * by `auth.epic`, which registers as the runner; every transition is told to the store as an action.
 */
export class RefreshCoordinator {
  /** The actions for the store; `auth.epic` emits them. */
  readonly actions$ = new Subject<UnknownAction>();
  private session: Session | null = null;
  private cycle: Cycle | null = null;
  private runner: RefreshRunner | null = null;
  /** How the last session ended, so a 401 still on its way for its token fails for the same reason. */
  private ended: { accessToken: string | undefined; error: unknown } | null = null;

  constructor(private readonly config: CoordinatorConfig) {
    this.session = this.load(config.storage.get());
    config.storage.subscribe?.((tokens) => this.adopt(tokens));
  }

  get accessToken(): string | undefined {
    return this.session?.accessToken;
  }

  get refreshToken(): string | undefined {
    return this.session?.refreshToken;
  }

  /** The state the reducer starts from. */
  snapshot(): TokenRefreshState {
    const status: AuthStatus = this.cycle ? 'refreshing' : this.session ? 'authenticated' : 'unauthenticated';
    return { status, expiresAt: this.session?.expiresAt ?? null, lastError: null };
  }

  /**
   * The token to send now, or an observable to wait on before asking again (a refresh is running,
   * or the token is known to expire within the skew). Throws `NotAuthenticatedError` without a
   * session and `EpicNotRunningError` when a refresh is needed and nobody can run it.
   */
  acquire(): string | Observable<never> {
    if (this.cycle) return this.cycle.wait$;
    const session = this.session;
    if (!session) throw new NotAuthenticatedError();
    if (this.config.now() < session.refreshAt) return session.accessToken;
    return this.start('expired').wait$;
  }

  /**
   * The API rejected `accessToken`. Starts a refresh only if it is still the current token and no
   * refresh is running: a late 401 for a token already replaced, or a second 401 during a refresh,
   * starts nothing. The caller then acquires again. A 401 that arrives after the session ended
   * with this token (a request in flight when the refresh failed or the user logged out) throws
   * what the waiting requests got, rather than a puzzling `NotAuthenticatedError`.
   */
  rejected(accessToken: string): void {
    if (!this.cycle && this.session?.accessToken === accessToken) this.start('unauthorized');
    // Also when the session ended just now, in reaction to the refresh this 401 started.
    if (!this.session && this.ended?.accessToken === accessToken) throw this.ended.error;
  }

  /** Refresh now (or join the running refresh). Completes when it succeeded. */
  refresh(reason: RefreshReason): Observable<never> {
    if (this.cycle) return this.cycle.wait$;
    if (!this.session) throw new NotAuthenticatedError();
    return this.start(reason).wait$;
  }

  /** Store tokens from a login. Requests waiting for a refresh are replayed with them. */
  setTokens(tokens: Tokens): void {
    this.session = toSession(tokens, null, this.config.now(), this.config.expirySkewMs);
    this.ended = null;
    this.persist();
    this.emit(this.config.actions.tokensSet({ expiresAt: this.session.expiresAt ?? null }));
    this.settle(null);
  }

  /**
   * End the session: tokens cleared, the running refresh cancelled (its tokens, if they still
   * arrive, are discarded), waiting requests fail with `LoggedOutError`. Idempotent.
   */
  logout(announce: boolean): void {
    if (!this.session && !this.cycle) return;
    const error = new LoggedOutError();
    this.end(error, true);
    // Settled before the action goes out, so that `auth.epic` seeing it finds nothing left to end.
    this.settle(error);
    if (announce) this.emit(this.config.actions.loggedOut());
  }

  /** The runner's report: the refresh of `cycle` answered with `tokens`. */
  succeed(cycle: RefreshCycle, tokens: Tokens): void {
    if (cycle !== this.cycle) return; // cancelled by a logout or a login: these tokens are stale
    try {
      this.session = toSession(tokens, this.session, this.config.now(), this.config.expirySkewMs);
    } catch (error) {
      return this.fail(cycle, new TokenRefreshError((error as Error).message, { cause: error }));
    }
    this.persist();
    this.emit(this.config.actions.refreshSucceeded({ expiresAt: this.session.expiresAt ?? null }));
    this.settle(null);
  }

  /** The runner's report: the refresh of `cycle` failed for good. */
  fail(cycle: RefreshCycle, error: unknown): void {
    if (cycle !== this.cycle) return;
    this.end(error, false);
    this.emit(this.config.actions.refreshFailed({ error: serializeError(error) }));
    this.settle(error);
  }

  /**
   * A logout clears the shared storage for every tab. A failed refresh clears it only if it still
   * holds the session that failed: another tab may have stored a good one meanwhile.
   */
  private end(error: unknown, logout: boolean): void {
    const accessToken = this.session?.accessToken;
    this.ended = { accessToken, error };
    this.session = null;
    if (logout || this.config.storage.get()?.accessToken === accessToken) this.config.storage.clear();
  }

  /** `auth.epic` registers here while it runs; only one runner at a time. */
  attach(runner: RefreshRunner): (() => void) | null {
    if (this.runner) return null;
    this.runner = runner;
    return () => {
      this.runner = null;
      this.settle(new EpicNotRunningError());
    };
  }

  private start(reason: RefreshReason): Cycle {
    if (!this.runner) throw new EpicNotRunningError();
    const waiters = new Set<Subscriber<never>>();
    const cycle: Cycle = {
      accessToken: this.session?.accessToken,
      refreshToken: this.session?.refreshToken,
      waiters,
      settled: false,
      error: null,
      wait$: new Observable<never>((subscriber) => {
        // A refresh can settle synchronously (a cached or mocked answer) before anyone subscribed.
        if (cycle.settled) return cycle.error ? subscriber.error(cycle.error) : subscriber.complete();
        waiters.add(subscriber);
        return () => waiters.delete(subscriber);
      }),
    };
    this.cycle = cycle;
    this.emit(this.config.actions.refreshRequested({ reason }));
    // Whoever saw that action may have logged out (or in) at once: then there is nothing to refresh.
    if (this.cycle !== cycle) return cycle;
    const run = this.runner(cycle);
    if (this.cycle === cycle) cycle.run = run;
    return cycle;
  }

  /** Ends the running cycle, if any: cancels its call and releases its waiters. */
  private settle(error: unknown): void {
    const cycle = this.cycle;
    if (!cycle) return;
    this.cycle = null;
    cycle.settled = true;
    cycle.error = error;
    cycle.run?.unsubscribe();
    for (const waiter of cycle.waiters) {
      if (error) waiter.error(error);
      else waiter.complete();
    }
  }

  private persist(): void {
    const { accessToken, refreshToken, expiresAt } = this.session!;
    this.config.storage.set({ accessToken, refreshToken, expiresAt });
  }

  /**
   * Another tab changed the shared storage: it logged out, logged in, or refreshed. Its tokens
   * replace ours, end a refresh we were running (the waiting requests replay with them), and the
   * store hears of it like of a login.
   */
  private adopt(tokens: Tokens | null): void {
    if (!tokens) return this.logout(true);
    if (tokens.accessToken === this.session?.accessToken) return;
    const session = this.load(tokens);
    if (!session) return;
    this.session = session;
    this.ended = null;
    this.emit(this.config.actions.tokensSet({ expiresAt: session.expiresAt ?? null }));
    this.settle(null);
  }

  private load(tokens: Tokens | null): Session | null {
    try {
      return tokens ? toSession(tokens, null, this.config.now(), this.config.expirySkewMs, false) : null;
    } catch {
      return null; // unreadable tokens in storage: start logged out rather than crash the app
    }
  }

  private emit(action: UnknownAction): void {
    this.actions$.next(action);
  }
}
