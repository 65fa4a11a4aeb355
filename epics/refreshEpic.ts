import {
  Observable,
  catchError,
  defer,
  filter,
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
import type { UnknownAction } from '../src/reduxTypes';
import type { Epic } from '../src/reduxTypes';
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
 * replaced the session (the stored access token is not the one this cycle replaces), its tokens
 * are adopted instead of spending our refresh token again, which a server with reuse detection
 * would punish by revoking the session, and which a non-rotating one would answer with a
 * needless second refresh.
 */
function callRefresh(cycle: RefreshCycle, { storage, refresh }: RefreshEpicConfig): Observable<Tokens> {
  const controller = new AbortController();
  markRefreshSignal(controller.signal); // adapters let the refresh call through, never queue it
  const once = (): Observable<Tokens> => {
    const stored = storage.get();
    if (stored && stored.accessToken !== cycle.accessToken) return of(stored);
    if (!cycle.refreshToken) {
      throw new TokenRefreshError('There is no refresh token to refresh with: pass refreshToken to auth.setTokens() at login.');
    }
    return from(refresh(cycle.refreshToken, { signal: controller.signal })).pipe(
      take(1),
      throwIfEmpty(() => new TokenRefreshError('refresh() completed without tokens: it must emit or resolve { accessToken, refreshToken? }.')),
    );
  };
  const lock = storage.lock?.bind(storage);
  return new Observable<Tokens>((subscriber) => {
    let done = false;
    const observer = {
      // The coordinator stores the tokens synchronously in `next`, so with a lock they are in
      // storage before the lock is released and the next tab reads them.
      next: (tokens: Tokens) => ((done = true), subscriber.next(tokens)),
      error: (error: unknown) => ((done = true), subscriber.error(error)),
      complete: () => ((done = true), subscriber.complete()),
    };
    if (lock) {
      lock(
        () =>
          new Promise<void>((release) => {
            // Cancelled while queued for the lock: do not spend the refresh token for nobody.
            if (controller.signal.aborted) return release();
            const inner = defer(once).subscribe({
              next: observer.next,
              error: (error: unknown) => (observer.error(error), release()),
              complete: () => (observer.complete(), release()),
            });
            // Cancelled while holding it: stop the call and let the other tabs go on.
            controller.signal.addEventListener('abort', () => (inner.unsubscribe(), release()), { once: true });
          }),
      ).catch(observer.error);
    } else {
      const inner = defer(once).subscribe(observer);
      subscriber.add(inner);
    }
    return () => {
      // Cancelled (logout, login, timeout): stop the request too, not just our interest in it.
      if (!done) controller.abort();
    };
  });
}

function warn(message: string): void {
  if (process.env.NODE_ENV !== 'production') {
    console.warn(`[redux-observable-token-refresh] ${message}`);
  }
}
