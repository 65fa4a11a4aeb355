import {
  Observable,
  catchError,
  defer,
  filter,
  firstValueFrom,
  from,
  of,
  retry,
  take,
  throwError,
  throwIfEmpty,
  timeout,
  timer,
  type ObservableInput,
  type SchedulerLike,
} from 'rxjs';
import type { UnknownAction } from 'redux';
import type { Epic } from 'redux-observable';
import type { AuthActions } from '../src/actions';
import type { RefreshCoordinator, RefreshCycle } from '../src/coordinator';
import { RefreshTimeoutError, TokenRefreshError } from '../src/errors';
import { httpStatusOf } from '../src/httpErrors';
import { markRefreshSignal } from '../src/refreshSignal';
import type { TokenStorage } from '../src/storage';
import type { Tokens } from '../src/tokens';

/** The refresh call you provide: spend `refreshToken`, answer with new tokens. */
export type RefreshFn = (refreshToken: string, context: { signal: AbortSignal }) => ObservableInput<Tokens>;

export interface RefreshEpicConfig {
  coordinator: RefreshCoordinator;
  actions: AuthActions;
  storage: TokenStorage;
  refresh: RefreshFn;
  refreshTimeoutMs: number;
  refreshRetries: number;
  refreshBackoffMs: number;
  isTransientError: (error: unknown) => boolean;
  scheduler: SchedulerLike;
}

/**
 * The epic that performs refreshes. The coordinator decides when one is needed; this epic runs the
 * call (with timeout, backoff on transient failures, abort on logout), reports the outcome, emits
 * the coordinator's actions to the store, and turns a dispatched `loggedOut` into a logout.
 */
export function createRefreshEpic(config: RefreshEpicConfig): Epic<unknown, UnknownAction, unknown, unknown> {
  const { coordinator, actions } = config;
  return (action$) =>
    new Observable<UnknownAction>((subscriber) => {
      const detach = coordinator.attach((cycle) =>
        runRefresh(cycle, config).subscribe({
          next: (tokens) => coordinator.succeed(cycle, tokens),
          error: (error: unknown) => coordinator.fail(cycle, error),
        }),
      );
      if (!detach) {
        warn('auth.epic is already running for another store; this copy does nothing. Create one createTokenRefresh() per store.');
        return subscriber.complete();
      }
      const subscription = coordinator.actions$.subscribe(subscriber);
      subscription.add(action$.pipe(filter(actions.loggedOut.match)).subscribe(() => coordinator.logout(false)));
      return () => {
        subscription.unsubscribe();
        detach();
      };
    });
}

function runRefresh(cycle: RefreshCycle, config: RefreshEpicConfig): Observable<Tokens> {
  const { refreshRetries, refreshBackoffMs, refreshTimeoutMs, isTransientError, scheduler } = config;
  return callRefresh(cycle, config).pipe(
    retry({
      count: refreshRetries,
      delay: (error: unknown, attempt) => {
        if (!isTransientError(error)) throw error;
        return timer(refreshBackoffMs * 2 ** (attempt - 1), scheduler);
      },
    }),
    timeout({ first: refreshTimeoutMs, scheduler, with: () => throwError(() => new RefreshTimeoutError(refreshTimeoutMs)) }),
    catchError((error: unknown) => {
      if (error instanceof TokenRefreshError) throw error;
      const status = httpStatusOf(error);
      const what = status === undefined ? (error as Error)?.message ?? String(error) : `HTTP ${status}`;
      throw new TokenRefreshError(`The token refresh failed (${what}); the user must log in again.`, { cause: error });
    }),
  );
}

/**
 * One attempt. Under the storage's cross-tab lock where it has one; and if another tab already
 * spent our refresh token (the stored one differs), its result is adopted instead of spending the
 * old token again, which a server with reuse detection would punish by revoking the session.
 */
function callRefresh(cycle: RefreshCycle, { storage, refresh }: RefreshEpicConfig): Observable<Tokens> {
  return new Observable<Tokens>((subscriber) => {
    const controller = new AbortController();
    markRefreshSignal(controller.signal); // adapters let the refresh call through, never queue it
    let done = false;
    const once = (): Observable<Tokens> => {
      const stored = storage.get();
      if (stored?.refreshToken && cycle.refreshToken && stored.refreshToken !== cycle.refreshToken) return of(stored);
      if (!cycle.refreshToken) {
        throw new TokenRefreshError('There is no refresh token to refresh with: pass refreshToken to auth.setTokens() at login.');
      }
      return from(refresh(cycle.refreshToken, { signal: controller.signal })).pipe(
        take(1),
        throwIfEmpty(() => new TokenRefreshError('refresh() completed without tokens: it must emit or resolve { accessToken, refreshToken? }.')),
      );
    };
    const source$ = storage.lock ? from(storage.lock(() => firstValueFrom(defer(once)))) : defer(once);
    const inner = source$.subscribe({
      next: (tokens) => ((done = true), subscriber.next(tokens)),
      error: (error: unknown) => ((done = true), subscriber.error(error)),
      complete: () => ((done = true), subscriber.complete()),
    });
    return () => {
      inner.unsubscribe();
      // Cancelled (logout, login, timeout): stop the request too, not just our interest in it.
      if (!done) controller.abort();
    };
  });
}

function warn(message: string): void {
  if (typeof process === 'undefined' || process.env.NODE_ENV !== 'production') {
    console.warn(`[redux-observable-token-refresh] ${message}`);
  }
}
