import { typeError } from '../src/message';
import type { UnknownAction } from '../src/reduxTypes';
import type { Epic } from '../src/reduxTypes';
import {
  EMPTY,
  asyncScheduler,
  catchError,
  combineLatest,
  distinctUntilChanged,
  exhaustMap,
  filter,
  from,
  fromEvent,
  ignoreElements,
  map,
  merge,
  mergeMap,
  of,
  scan,
  startWith,
  switchMap,
  take,
  tap,
  timeout,
  timer,
  type Observable,
  type ObservableInput,
  type SchedulerLike,
} from 'rxjs';
import { optionChecker } from '../src/checkOption';
import { isUnauthorized, type TokenRefresh } from '../src';
import { sessionEvents } from './sessionEvents';

/**
 * What the epic needs of the object `createTokenRefresh` returns: `authorized` gives each check
 * the token to send now (waiting while a refresh runs), `refresh` asks for one when the check is
 * rejected.
 *
 * @example
 * ```ts
 * const heartbeatAuth: HeartbeatAuth = auth; // the whole auth object fits
 * ```
 */
export type HeartbeatAuth = Pick<TokenRefresh<string>, 'actions' | 'refresh' | 'getAccessToken' | 'authorized'>;

/**
 * How often and how the token is checked, and when the page counts as visible.
 *
 * @example
 * ```ts
 * createHeartbeatEpic(auth, {
 *   intervalMs: 60_000,
 *   check: (token) => ajax.getJSON<{ active: boolean }>('/api/session', { Authorization: `Bearer ${token}` }),
 *   // an API that answers 200 { active: false } for a revoked session
 *   isAuthError: (answer) => isUnauthorized(answer) || (answer as { active?: boolean })?.active === false,
 * });
 * ```
 */
export interface HeartbeatOptions {
  /** How often the token is checked while the session lasts and the page is visible. */
  intervalMs: number;
  /**
   * Asks the server whether `accessToken` is still accepted, e.g. `GET /api/heartbeat` with it.
   * The token counts as rejected when this errors with an auth error, or emits `false` or a value
   * that is one (a fetch `Response` with status 401). Anything else, a network error included,
   * says nothing about the token and is ignored. A check that takes longer than `intervalMs` is
   * abandoned.
   */
  check: (accessToken: string) => ObservableInput<unknown>;
  /**
   * Whether an error (or a value) from `check` means "this token is not accepted".
   * @default HTTP 401 from ajax, fetch, RTK Query or axios (`isUnauthorized`)
   */
  isAuthError?: (errorOrValue: unknown) => boolean;
  /**
   * Whether the page is visible: checks pause while it emits `false`, and run at once when it turns
   * `true` again (a tab coming back after hours finds out right away).
   * @default `document.visibilityState !== 'hidden'`, re-read on `visibilitychange` and `focus`; always visible without `document`
   */
  visible$?: Observable<boolean>;
  /**
   * The timers. Tests get virtual time from `TestScheduler.run` without passing anything.
   * @default asyncScheduler
   */
  scheduler?: SchedulerLike;
}

/**
 * Checks every `intervalMs` that the server still accepts the access token, and asks for a refresh
 * (`auth.refresh('heartbeat')`, joining one in flight) when it does not: a session revoked or
 * expired on the server is noticed before the user's next action meets a 401. Runs from `tokensSet`
 * until `loggedOut` or `refreshFailed`, paused while the page is hidden. A rejection of a token
 * that was replaced while the check ran is ignored: the new token was not the one checked.
 * Each check gets its token from `auth.authorized`, as every request does: a tick while a refresh
 * runs waits for it and checks the new token (the old one is never sent), and a token known to
 * expire is refreshed before it is checked. At most one check (or wait) runs at a time.
 * It emits no action of its own.
 *
 * @example
 * ```ts
 * import { createHeartbeatEpic } from 'redux-observable-token-refresh/epics';
 *
 * const heartbeatEpic = createHeartbeatEpic(auth, {
 *   intervalMs: 5 * 60_000,
 *   check: (token) => fetch('/api/heartbeat', { headers: { Authorization: `Bearer ${token}` } }),
 * });
 * epicMiddleware.run(combineEpics(auth.epic, heartbeatEpic));
 * ```
 */
