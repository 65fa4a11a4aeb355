import type { Reducer, UnknownAction } from './reduxTypes';
import { asyncScheduler, type Observable, type ObservableInput, type SchedulerLike } from 'rxjs';
import type { Epic } from './reduxTypes';
import { createRefreshEpic, type CookieRefreshFn, type RefreshFn } from './refresh/refreshEpic';
import { createAuthActions, type AuthActions, type RefreshReason } from './actions';
import { createAuthorized, type AuthorizedOptions } from './authorized';
import { isDuration, optionChecker } from './checkOption';
import { createCoordinator } from './coordinator';
import { RefreshUnavailableError } from './errors';
import { typeError } from './message';
import { isSessionEnded as defaultIsSessionEnded, isTransientError as defaultIsTransientError, isUnauthorized } from './httpErrors';
import { createAuthReducer, type AuthStatus, type TokenRefreshState } from './reducer';
import { memoryStorage } from './storage/memory';
import type { TokenStorage } from './storage/types';
import type { CookieSession } from './cookie';
import type { SharedStorage } from './tabs/share';
import type { Tokens } from './tokens';

const check = optionChecker('createTokenRefresh');

interface BaseOptions<Name extends string> {
  /**
   * Where tokens are kept between requests and page loads: `memoryStorage()`, `localStorageStorage(key)`,
   * `asyncStorage(backend, key)`, or your own. `syncTabs(storage, name)` keeps the tabs of an origin in
   * step for one that does not do it itself (`localStorageStorage` does).
   * @default memoryStorage()
   */
  storage?: TokenStorage;
  /**
   * Whether an error thrown by a request means "the access token was not accepted".
   * @default HTTP 401 from ajax, fetch, RTK Query or axios errors (`isUnauthorized`)
   */
  isAuthError?: (error: unknown) => boolean;
  /**
   * Whether a failed refresh means the server ended the session (the only failure that logs out).
   * @default HTTP 400 (`invalid_grant`), 401, 403 (`isSessionEnded`)
   */
  isSessionEnded?: (error: unknown) => boolean;
  /**
   * How often one call may be refreshed and replayed before it fails with `RetryLimitError`. `0`:
   * a 401 refreshes the token for the next call but the call itself is not replayed.
   * @default 1
   */
  maxRetries?: number;
  /**
   * How long a refresh, retries included, may take; then it counts as "could not refresh now".
   * @default 10_000
   */
  refreshTimeoutMs?: number;
  /**
   * How often a refresh that failed transiently (network, 408, 429, 5xx) is tried again at once.
   * @default 2
   */
  refreshRetries?: number;
  /**
   * The first backoff before a refresh retry; it doubles with each retry. After the retries, the
   * cool-down before requests may try again starts at twice this and doubles up to 30 s.
   * @default 500
   */
  refreshBackoffMs?: number;
  /**
   * Which refresh failures are transient and worth retrying at once.
   * @default network errors, timeouts, status 0, 408, 429, 5xx and non-JSON answers (`isTransientError`)
   */
  isTransientError?: (error: unknown) => boolean;
  /**
   * A request made this long before the access token's known expiry refreshes first (but never
   * before half its lifetime has passed).
   * @default 30_000
   */
  expirySkewMs?: number;
  /**
   * The prefix of the action types, the key to mount the reducer under (`auth.reducerPath`), and
   * the name of the tabs' channel and lock with `cookieSession()`.
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

/** The refresh token is kept by the package (memory, localStorage, async storage) and passed to `refresh`. */
export interface StorageModeOptions<Name extends string = 'tokenRefresh'> extends BaseOptions<Name> {
  /** @default 'storage' */
  refreshTokenIn?: 'storage';
  session?: undefined;
  /**
   * Calls your refresh endpoint with the refresh token and answers with the new tokens. Return an
   * Observable, a Promise or anything RxJS's `from` takes. Abort the request when `signal` aborts
   * (logout, timeout). If it goes through a client wrapped by `attachAxios` or `authFetch`, pass
   * `signal` on: that is how the adapters know it is the refresh and let it through.
   */
  refresh: RefreshFn;
}

/**
 * The refresh token lives in an HttpOnly cookie that scripts cannot read: the package never sees,
 * stores or passes one. `setTokens({ accessToken })` is the login; at page load the session is
 * restored from the cookie.
 */
export interface CookieModeOptions<Name extends string = 'tokenRefresh'> extends BaseOptions<Name> {
  /** `cookieSession()` from `redux-observable-token-refresh/cookie`. */
  session: CookieSession;
  refreshTokenIn?: undefined;
  /** Calls your refresh endpoint with the cookie (`credentials: 'include'`); its first argument is `undefined`. */
  refresh: CookieRefreshFn;
}

/**
 * The options of `createTokenRefresh`: one of two session models. A refresh function written as
 * `(_refreshToken, { signal }) => ...` fits both.
 */
export type TokenRefreshOptions<Name extends string = 'tokenRefresh'> = StorageModeOptions<Name> | CookieModeOptions<Name>;

/**
 * What `createTokenRefresh` returns: the epic and reducer for your store, the actions, and the
 * operator and methods your code and the adapters use.
 *
 * @example
 * ```ts
 * export const auth: TokenRefresh = createTokenRefresh({ refresh });
 * epicMiddleware.run(combineEpics(auth.epic, rootEpic));
 * ```
 */
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
  authorized<T>(request: (accessToken: string) => ObservableInput<T>, options?: AuthorizedOptions): Observable<T>;
  /**
   * Store the tokens of a login. A request started in another user's session is never replayed with
   * them: it fails with `LoggedOutError`. Requests waiting for a refresh go on with them if it is the
   * same user: the JWT `sub` is the same, or you say so with `{ sameUser: true }`.
   */
  setTokens(tokens: Tokens, options?: { sameUser?: boolean }): void;
  /** Log out: clears the tokens, cancels a running refresh, fails waiting requests, dispatches `loggedOut`. */
  clearTokens(): void;
  /** Refresh now, or join the running refresh. Resolves when it succeeded, rejects with its error. */
  refresh(reason?: RefreshReason): Promise<void>;
  /**
   * Ask for the session once at page load: wait for an async storage to be read, and in cookie mode
   * refresh once from the cookie. Resolves `true` with a session, `false` without one (quietly: the
   * app shows its login page); rejects with `RefreshUnavailableError` when it cannot tell now
   * (offline). Requests made meanwhile wait for it. Calling it twice joins the first.
   */
  restore(): Promise<boolean>;
  /** The session's status now, as the reducer shows it: for code outside Redux. */
  getStatus(): AuthStatus;
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
export function createTokenRefresh<Name extends string = 'tokenRefresh'>(options: CookieModeOptions<Name>): TokenRefresh<Name>;
export function createTokenRefresh<Name extends string = 'tokenRefresh'>(options: StorageModeOptions<Name>): TokenRefresh<Name>;
export function createTokenRefresh<Name extends string = 'tokenRefresh'>(options: TokenRefreshOptions<Name>): TokenRefresh<Name>;
export function createTokenRefresh<Name extends string = 'tokenRefresh'>(options: TokenRefreshOptions<Name>): TokenRefresh<Name> {
  if (typeof options !== 'object' || options === null) {
    throw typeError(
      'INVALID_ARGUMENT',
      () => process.env.NODE_ENV !== 'production' && 'createTokenRefresh: pass an options object, e.g. createTokenRefresh({ refresh }).',
      'createTokenRefresh',
    );
  }
  const {
    refresh,
    session,
    isAuthError = isUnauthorized,
    isSessionEnded = defaultIsSessionEnded,
    maxRetries = 1,
    refreshTimeoutMs = 10_000,
    refreshRetries = 2,
    refreshBackoffMs = 500,
    isTransientError = defaultIsTransientError,
    expirySkewMs = 30_000,
    name = 'tokenRefresh' as Name,
    scheduler = asyncScheduler,
  } = options;
  const cookie = !!session;
  const storage = session ? session.storage(name, options.storage) : (options.storage ?? memoryStorage());
  // Checked in every build: a wrong type here ('1' for 1) would loop or hang in production. The rest
  // is for development, where mistakes are made; bundlers drop it from production builds.
  check(
    typeof refresh === 'function',
    'refresh',
    () => process.env.NODE_ENV !== 'production' && 'a function (refreshToken, { signal }) => Observable | Promise of tokens',
  );
  // The forms before the session models became modules an app imports: say what to write now.
  const old = options as { refreshTokenIn?: unknown; syncTabs?: unknown };
  check(
    old.refreshTokenIn === undefined || (old.refreshTokenIn === 'storage' && !session),
    'refreshTokenIn',
    () =>
      process.env.NODE_ENV !== 'production' &&
      (session
        ? 'left out with session: cookieSession()'
        : "'storage' or left out. For the refresh token in an HttpOnly cookie write session: cookieSession(), with import { cookieSession } from 'redux-observable-token-refresh/cookie'"),
  );
  check(
    old.syncTabs === undefined || (old.syncTabs === false && !session),
    'syncTabs',
    () =>
      process.env.NODE_ENV !== 'production' &&
      (session
        ? 'left out: cookieSession() keeps the tabs in step; cookieSession({ syncTabs: false }) does not'
        : `left out: tab sync is a storage you import. Write storage: syncTabs(memoryStorage(), '${name}'), with import { memoryStorage, syncTabs } from 'redux-observable-token-refresh' (localStorageStorage(key) keeps the tabs in step already)`),
  );
  // A storage that tells of other tabs' writes, or locks across them, takes part in their session
  // only through syncTabs: its lock would otherwise never be taken.
  check(
    !(storage?.subscribe ?? storage?.lock) || typeof (storage as Partial<SharedStorage>).connect === 'function',
    'storage',
    () =>
      process.env.NODE_ENV !== 'production' &&
      `wrapped in syncTabs(storage, '${name}') when it has subscribe() or lock(), so that the tabs share one session`,
  );
  for (const [option, value] of Object.entries({ maxRetries, refreshRetries, refreshTimeoutMs, refreshBackoffMs, expirySkewMs })) {
    check(
      isDuration(value) && (option.endsWith('Ms') || Number.isInteger(value)) && (value > 0 || option !== 'refreshTimeoutMs'),
      option,
      () => process.env.NODE_ENV !== 'production' && 'a number >= 0',
    );
  }
  try {
    if (process.env.NODE_ENV !== 'production') {
      check(
        typeof storage?.get === 'function' && typeof storage.set === 'function' && typeof storage.clear === 'function',
        'storage',
        () => 'an object with get(), set(tokens) and clear()',
      );
      for (const [option, value] of Object.entries({ isAuthError, isSessionEnded, isTransientError }))
        check(typeof value === 'function', option, () => 'a function (error) => boolean');
      check(typeof name === 'string' && name !== '', 'name', () => 'a non-empty string');
      check(typeof scheduler?.now === 'function', 'scheduler', () => 'an RxJS scheduler');
    }
  } catch (error) {
    // Without `process` (an ES module loaded without a bundler) these checks are skipped.
    if (!(error instanceof ReferenceError)) throw error;
  }

  const actions = createAuthActions(name);
  const coordinator = createCoordinator({
    storage,
    actions,
    now: () => scheduler.now(),
    expirySkewMs,
    retryBackoffMs: refreshBackoffMs,
    cookie,
    hydrationTimeoutMs: refreshTimeoutMs,
    scheduler,
  });
  const settled = (run: () => Observable<never>) =>
    new Promise<void>((resolve, reject) => {
      try {
        run().subscribe({ complete: resolve, error: reject });
      } catch (error) {
        reject(error);
      }
    });
  return {
    epic: createRefreshEpic({
      coordinator,
      actions,
      refresh,
      cookie,
      refreshTimeoutMs,
      refreshRetries,
      refreshBackoffMs,
      isTransientError,
      isSessionEnded,
      scheduler,
    }),
    reducer: createAuthReducer(`${name}/`, (action) => coordinator.project(action)),
    reducerPath: name,
    actions,
    authorized: createAuthorized(coordinator, { isAuthError, maxRetries }),
    setTokens: (tokens, { sameUser = false } = {}) => coordinator.setTokens(tokens, sameUser),
    clearTokens: () => coordinator.logout(true),
    refresh: (reason = 'manual') => settled(() => coordinator.refresh(reason)),
    restore: () =>
      settled(() => coordinator.restore()).then(
        () => coordinator.accessToken !== undefined,
        (error: unknown) => {
          if (error instanceof RefreshUnavailableError) throw error;
          return false;
        },
      ),
    getStatus: () => coordinator.status(),
    isAuthError,
    getAccessToken: () => coordinator.accessToken,
    selectState: (rootState) => rootState[name],
  };
}
