import type { Reducer, UnknownAction } from './reduxTypes';
import { asyncScheduler, type Observable, type ObservableInput, type SchedulerLike } from 'rxjs';
import type { Epic } from './reduxTypes';
import { createRefreshEpic, type RefreshFn } from '../epics/refreshEpic';
import { createAuthActions, type AuthActions, type RefreshReason } from './actions';
import { createAuthorized } from './authorized';
import { isDuration, optionChecker } from './checkOption';
import { createCoordinator } from './coordinator';
import { isTransientError as defaultIsTransientError, isUnauthorized } from './httpErrors';
import { createAuthReducer, type TokenRefreshState } from './reducer';
import { memoryStorage, type TokenStorage } from './storage';
import type { Tokens } from './tokens';

const check = optionChecker('createTokenRefresh');

export interface TokenRefreshOptions<Name extends string = 'tokenRefresh'> {
  /**
   * Calls your refresh endpoint with the refresh token and answers with the new tokens. Return an
   * Observable, a Promise or anything RxJS's `from` takes. Abort the request when `signal` aborts
   * (logout, timeout). If it goes through a client wrapped by `attachAxios` or `authFetch`, pass
   * `signal` on: that is how the adapters know it is the refresh and let it through instead of
   * making it wait for itself.
   */
  refresh: RefreshFn;
  /**
   * Where tokens are kept between requests and page loads.
   * @default memoryStorage()
   */
  storage?: TokenStorage;
  /**
   * Whether an error thrown by a request means "the access token was not accepted".
   * @default HTTP 401 from ajax, fetch, RTK Query or axios errors (`isUnauthorized`)
   */
  isAuthError?: (error: unknown) => boolean;
  /**
   * How often one call may be refreshed and replayed before it fails with `RetryLimitError`.
   * @default 1
   */
  maxRetries?: number;
  /**
   * How long a refresh, retries included, may take before it fails with `RefreshTimeoutError`.
   * @default 10_000
   */
  refreshTimeoutMs?: number;
  /**
   * How often a refresh that failed transiently (network, 408, 429, 5xx) is tried again.
   * @default 2
   */
  refreshRetries?: number;
  /**
   * The first backoff before a refresh retry; it doubles with each retry.
   * @default 500
   */
  refreshBackoffMs?: number;
  /**
   * Which refresh failures are transient and worth retrying.
   * @default network errors, timeouts, status 0, 408, 429 and 5xx (`isTransientError`)
   */
  isTransientError?: (error: unknown) => boolean;
  /**
   * A request made this long before the access token's known expiry refreshes first (but never
   * before half its lifetime has passed).
   * @default 30_000
   */
  expirySkewMs?: number;
  /**
   * The prefix of the action types, and the key to mount the reducer under (`auth.reducerPath`).
   * @default 'tokenRefresh'
   */
  name?: Name;
  /**
   * The clock and timers (expiry, timeout, backoff). Tests get virtual time from
   * `TestScheduler.run` without passing anything.
   * @default asyncScheduler
   */
  scheduler?: SchedulerLike;
}

export interface TokenRefresh<Name extends string = 'tokenRefresh'> {
  /** Add to your root epic. It performs refreshes and tells the store about them. */
  readonly epic: Epic<unknown, UnknownAction, unknown, unknown>;
  /** Mount under `reducerPath`: the session's status, expiry and last error, never a token. */
  readonly reducer: Reducer<TokenRefreshState, UnknownAction, TokenRefreshState | undefined>;
  /** The reducer's key in the root state: the `name` option. */
  readonly reducerPath: Name;
  /** RTK action creators with `.match`: `tokensSet`, `refreshRequested`, `refreshSucceeded`, `refreshFailed`, `loggedOut`. */
  readonly actions: AuthActions;
  /**
   * Runs `request` with the current access token, waiting for a refresh first when one is running
   * or the token is known to expire; on an auth error it refreshes (once for every concurrent
   * caller) and runs `request` again with the new token.
   */
  authorized<T>(request: (accessToken: string) => ObservableInput<T>): Observable<T>;
  /** Store the tokens of a login. Requests waiting for a refresh are replayed with them. */
  setTokens(tokens: Tokens): void;
  /** Log out: clears the tokens, cancels a running refresh, fails waiting requests, dispatches `loggedOut`. */
  clearTokens(): void;
  /** Refresh now, or join the running refresh. Resolves when it succeeded, rejects with its error. */
  refresh(reason?: RefreshReason): Promise<void>;
  /**
   * The `isAuthError` this coordinator was created with, so that adapters (fetch, axios, RTK
   * Query) decide "token not accepted" exactly as `authorized` does.
   */
  readonly isAuthError: (error: unknown) => boolean;
  /** The access token to send now, without waiting: `undefined` when logged out. Prefer `authorized`. */
  getAccessToken(): string | undefined;
  /** Selects this package's slice from the root state. */
  selectState(rootState: Record<Name, TokenRefreshState>): TokenRefreshState;
}

