/**
 * In-process costs of this package, without a server: per-request overhead of `auth.authorized`,
 * the time to release callers waiting on one refresh, and what 100 refresh cycles leave on the heap
 * and on `action$`. The transport is a synchronous fake (`of(...)` / `throwError(401)`) so the
 * figures are the package's own work, not I/O.
 */
import type { UnknownAction } from 'redux';
import { StateObservable } from 'redux-observable';
import { Observable, Subject, catchError, defer, filter, mergeMap, of, take, takeUntil, throwError } from 'rxjs';
import { Bench } from 'tinybench';
import { createTokenRefresh, type TokenRefresh, type Tokens } from '../src/index';

/** An action stream that counts who is subscribed to it: the figure "subscribers on action$". */
function countedActions() {
  const action$ = new Subject<UnknownAction>();
  const counter = { subscribers: 0 };
  const counted$ = new Observable<UnknownAction>((subscriber) => {
    counter.subscribers++;
    const inner = action$.subscribe(subscriber);
    return () => {
      counter.subscribers--;
      inner.unsubscribe();
    };
  });
  return { action$, counted$, counter };
}

/** A store-like loop around `auth.epic` that counts who is subscribed to `action$`. */
function runAuth(refresh: () => Observable<Tokens>) {
  const { action$, counted$, counter } = countedActions();
  const auth = createTokenRefresh({ refresh });
  const state$ = new StateObservable(new Subject(), auth.reducer(undefined, { type: '@@INIT' }));
  const subscription = auth.epic(counted$, state$, undefined).subscribe((action) => action$.next(action));
  // Opaque tokens: no expiry known, so the per-request path never refreshes on its own.
  auth.setTokens({ accessToken: 'access-0', refreshToken: 'refresh-0' });
  return { auth, action$, subscribers: () => counter.subscribers, stop: () => subscription.unsubscribe() };
}

/** A refresh the test answers by hand: each call is a Subject, settled with `answer()`. */
function manualRefresh() {
  let generation = 0;
  let pending: Subject<Tokens> | undefined;
  return {
    refresh: () => (pending = new Subject<Tokens>()),
    /** The access token the next answer carries (the fake API accepts it before it lands). */
    next: () => `access-${generation + 1}`,
    /** The refresh lands: new tokens, synchronously, to everyone waiting. */
    answer(): string {
      generation++;
      const tokens = { accessToken: `access-${generation}`, refreshToken: `refresh-${generation}` };
      const subject = pending!;
      pending = undefined;
      subject.next(tokens);
      subject.complete();
      return tokens.accessToken;
    },
  };
}

export interface OverheadResult {
  /** requests per second */
  bareHz: number;
  authorizedHz: number;
  /** bare / authorized: how many times slower a request is through `auth.authorized` */
  ratio: number;
  /** extra nanoseconds per request */
  overheadNs: number;
}

/**
 * `auth.authorized(token => of(token))` vs `defer(() => of(token))`, each subscribed to completion.
 * Each tinybench iteration runs BATCH requests: one request is well under a microsecond, finer than
 * a single timer read can resolve.
 */
export async function measureOverhead(timeMs = 1_000): Promise<OverheadResult> {
  const BATCH = 100;
  const { auth, stop } = runAuth(() => of({ accessToken: 'unused' }));
  const token = 'access-0';
  const transport = (accessToken: string) => of(accessToken);
  const noop = () => undefined;
  const bench = new Bench({ time: timeMs, warmupTime: 200 });
  bench
    .add('bare defer()', () => {
      for (let i = 0; i < BATCH; i++) defer(() => transport(token)).subscribe(noop);
    })
    .add('auth.authorized', () => {
      for (let i = 0; i < BATCH; i++) auth.authorized(transport).subscribe(noop);
    });
  await bench.run();
  stop();
  const hz = (name: string) => {
    const result = bench.getTask(name)!.result;
    if (result.state !== 'completed') throw new Error(`tinybench task ${name}: ${result.state}`);
    return result.throughput.mean * BATCH;
  };
  const bareHz = hz('bare defer()');
  const authorizedHz = hz('auth.authorized');
  return { bareHz, authorizedHz, ratio: bareHz / authorizedHz, overheadNs: 1e9 / authorizedHz - 1e9 / bareHz };
}

export interface ReleaseResult {
  client: string;
  size: number;
  /** From the refresh landing to the last waiting call completing. */
  ms: number;
  /** ms / size in microseconds */
  usPerCall: number;
  /** Subscribers on action$ while the calls wait (this package: the epic's own, whatever the size). */
  subscribersWhileWaiting: number;
}

