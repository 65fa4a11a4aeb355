import { configureStore, type EnhancedStore, type Middleware, type Reducer, type ThunkDispatch } from '@reduxjs/toolkit';
import type { UnknownAction } from 'redux';
import { combineEpics, createEpicMiddleware, type Epic } from 'redux-observable';
import { Subject, asyncScheduler, defer, map, mergeMap, of, takeUntil, throwError, timer, type Observable, type SchedulerLike } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { createTokenRefresh, type TokenRefresh, type StorageModeOptions, type TokenRefreshState, type Tokens } from '../../src';

export const newTestScheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

/** A 401 the way ajax, fetch wrappers and RTK Query report one. */
export const unauthorized = () => ({ status: 401 });

/**
 * The server side of the unit tests, in virtual time: it decides whether a request's token is valid
 * when it answers (so a request sent before a refresh and answered after it gets a late 401), and
 * rotates tokens on refresh. Every request it sees is recorded with the token it carried.
 */
export class FakeServer {
  generation = 0;
  validAccess = 'access-0';
  validRefresh: string | undefined = 'refresh-0';
  refreshCalls = 0;
  refreshLatency = 5;
  /** What the next refreshes answer: 'ok', a status code to fail with, or 'never'. */
  refreshPlan: Array<'ok' | number | 'never' | 'no-rotate'> = [];
  readonly sent: Array<{ token: string; at: number }> = [];
  readonly refreshesAborted: string[] = [];
  /** The refresh tokens presented, in order. */
  readonly spent: string[] = [];

  /** When set, every token the server issues says when it expires (a known expiry). */
  accessTtl: number | undefined;
  /** The known expiry of each token issued, for checking that none is sent after it. */
  readonly expiries = new Map<string, number>();
  logins = 0;

  /**
   * @param scheduler the latencies' timers; by default `asyncScheduler` (virtual inside
   *   `TestScheduler.run`). A test that steps a TestScheduler itself passes it.
   */
  constructor(
    private readonly now: () => number,
    private readonly scheduler?: SchedulerLike,
  ) {}

  get tokens(): Tokens {
    const expiresAt = this.expiries.get(this.validAccess);
    return expiresAt === undefined
      ? { accessToken: this.validAccess, refreshToken: this.validRefresh }
      : { accessToken: this.validAccess, refreshToken: this.validRefresh, expiresAt };
  }

  /** A new session: new token family, as a login endpoint would issue. */
  login(): Tokens {
    this.logins++;
    this.issue(`access-L${this.logins}`, `refresh-L${this.logins}`);
    return this.tokens;
  }

  private issue(access: string, refresh: string | undefined): void {
    this.validAccess = access;
    this.validRefresh = refresh;
    if (this.accessTtl !== undefined) this.expiries.set(access, this.now() + this.accessTtl);
  }

  request = (token: string, latency = 2, value = 'ok'): Observable<string> =>
    defer(() => {
      this.sent.push({ token, at: this.now() });
      return timer(latency, this.scheduler).pipe(mergeMap(() => (token === this.validAccess ? of(value) : throwError(unauthorized))));
    });

  refresh = (refreshToken: string, { signal }: { signal: AbortSignal }): Observable<Tokens> =>
    defer(() => {
      this.refreshCalls++;
      this.spent.push(refreshToken);
      signal.addEventListener('abort', () => this.refreshesAborted.push(refreshToken));
      const plan = this.refreshPlan.shift() ?? 'ok';
      if (plan === 'never') return timer(1e9, this.scheduler).pipe(map(() => this.tokens));
      return timer(this.refreshLatency, this.scheduler).pipe(
        mergeMap(() => {
          if (typeof plan === 'number') return throwError(() => ({ status: plan, error: plan === 400 ? 'invalid_grant' : undefined }));
          if (refreshToken !== this.validRefresh) return throwError(() => ({ status: 401, error: 'invalid_grant' }));
          this.generation++;
          this.issue(`access-${this.generation}`, plan === 'no-rotate' ? this.validRefresh : `refresh-${this.generation}`);
          return of(plan === 'no-rotate' ? { accessToken: this.validAccess } : this.tokens);
        }),
      );
    });

  sentWith(token: string): number {
    return this.sent.filter((s) => s.token === token).length;
  }
}

