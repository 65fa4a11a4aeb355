import {
  EMPTY,
  Observable,
  catchError,
  defer,
  from,
  retry,
  take,
  throwError,
  throwIfEmpty,
  timeout,
  timer,
  type ObservableInput,
  type SchedulerLike,
} from 'rxjs';
import type { UnknownAction } from '../reduxTypes';
import type { Epic } from '../reduxTypes';
import type { AuthActions } from '../actions';
import type { RefreshCoordinator, RefreshCycle } from '../coordinator';
import { RefreshTimeoutError, RefreshUnavailableError, TokenRefreshError, refused } from '../errors';
import { httpDetail, httpStatusOf, isNetworkFailure } from '../httpErrors';
import { markRefreshSignal } from '../refreshSignal';
import { msg } from '../message';
import { devWarn } from '../warn';
import type { Tokens } from '../tokens';

/** The refresh call you provide: spend `refreshToken`, answer with new tokens. */
export type RefreshFn = (refreshToken: string, context: { signal: AbortSignal }) => ObservableInput<Tokens>;

/** The refresh call in cookie mode: the browser sends the HttpOnly cookie; there is no refresh token here. */
export type CookieRefreshFn = (refreshToken: undefined, context: { signal: AbortSignal }) => ObservableInput<Tokens>;

export interface RefreshEpicConfig {
  coordinator: RefreshCoordinator;
  actions: AuthActions;
  refresh: RefreshFn | CookieRefreshFn;
  cookie: boolean;
  refreshTimeoutMs: number;
  refreshRetries: number;
  refreshBackoffMs: number;
  isTransientError: (error: unknown) => boolean;
  isSessionEnded: (error: unknown) => boolean;
  scheduler: SchedulerLike;
}

/**
 * The epic that performs refreshes. The coordinator decides when one is needed; this epic runs the
 * call (with timeout, backoff on transient failures, abort on logout), reports the outcome, emits
 * the coordinator's actions to the store, and carries out the commands others dispatch: a
 * `loggedOut` logs out, a `refreshRequested` refreshes. It also retries a refresh that could not be
 * done when the browser says the network or the page is back.
 */
export function createRefreshEpic(config: RefreshEpicConfig): Epic<unknown, UnknownAction, unknown, unknown> {
  const { coordinator, actions } = config;
  return (action$) =>
    new Observable<UnknownAction>((subscriber) => {
      const detach = coordinator.attach(
        (cycle) =>
          runRefresh(cycle, config).subscribe({
            next: (tokens) => coordinator.succeed(cycle, tokens),
            error: (error: unknown) => coordinator.fail(cycle, error),
          }),
        (action) => subscriber.next(action),
      );
      if (!detach) {
        try {
          if (process.env.NODE_ENV !== 'production')
            devWarn('auth.epic is already running for another store; this copy does nothing. Create one createTokenRefresh() per store.');
        } catch {
          // no `process`: no development warnings
        }
        return subscriber.complete();
      }
      const subscription = action$.subscribe((action) => {
        if (coordinator.isOwn(action)) return;
        if (actions.loggedOut.match(action)) coordinator.logout(false);
        else if (actions.refreshRequested.match(action)) {
          try {
            coordinator.refresh('manual').subscribe({ error: () => {} }); // the outcome reaches the store as actions
          } catch {
            // nobody logged in: nothing to refresh, and the store already says so
          }
        }
      });
      const doc = globalThis.document;
      const online = () => coordinator.wake('online');
      const visible = () => doc?.visibilityState === 'visible' && coordinator.wake('visible');
      globalThis.addEventListener?.('online', online);
      doc?.addEventListener?.('visibilitychange', visible);
      return () => {
        globalThis.removeEventListener?.('online', online);
        doc?.removeEventListener?.('visibilitychange', visible);
        subscription.unsubscribe();
        detach();
      };
    });
}

