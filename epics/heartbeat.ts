import type { UnknownAction } from 'redux';
import type { Epic } from 'redux-observable';
import {
  EMPTY,
  asyncScheduler,
  catchError,
  combineLatest,
  defer,
  distinctUntilChanged,
  exhaustMap,
  filter,
  from,
  fromEvent,
  ignoreElements,
  map,
  merge,
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
import type { TokenRefresh } from '../src/createTokenRefresh';
import { isUnauthorized } from '../src/httpErrors';

/** What the epic needs of the object `createTokenRefresh` returns. */
export type HeartbeatAuth = Pick<TokenRefresh<string>, 'actions' | 'refresh' | 'getAccessToken'>;

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
  if (typeof auth?.refresh !== 'function' || typeof auth.getAccessToken !== 'function' || typeof auth.actions?.tokensSet?.match !== 'function') {
    throw new TypeError('createHeartbeatEpic: the first argument must be the object createTokenRefresh() returns.');
  }
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('createHeartbeatEpic: pass an options object, e.g. createHeartbeatEpic(auth, { intervalMs, check }).');
  }
  const { intervalMs, check, isAuthError = isUnauthorized, visible$, scheduler = asyncScheduler } = options;
  if (typeof intervalMs !== 'number' || !Number.isFinite(intervalMs) || intervalMs <= 0) {
    throw new TypeError('createHeartbeatEpic: option "intervalMs" must be a number of milliseconds > 0.');
  }
  if (typeof check !== 'function') throw new TypeError('createHeartbeatEpic: option "check" must be a function (accessToken) => Observable | Promise.');
  if (typeof isAuthError !== 'function') throw new TypeError('createHeartbeatEpic: option "isAuthError" must be a function (error) => boolean.');
  if (visible$ !== undefined && typeof visible$?.subscribe !== 'function') {
    throw new TypeError('createHeartbeatEpic: option "visible$" must be an Observable<boolean>.');
  }
  if (typeof scheduler?.now !== 'function') throw new TypeError('createHeartbeatEpic: option "scheduler" must be an RxJS scheduler.');
  const { tokensSet, refreshSucceeded, loggedOut, refreshFailed } = auth.actions;

  const checkOnce = () =>
    defer(() => {
      const token = auth.getAccessToken();
      if (token === undefined) return EMPTY;
      return from(check(token)).pipe(
        take(1),
        timeout({ first: intervalMs, scheduler }),
        map((value) => value === false || isAuthError(value)),
        catchError((error: unknown) => of(isAuthError(error))),
        filter((rejected) => rejected && auth.getAccessToken() === token),
        tap(() => void auth.refresh('heartbeat').catch(() => {})),
      );
    });

  return (action$) => {
    const session$ = action$.pipe(
      filter((action) => tokensSet.match(action) || refreshSucceeded.match(action) || loggedOut.match(action) || refreshFailed.match(action)),
      map((action) => tokensSet.match(action) || refreshSucceeded.match(action)),
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