/**
 * `size` calls wait on one refresh (the first call's 401 starts it; the rest find it running), then
 * the refresh answers synchronously and every call is replayed through the fake transport.
 */
export function measureRelease(size: number): ReleaseResult {
  const manual = manualRefresh();
  const { auth, subscribers, stop } = runAuth(manual.refresh);
  let current = 'expired'; // access-0 is rejected: the first call starts the refresh, the rest wait on it
  const transport = (token: string) => (token === current ? of(1) : throwError(() => ({ status: 401 })));
  let completed = 0;
  for (let i = 0; i < size; i++) auth.authorized(transport).subscribe({ complete: () => completed++ });
  const subscribersWhileWaiting = subscribers();
  current = manual.next();
  const started = performance.now();
  manual.answer();
  const ms = performance.now() - started;
  stop();
  if (completed !== size) throw new Error(`release: ${completed} of ${size} calls completed`);
  return { client: 'redux-observable-token-refresh', size, ms, usPerCall: (ms * 1000) / size, subscribersWhileWaiting };
}

/**
 * The same measurement for the seed-000 pattern, for reference: each waiting call is a
 * `take(1)` + `takeUntil` subscription on action$, released by one REFRESH_TOKEN_SUCCESS.
 */
export function measureSeedRelease(size: number): ReleaseResult {
  const { action$, counted$, counter } = countedActions();
  const ofType = (type: string) => filter((action: UnknownAction) => action.type === type);
  const state = { accessToken: 'expired' };
  let valid = 'access-0';
  const getData = (token: string) => (token === valid ? of(1) : throwError(() => ({ status: 401 })));
  let completed = 0;
  for (let i = 0; i < size; i++) {
    defer(() => getData(state.accessToken))
      .pipe(
        catchError((_error, source) =>
          counted$.pipe(
            ofType('REFRESH_TOKEN_SUCCESS'),
            takeUntil(counted$.pipe(ofType('REFRESH_TOKEN_FAILURE'))),
            take(1),
            mergeMap(() => source),
          ),
        ),
      )
      .subscribe({ complete: () => completed++ });
  }
  const subscribersWhileWaiting = counter.subscribers;
  const started = performance.now();
  valid = state.accessToken = 'access-1';
  action$.next({ type: 'REFRESH_TOKEN_SUCCESS' });
  const ms = performance.now() - started;
  if (completed !== size) throw new Error(`seed release: ${completed} of ${size} calls completed`);
  return { client: 'seed-000 pattern (reference)', size, ms, usPerCall: (ms * 1000) / size, subscribersWhileWaiting };
}

export interface MemoryResult {
  calls: number;
  cycles: number;
  /** heapUsed after GC, after the cycles minus before them */
  retainedBytes: number;
  heapBeforeBytes: number;
  heapAfterBytes: number;
  /** Subscribers left on action$ once every call completed. */
  subscribersLeft: number;
  /** Subscribers on action$ before any call: the epic's own. */
  subscribersAtStart: number;
}

/**
 * 100 refresh cycles of 1,000 calls each: every call meets a 401, waits for the cycle's refresh
 * and is replayed. Needs `node --expose-gc`.
 */
export function measureMemory(cycles = 100, callsPerCycle = 1_000): MemoryResult {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('measureMemory needs node --expose-gc');
  const manual = manualRefresh();
  const { auth, subscribers, stop } = runAuth(manual.refresh);
  let current = 'expired';
  const transport = (token: string) => (token === current ? of(1) : throwError(() => ({ status: 401 })));
  const subscribersAtStart = subscribers();
  const cycle = (instance: TokenRefresh) => {
    let completed = 0;
    for (let i = 0; i < callsPerCycle; i++) instance.authorized(transport).subscribe({ complete: () => completed++ });
    current = manual.next();
    manual.answer();
    if (completed !== callsPerCycle) throw new Error(`memory: ${completed} of ${callsPerCycle} calls completed`);
  };
  // One cycle first: what a first cycle allocates for good (JIT, caches) is not a leak.
  cycle(auth);
  current = 'stale-again'; // the next cycle's calls meet a 401 again
  gc();
  gc();
  const heapBeforeBytes = process.memoryUsage().heapUsed;
  for (let c = 0; c < cycles; c++) {
    cycle(auth);
    current = `stale-${c}`;
  }
  gc();
  gc();
  const heapAfterBytes = process.memoryUsage().heapUsed;
  const subscribersLeft = subscribers();
  stop();
  return {
    calls: cycles * callsPerCycle,
    cycles,
    retainedBytes: heapAfterBytes - heapBeforeBytes,
    heapBeforeBytes,
    heapAfterBytes,
    subscribersLeft,
    subscribersAtStart,
  };
}