export interface StoreOptions {
  /** The app's epics, run next to `auth.epic`. */
  epics?: Array<Epic<UnknownAction, UnknownAction>>;
  /** The root epic instead of `combineEpics(auth.epic, ...epics)` (a hot-reloadable one, say). */
  rootEpic?: Epic<UnknownAction, UnknownAction>;
  /** The epics' third argument (`createEpicMiddleware({ dependencies })`). */
  dependencies?: unknown;
  /** The app's other reducers, next to `auth.reducer` under `auth.reducerPath`. */
  reducers?: Record<string, Reducer>;
  /** The app's middleware (an RTK Query api's), after the epic middleware. */
  middleware?: Middleware[];
  preloadedState?: Record<string, unknown>;
  /** Told every action once the reducers have seen it, before the epics do. */
  onAction?: (action: UnknownAction) => void;
  /** `false`: the store is built, and the epics start only at `store.run()` (an app calling `epicMiddleware.run` late). */
  run?: boolean;
}

/** A Redux store with a recorder: every action it saw, and `auth`'s slice. */
export type TestStore = EnhancedStore<Record<string, unknown>> & {
  /** Thunks too, as `configureStore`'s default middleware lets an app dispatch them (RTK Query's `initiate`). */
  dispatch: ThunkDispatch<Record<string, unknown>, unknown, UnknownAction>;
  /** Every action dispatched, in order (configureStore's own `@@INIT` is not dispatched through middleware). */
  readonly actions: UnknownAction[];
  /** The types of `actions`, without auth's prefix (`tokensSet`, `loggedOut`, and `api/loaded` as is). */
  types(): string[];
  /** `auth`'s slice of the state. */
  readonly state: TokenRefreshState;
  /** Starts the epics of a store built with `run: false`. */
  run(): void;
  /** Unsubscribes the epics: their teardown runs (`auth.epic` detaches and stops listening for `online`). */
  stop(): void;
};

/**
 * The store every suite builds: `configureStore` with `auth.reducer` under `auth.reducerPath` and
 * RTK's default middleware (the serializability and immutability checks included), the epic
 * middleware running `auth.epic` and the app's epics, as an app wires it (README quick start).
 */
export function createStore<Name extends string>(auth: TokenRefresh<Name>, options: StoreOptions = {}): TestStore {
  const { epics = [], dependencies, reducers = {}, middleware = [], preloadedState, onAction, run = true } = options;
  const actions: UnknownAction[] = [];
  const record: Middleware = () => (next) => (action) => {
    actions.push(action as UnknownAction);
    const result = next(action);
    onAction?.(action as UnknownAction);
    return result;
  };
  const epicMiddleware = createEpicMiddleware<UnknownAction, UnknownAction>({ dependencies });
  // The checks' timing warnings only (a slow CI machine) are off; the checks themselves run.
  const checks = { immutableCheck: { warnAfter: Infinity }, serializableCheck: { warnAfter: Infinity } };
  const reducer: Record<string, Reducer> = { [auth.reducerPath]: auth.reducer as Reducer, ...reducers };
  const store = configureStore({
    reducer,
    preloadedState,
    middleware: (getDefault) => getDefault(checks).concat(epicMiddleware as Middleware, record, ...middleware),
  });
  const stopped = new Subject<void>();
  const root = options.rootEpic ?? combineEpics(auth.epic as Epic<UnknownAction, UnknownAction>, ...epics);
  const prefix = `${auth.reducerPath}/`;
  const testStore = Object.defineProperties(store, {
    actions: { value: actions },
    types: { value: () => actions.map((a) => (a.type.startsWith(prefix) ? a.type.slice(prefix.length) : a.type)) },
    state: { get: () => (store.getState() as Record<string, TokenRefreshState>)[auth.reducerPath] },
    run: { value: () => epicMiddleware.run((action$, state$, deps) => root(action$, state$, deps).pipe(takeUntil(stopped))) },
    stop: { value: () => stopped.next() },
  }) as TestStore;
  if (run) testStore.run();
  return testStore;
}

/** An auth object wired to a FakeServer, logged in with its current tokens. */
export function setup(options: Partial<StorageModeOptions> = {}, now = () => asyncScheduler.now()) {
  const server = new FakeServer(now);
  const auth = createTokenRefresh({ refresh: server.refresh, ...options });
  const store = createStore(auth);
  auth.setTokens(server.tokens);
  return { server, auth, store };
}

/** A token that decodes like a JWT (the unit under test reads claims, not signatures). */
export function fakeJwt(claims: Record<string, unknown>): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.sig`;
}