/**
 * What a failed refresh means, decided in this one place: the `TokenRefreshError` that ends the
 * session, or `undefined` for "not now" (the session is kept: `RefreshUnavailableError`, and while
 * retries are left a failure that `isTransientError` accepts is retried at once). The session ends
 * on the package's own `TokenRefreshError` (a timeout excepted), on the refresh endpoint's "no"
 * (`isSessionEnded`), and on a TypeError that is not fetch's "no answer": a bug in `refresh`, which
 * retrying would not fix and could spend a rotating refresh token again. The messages are the
 * package's own: a server's text could quote a token.
 */
function ending(error: unknown, { isSessionEnded }: RefreshEpicConfig): TokenRefreshError | undefined {
  if (error instanceof TokenRefreshError && !(error instanceof RefreshTimeoutError)) return error;
  if (isSessionEnded(error)) {
    const status = httpStatusOf(error);
    return refused(
      failed(
        () =>
          process.env.NODE_ENV !== 'production' &&
          `The refresh token was rejected${status === undefined ? '' : ` (HTTP ${status})`}; the user must log in again.`,
        httpDetail(status),
        { cause: error },
      ),
    );
  }
  if ((error as Error | null)?.name === 'TypeError' && !isNetworkFailure(error)) {
    return failed(
      () =>
        process.env.NODE_ENV !== 'production' &&
        'refresh() failed with a TypeError: a bug in your refresh function (see cause); not retried.',
      'TypeError',
      { cause: error },
    );
  }
  return undefined;
}

/** A `TokenRefreshError` (`REFRESH_FAILED`) with the message of `msg`. */
const failed = (dev: () => string | false, detail: string | undefined, options?: { cause: unknown }) =>
  new TokenRefreshError(msg('REFRESH_FAILED', dev, detail), options);

/** The call, its retries and its timeout, and what its failure means (`ending`). */
function runRefresh(cycle: RefreshCycle, config: RefreshEpicConfig): Observable<Tokens> {
  const { refreshRetries, refreshBackoffMs, refreshTimeoutMs, scheduler } = config;
  return callRefresh(cycle, config).pipe(
    retry({
      count: refreshRetries,
      delay: (error: unknown, attempt) => {
        if (ending(error, config) || !config.isTransientError(error)) throw error;
        return timer(refreshBackoffMs * 2 ** (attempt - 1), scheduler);
      },
    }),
    timeout({ first: refreshTimeoutMs, scheduler, with: () => throwError(() => new RefreshTimeoutError(refreshTimeoutMs)) }),
    catchError((error: unknown) => {
      throw ending(error, config) ?? new RefreshUnavailableError(error);
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
function callRefresh(cycle: RefreshCycle, { coordinator, refresh, cookie }: RefreshEpicConfig): Observable<Tokens> {
  const controller = new AbortController();
  const { signal } = controller;
  markRefreshSignal(signal); // adapters let the refresh call through, never queue it
  const once = (): Observable<Tokens> => {
    if (!cookie && !cycle.refreshToken) {
      throw failed(
        () =>
          process.env.NODE_ENV !== 'production' &&
          'There is no refresh token to refresh with: pass refreshToken to auth.setTokens() at login, or use session: cookieSession().',
        'no refresh token',
      );
    }
    // No answer (undefined, null) or one that completes without tokens: the same error.
    return from((refresh as RefreshFn)(cycle.refreshToken!, { signal }) ?? EMPTY).pipe(
      take(1),
      throwIfEmpty(() =>
        failed(
          () =>
            process.env.NODE_ENV !== 'production' &&
            'refresh() gave no tokens: return an Observable or a Promise of { accessToken, refreshToken?, expiresAt? }.',
          'no tokens',
        ),
      ),
    );
  };
  const attempt = coordinator.attempt?.(cycle, once, signal) ?? defer(once);
  return new Observable<Tokens>((subscriber) => {
    let done = false;
    const inner = attempt.subscribe({
      // The coordinator stores the tokens synchronously in `next`: nothing to abort after that.
      next: (tokens) => ((done = true), subscriber.next(tokens)),
      error: (error: unknown) => ((done = true), subscriber.error(error)),
      complete: () => ((done = true), subscriber.complete()),
    });
    return () => {
      // Cancelled (logout, login, timeout): stop the request too, not just our interest in it.
      if (!done) controller.abort();
      inner.unsubscribe();
    };
  });
}
