import { typeError } from '../src/message';
import type { UnknownAction } from '../src/reduxTypes';
import type { Epic } from '../src/reduxTypes';
import { EMPTY, asyncScheduler, ignoreElements, startWith, switchMap, tap, timer, type SchedulerLike } from 'rxjs';
import { optionChecker } from '../src/checkOption';
import type { TokenRefresh, TokenRefreshState } from '../src';
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
 * createScheduledRefreshEpic(auth, { scheduler: asyncScheduler });
 * ```
 */
export interface ScheduledRefreshOptions {
  /**
   * @deprecated Not read any more: the background refresh runs when the package's own rule says a
   * token is due (`refreshAt` in the actions and the state, from `createTokenRefresh`'s
   * `expirySkewMs`), so the two can never disagree. Leave it out.
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
 * up with a valid token instead of making its first request wait for a refresh. It runs at the
 * `refreshAt` of every `tokensSet` and `refreshSucceeded` (a login, every refresh, however it was
 * triggered): the moment from which a request would refresh first, as `createTokenRefresh`'s
 * `expirySkewMs` and half-lifetime rule decide. It is cleared by `loggedOut` and `refreshFailed`. It asks for the
 * refresh with `auth.refresh('scheduled')`, so it joins a refresh already in flight rather than
 * starting a second one. It emits no action of its own: the refresh's actions say what happened.
 *
 * @example
 * ```ts
 * import { createScheduledRefreshEpic } from 'redux-observable-token-refresh/epics';
 *
 * epicMiddleware.run(combineEpics(auth.epic, createScheduledRefreshEpic(auth)));
 * ```
 */
export function createScheduledRefreshEpic(
  auth: ScheduledRefreshAuth,
  { scheduler = asyncScheduler }: ScheduledRefreshOptions = {},
): Epic<unknown, UnknownAction, unknown, unknown> {
  if (typeof auth?.refresh !== 'function' || typeof auth.actions?.tokensSet?.match !== 'function') {
    throw typeError(
      'INVALID_ARGUMENT',
      () =>
        process.env.NODE_ENV !== 'production' &&
        'createScheduledRefreshEpic: the first argument must be the object createTokenRefresh() returns.',
      'createScheduledRefreshEpic',
    );
  }
  const check = optionChecker('createScheduledRefreshEpic');
  check(typeof scheduler?.now === 'function', 'scheduler', () => process.env.NODE_ENV !== 'production' && 'an RxJS scheduler');

  return (action$, state$) => {
    // The session may predate the epic (tokens from storage, a login before `run`): start from the store.
    const slice = ((state$ as { value?: unknown } | undefined)?.value as Record<string, TokenRefreshState | undefined> | undefined)?.[
      auth.reducerPath
    ];
    const initial = slice?.status === 'unauthenticated' || !slice ? null : slice;
    return action$.pipe(
      sessionEvents(auth.actions),
      startWith(initial),
      // switchMap: each new token (or the end of the session) replaces the pending timer.
      switchMap((session) => {
        const now = scheduler.now();
        // Unknown expiry: only the server's 401 tells. Already expired on arrival: the core sends it
        // anyway and lets the server decide; refreshing at once could loop on a server that
        // issues such tokens.
        if (session?.refreshAt == null || session.expiresAt === null || session.expiresAt <= now) return EMPTY;
        return timer(Math.max(0, session.refreshAt - now), scheduler);
      }),
      // A failure reaches the store as refreshFailed (the session ends, and so does the timer).
      tap(() => void auth.refresh('scheduled').catch(() => {})),
      ignoreElements(),
    );
  };
}
