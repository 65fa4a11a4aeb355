/**
 * Test doubles for what storage and clocks do in the real world.
 *
 * - `faultyStorage()`: a token storage (synchronous, or with `{ async: true }` one whose operations
 *   return Promises, like React Native's AsyncStorage) that keeps tokens like `memoryStorage()` but
 *   can be told to fail: `get`, `set` or `clear` throw (QuotaExceededError, SecurityError, ...) or
 *   return a rejecting Promise, once, N times or until healed. An async one can also hold an
 *   operation pending until the test releases it, to observe what happens meanwhile without sleeping.
 * - `jumpingClock()`: a scheduler whose `now()` can jump forwards or backwards (a laptop waking up,
 *   the user fixing the system clock) while its timers keep their own course. Inside
 *   `TestScheduler.run` the default base, `asyncScheduler`, is virtual, so it runs in virtual time.
 */
import { asyncScheduler, type SchedulerAction, type SchedulerLike, type Subscription } from 'rxjs';
import type { Tokens } from '../../src';

export type StorageOperation = 'get' | 'set' | 'clear';

export interface StorageFault {
  /** 'throw' synchronously, or 'reject': return a Promise that rejects. @default 'throw' */
  how?: 'throw' | 'reject';
  /** How many calls fail; `Infinity` until `heal()`. @default Infinity */
  times?: number;
  /** What is thrown. @default the error a browser throws for the operation (see `storageErrors`) */
  error?: () => unknown;
}

export interface StorageCall {
  operation: StorageOperation;
  outcome: 'ok' | 'threw' | 'rejected' | 'pending';
  /** The tokens given to `set`. */
  tokens?: Tokens;
}

/** What browsers throw: a full quota on write, a blocked storage (privacy settings) on read. */
export const storageErrors: Record<StorageOperation, () => Error> = {
  get: () => new DOMException('The operation is insecure.', 'SecurityError'),
  set: () =>
    new DOMException("Failed to execute 'setItem' on 'Storage': Setting the value of 'tokens' exceeded the quota.", 'QuotaExceededError'),
  clear: () => new DOMException('The operation is insecure.', 'SecurityError'),
};

interface Control {
  /** What is really stored now (a failed `set` or `clear` changes nothing). */
  readonly stored: Tokens | null;
  /** Every call, in order, with its outcome. */
  readonly calls: StorageCall[];
  /** How many calls of `operation` were made. */
  count(operation: StorageOperation): number;
  /** Makes the next calls of `operation` fail. Later faults queue behind earlier ones of the same operation. */
  fail(operation: StorageOperation, fault?: StorageFault): void;
  /** Every fault removed. */
  heal(): void;
  /** Puts tokens in storage behind the app's back (what another process or a previous run left). */
  seed(tokens: Tokens | null): void;
}

export interface FaultySyncStorage extends Control {
  get(): Tokens | null;
  set(tokens: Tokens): void;
  clear(): void;
}

export interface FaultyAsyncStorage extends Control {
  get(): Promise<Tokens | null>;
  set(tokens: Tokens): Promise<void>;
  clear(): Promise<void>;
  /**
   * The next calls of `operation` stay pending (and are recorded 'pending') until the returned
   * function is called; then they complete (or fail, if a fault was armed for them) in order.
   */
  hold(operation: StorageOperation): () => void;
}

export function faultyStorage(initial?: Tokens | null): FaultySyncStorage;
export function faultyStorage(initial: Tokens | null | undefined, options: { async: true }): FaultyAsyncStorage;
export function faultyStorage(
  initial: Tokens | null = null,
  { async = false }: { async?: boolean } = {},
): FaultySyncStorage | FaultyAsyncStorage {
  let stored: Tokens | null = initial;
  const calls: StorageCall[] = [];
  const faults: Record<StorageOperation, Array<Required<Omit<StorageFault, 'error'>> & Pick<StorageFault, 'error'>>> = {
    get: [],
    set: [],
    clear: [],
  };
  const held: Record<StorageOperation, Array<() => void> | null> = { get: null, set: null, clear: null };

  const nextFault = (operation: StorageOperation) => {
    const queue = faults[operation];
    while (queue.length && queue[0]!.times <= 0) queue.shift();
    const fault = queue[0];
    if (!fault) return null;
    fault.times--;
    return { how: fault.how, error: (fault.error ?? storageErrors[operation])() };
  };

  const effects: Record<StorageOperation, (tokens?: Tokens) => Tokens | null | void> = {
    get: () => (stored ? { ...stored } : null),
    set: (tokens) => void (stored = tokens ? { ...tokens } : null),
    clear: () => void (stored = null),
  };

  function call(operation: StorageOperation, tokens?: Tokens): unknown {
    const record: StorageCall = tokens === undefined ? { operation, outcome: 'ok' } : { operation, outcome: 'ok', tokens: { ...tokens } };
    calls.push(record);
    const settle = () => {
      const fault = nextFault(operation);
      if (fault?.how === 'throw') {
        record.outcome = async ? 'rejected' : 'threw';
        if (async) return Promise.reject(fault.error);
        throw fault.error;
      }
      if (fault?.how === 'reject') {
        record.outcome = 'rejected';
        return Promise.reject(fault.error);
      }
      const value = effects[operation](tokens);
      return async ? Promise.resolve(value) : value;
    };
    const queue = held[operation];
    if (async && queue) {
      record.outcome = 'pending';
      return new Promise((resolve) => queue.push(() => ((record.outcome = 'ok'), resolve((settle as () => Promise<unknown>)()))));
    }
    return settle();
  }

  const control: Control & { hold(operation: StorageOperation): () => void } = {
    get stored() {
      return stored;
    },
    calls,
    count: (operation) => calls.filter((c) => c.operation === operation).length,
    fail(operation, { how = 'throw', times = Infinity, error } = {}) {
      faults[operation].push({ how, times, error });
    },
    heal() {
      faults.get = [];
      faults.set = [];
      faults.clear = [];
    },
    seed(tokens) {
      stored = tokens;
    },
    hold(operation) {
      const queue: Array<() => void> = [];
      held[operation] = queue;
      return () => {
        held[operation] = null;
        for (const release of queue.splice(0)) release();
      };
    },
  };

  return Object.assign(control, {
    get: () => call('get'),
    set: (tokens: Tokens) => call('set', tokens),
    clear: () => call('clear'),
  }) as FaultySyncStorage | FaultyAsyncStorage;
}

export interface JumpingClock extends SchedulerLike {
  /** How far `now()` is from the base scheduler's clock. */
  readonly offset: number;
  /**
   * The wall clock jumps by `ms` (negative: backwards). Timers already scheduled, and timers
   * scheduled later, keep counting on the base scheduler: only `now()` changes, as when a laptop
   * wakes up (Date.now moved on, the suspended timers did not) or the system clock is corrected.
   */
  jump(ms: number): void;
}

/** A scheduler whose `now()` jumps; timers run on `base` (default `asyncScheduler`, virtual inside `TestScheduler.run`). */
export function jumpingClock(base: SchedulerLike = asyncScheduler): JumpingClock {
  let offset = 0;
  return {
    get offset() {
      return offset;
    },
    now: () => base.now() + offset,
    schedule<T>(work: (this: SchedulerAction<T>, state?: T) => void, delay?: number, state?: T): Subscription {
      return base.schedule(work, delay, state as T);
    },
    jump(ms) {
      offset += ms;
    },
  };
}