export function createHeartbeatEpic(auth: HeartbeatAuth, options: HeartbeatOptions): Epic<unknown, UnknownAction, unknown, unknown> {
  if (
    typeof auth?.refresh !== 'function' ||
    typeof auth.authorized !== 'function' ||
    typeof auth.getAccessToken !== 'function' ||
    typeof auth.actions?.tokensSet?.match !== 'function'
  ) {
    throw typeError(
      'INVALID_ARGUMENT',
      () =>
        process.env.NODE_ENV !== 'production' && 'createHeartbeatEpic: the first argument must be the object createTokenRefresh() returns.',
      'createHeartbeatEpic',
    );
  }
  if (typeof options !== 'object' || options === null) {
    throw typeError(
      'INVALID_ARGUMENT',
      () =>
        process.env.NODE_ENV !== 'production' &&
        'createHeartbeatEpic: pass an options object, e.g. createHeartbeatEpic(auth, { intervalMs, check }).',
      'createHeartbeatEpic',
    );
  }
  const { intervalMs, check, isAuthError = isUnauthorized, visible$, scheduler = asyncScheduler } = options;
  const checkOption = optionChecker('createHeartbeatEpic');
  checkOption(
    typeof intervalMs === 'number' && Number.isFinite(intervalMs) && intervalMs > 0,
    'intervalMs',
    () => process.env.NODE_ENV !== 'production' && 'a number of milliseconds > 0',
  );
  checkOption(
    typeof check === 'function',
    'check',
    () => process.env.NODE_ENV !== 'production' && 'a function (accessToken) => Observable | Promise',
  );
  checkOption(
    typeof isAuthError === 'function',
    'isAuthError',
    () => process.env.NODE_ENV !== 'production' && 'a function (error) => boolean',
  );
  checkOption(
    visible$ === undefined || typeof visible$?.subscribe === 'function',
    'visible$',
    () => process.env.NODE_ENV !== 'production' && 'an Observable<boolean>',
  );
  checkOption(typeof scheduler?.now === 'function', 'scheduler', () => process.env.NODE_ENV !== 'production' && 'an RxJS scheduler');

  // `authorized` with an identity request is "the token to send now": it waits while a refresh
  // runs and refreshes first when the token is known to expire, so a check never carries a token
  // that is being replaced. The check itself runs outside it: a rejection asks for a refresh with
  // reason 'heartbeat' and is not replayed (the next tick checks the new token).
  const checkOnce = () =>
    auth
      .authorized((current) => of(current))
      .pipe(
        take(1),
        mergeMap((token) =>
          from(check(token)).pipe(
            take(1),
            timeout({ first: intervalMs, scheduler }),
            map((value) => value === false || isAuthError(value)),
            catchError((error: unknown) => of(isAuthError(error))),
            filter((rejected) => rejected && auth.getAccessToken() === token),
            tap(() => void auth.refresh('heartbeat').catch(() => {})),
          ),
        ),
        // No session, or the refresh it waited for failed: refreshFailed or loggedOut stops the ticks.
        catchError(() => EMPTY),
      );

  return (action$) => {
    const session$ = action$.pipe(
      sessionEvents(auth.actions),
      map((session) => session !== null),
      startWith(auth.getAccessToken() !== undefined),
      distinctUntilChanged(),
    );
    const pageVisible$ = (visible$ ?? documentVisible$()).pipe(distinctUntilChanged());
    return combineLatest([session$, pageVisible$]).pipe(
      // Coming back into view checks at once; a login, or the first subscription, waits a period.
      scan(
        (previous, [authenticated, visible]) => ({
          active: authenticated && visible,
          firstDelay: authenticated && visible && previous.seen && !previous.visible ? 0 : intervalMs,
          visible,
          seen: true,
        }),
        { active: false, firstDelay: intervalMs, visible: true, seen: false },
      ),
      distinctUntilChanged((a, b) => a.active === b.active),
      switchMap(({ active, firstDelay }) => (active ? timer(firstDelay, intervalMs, scheduler) : EMPTY)),
      exhaustMap(checkOnce), // one check at a time: a slow server does not pile them up
      ignoreElements(),
    );
  };
}

function documentVisible$(): Observable<boolean> {
  const doc = (globalThis as { document?: Document }).document;
  if (!doc) return of(true);
  const isVisible = () => doc.visibilityState !== 'hidden';
  const focus$ = typeof window === 'undefined' ? EMPTY : fromEvent(window, 'focus');
  return merge(fromEvent(doc, 'visibilitychange'), focus$).pipe(map(isVisible), startWith(isVisible()));
}