/**
 * Creates the refresh coordinator for one store: an epic to add to your root epic, a reducer, the
 * actions, and the `authorized` operator for your own epics.
 *
 * @example
 * ```ts
 * const auth = createTokenRefresh({
 *   refresh: (refreshToken, { signal }) =>
 *     fetch('/auth/refresh', { method: 'POST', body: JSON.stringify({ refreshToken }), signal })
 *       .then(r => (r.ok ? r.json() : Promise.reject(r))),
 * });
 *
 * const fetchUserEpic: Epic = action$ => action$.pipe(
 *   filter(fetchUser.match),
 *   mergeMap(({ payload }) => auth.authorized(token =>
 *       ajax.getJSON(`/api/users/${payload}`, { Authorization: `Bearer ${token}` })).pipe(
 *     map(fetchUserSucceeded),
 *     catchError(error => of(fetchUserFailed(String(error)))))));
 *
 * const epicMiddleware = createEpicMiddleware();
 * const store = configureStore({
 *   reducer: { [auth.reducerPath]: auth.reducer, user: userReducer },
 *   middleware: getDefault => getDefault().concat(epicMiddleware),
 * });
 * epicMiddleware.run(combineEpics(auth.epic, fetchUserEpic));
 * auth.setTokens(await login(credentials));
 * ```
 */
export function createTokenRefresh<Name extends string = 'tokenRefresh'>(
  options: TokenRefreshOptions<Name>,
): TokenRefresh<Name> {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('createTokenRefresh: pass an options object, e.g. createTokenRefresh({ refresh }).');
  }
  const {
    refresh,
    storage = memoryStorage(),
    isAuthError = isUnauthorized,
    maxRetries = 1,
    refreshTimeoutMs = 10_000,
    refreshRetries = 2,
    refreshBackoffMs = 500,
    isTransientError = defaultIsTransientError,
    expirySkewMs = 30_000,
    name = 'tokenRefresh' as Name,
    scheduler = asyncScheduler,
  } = options;
  // The full check is for development, where mistakes are made; bundlers drop it from production
  // builds. `refresh` is checked everywhere: without it nothing works, and late is worse than early.
  check(typeof refresh === 'function', 'refresh', 'a function (refreshToken, { signal }) => Observable | Promise of { accessToken, refreshToken? }');
  if (process.env.NODE_ENV !== 'production') {
    check(typeof storage?.get === 'function' && typeof storage.set === 'function' && typeof storage.clear === 'function', 'storage', 'an object with get(), set(tokens) and clear(), e.g. memoryStorage() or localStorageStorage(key)');
    check(typeof isAuthError === 'function', 'isAuthError', 'a function (error) => boolean');
    check(typeof isTransientError === 'function', 'isTransientError', 'a function (error) => boolean');
    check(Number.isInteger(maxRetries) && maxRetries >= 0, 'maxRetries', 'a whole number >= 0');
    check(Number.isInteger(refreshRetries) && refreshRetries >= 0, 'refreshRetries', 'a whole number >= 0');
    check(isDuration(refreshTimeoutMs) && refreshTimeoutMs > 0, 'refreshTimeoutMs', 'a number of milliseconds > 0');
    check(isDuration(refreshBackoffMs), 'refreshBackoffMs', 'a number of milliseconds >= 0');
    check(isDuration(expirySkewMs), 'expirySkewMs', 'a number of milliseconds >= 0');
    check(typeof name === 'string' && name !== '', 'name', 'a non-empty string');
    check(typeof scheduler?.now === 'function', 'scheduler', 'an RxJS scheduler');
  }

  const actions = createAuthActions(name);
  const coordinator = createCoordinator({ storage, actions, now: () => scheduler.now(), expirySkewMs });
  return {
    epic: createRefreshEpic({
      coordinator,
      actions,
      storage,
      refresh,
      refreshTimeoutMs,
      refreshRetries,
      refreshBackoffMs,
      isTransientError,
      scheduler,
    }),
    reducer: createAuthReducer(actions, () => coordinator.snapshot()),
    reducerPath: name,
    actions,
    authorized: createAuthorized(coordinator, { isAuthError, maxRetries }),
    setTokens: (tokens) => coordinator.setTokens(tokens),
    clearTokens: () => coordinator.logout(true),
    refresh: (reason = 'manual') =>
      new Promise((resolve, reject) => {
        try {
          coordinator.refresh(reason).subscribe({ complete: resolve, error: reject });
        } catch (error) {
          reject(error);
        }
      }),
    isAuthError,
    getAccessToken: () => coordinator.accessToken,
    selectState: (rootState) => rootState[name],
  };
}
