import type { UnknownAction } from '../src/reduxTypes';
import type { Epic } from '../src/reduxTypes';
import { EMPTY, asyncScheduler, ignoreElements, map, startWith, switchMap, tap, timer, type SchedulerLike } from 'rxjs';
import { isDuration, optionChecker } from '../src/checkOption';
import type { TokenRefresh } from '../src/createTokenRefresh';
import type { TokenRefreshState } from '../src/reducer';
import { sessionEvents } from './sessionEvents';

/**
 * What the epic needs of the object `createTokenRefresh` returns.
 *
 * @example
 * ```ts
 * const scheduledAuth: ScheduledRefreshAuth = auth; // the whole auth object fits
 * ```
 */
export type ScheduledRefreshAuth = Pick<TokenRefresh<string>, 'actions' | 'refresh' | 'reducerPath'>;

/**
 * When the background refresh runs, and on which clock.
 *
 * @example
 * ```ts
 * createScheduledRefreshEpic(auth, { expirySkewMs: 60_000 }); // the skew you gave createTokenRefresh
 * ```
 */
export interface ScheduledRefreshOptions {
  /**
   * How long before the access token's expiry the background refresh runs (never before half the
   * token's lifetime has passed, the rule `createTokenRefresh` follows too). Use the value you gave
   * `createTokenRefresh`: then a request never finds the token about to expire.
   * @default 30_000
   */
  expirySkewMs?: number;
  /**
   * The clock and timer. Tests get virtual time from `TestScheduler.run` without passing anything.
   * @default asyncScheduler
   */
  scheduler?: SchedulerLike;
}

/**
 * Refreshes in the background shortly before the access token expires, so an app left idle wakes
 * up with a valid token instead of making its first request wait for a refresh. The timer starts
 * from every `tokensSet` and `refreshSucceeded` that carries an `expiresAt` (a login, every refresh,
 * however it was triggered), and is cleared by `loggedOut` and `refreshFailed`. It asks for the
 * refresh with `auth.refresh('scheduled')`, so it joins a refresh already in flight rather than
 * starting a second one. It emits no action of its own: the refresh's actions say what happened.
 *
 * @example
 * ```ts
 * import { createScheduledRefreshEpic } from 'redux-observable-token-refresh/epics';
 *
 * epicMiddleware.run(combineEpics(auth.epic, createScheduledRefreshEpic(auth, { expirySkewMs: 30_000 })));
 * ```
 */
export function createScheduledRefreshEpic(
  auth: ScheduledRefreshAuth,
  { expirySkewMs = 30_000, scheduler = asyncScheduler }: ScheduledRefreshOptions = {},
): Epic<unknown, UnknownAction, unknown, unknown> {
  if (typeof auth?.refresh !== 'function' || typeof auth.actions?.tokensSet?.match !== 'function') {
    throw new TypeError('createScheduledRefreshEpic: the first argument must be the object createTokenRefresh() returns.');
  }
  const check = optionChecker('createScheduledRefreshEpic');
  check(isDuration(expirySkewMs), 'expirySkewMs', 'a number of milliseconds >= 0');
  check(typeof scheduler?.now === 'function', 'scheduler', 'an RxJS scheduler');

  return (action$, state$) => {
    // The session may predate the epic (tokens from storage, a login before `run`): start from the store.
    const slice = ((state$ as { value?: unknown } | undefined)?.value as Record<string, TokenRefreshState | undefined> | undefined)?.[
      auth.reducerPath
    ];
    const initial = slice?.status === 'unauthenticated' ? null : (slice?.expiresAt ?? null);
    return action$.pipe(
      sessionEvents(auth.actions),
      map((session) => session?.expiresAt ?? null),
      startWith(initial),
      // switchMap: each new expiry (or the end of the session) replaces the pending timer.
      switchMap((expiresAt) => {
        const now = scheduler.now();
        // Unknown expiry: only the server's 401 tells. Already expired on arrival: the core sends it
        // anyway and lets the server decide; refreshing at once could loop on a server that
        // issues such tokens.
        if (expiresAt === null || expiresAt <= now) return EMPTY;
        const refreshAt = Math.max(expiresAt - expirySkewMs, now + (expiresAt - now) / 2);
        return timer(refreshAt - now, scheduler);
      }),
      // A failure reaches the store as refreshFailed (the session ends, and so does the timer).
      tap(() => void auth.refresh('scheduled').catch(() => {})),
      ignoreElements(),
    );
  };
}
