import type { AsyncKeyValue } from '../../src';

/** One call the backend has started and not yet answered. */
export interface BackendCall {
  readonly operation: 'getItem' | 'setItem' | 'removeItem';
  readonly key: string;
  readonly value?: string;
  /** Answers the call: the write lands (or the value is read) now. */
  answer(): void;
  /** Fails the call: its Promise rejects with `error` and nothing changes. */
  fail(error: unknown): void;
}

/**
 * An asynchronous key-value store (React Native's AsyncStorage, localForage, idb-keyval) whose
 * every call stays pending until the test answers or fails it, so a test sees what is in flight
 * and in which order the calls were started, without sleeping. A write lands when it is answered.
 */
export function slowBackend(initial: Record<string, string> = {}) {
  const data = new Map(Object.entries(initial));
  const pending: BackendCall[] = [];
  /** Every call in the order it was started: `setItem <accessToken>`, `removeItem`, `getItem`. */
  const started: string[] = [];
  let mostInFlight = 0;

  const start = <T>(operation: BackendCall['operation'], key: string, land: () => T, value?: string): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const written = value === undefined ? '' : ` ${(JSON.parse(value) as { accessToken?: string }).accessToken ?? value}`;
      started.push(`${operation}${written}`);
      const call: BackendCall = {
        operation,
        key,
        value,
        answer: () => {
          pending.splice(pending.indexOf(call), 1);
          resolve(land());
        },
        fail: (error) => {
          pending.splice(pending.indexOf(call), 1);
          reject(error);
        },
      };
      pending.push(call);
      mostInFlight = Math.max(mostInFlight, pending.length);
    });

  const backend: AsyncKeyValue = {
    getItem: (key) => start('getItem', key, () => data.get(key) ?? null),
    setItem: (key, value) => start('setItem', key, () => void data.set(key, value), value),
    removeItem: (key) => start('removeItem', key, () => void data.delete(key)),
  };

  return {
    backend,
    data,
    pending,
    started,
    /** The most calls that were in flight at once. */
    get mostInFlight() {
      return mostInFlight;
    },
    /** The oldest call still pending. */
    next(): BackendCall {
      const call = pending[0];
      if (!call) throw new Error('slowBackend: no call is pending');
      return call;
    },
  };
}

/** Lets every Promise callback already due run (a chain of writes is a few microtasks deep). */
export const flushPromises = () => new Promise<void>((resolve) => setImmediate(resolve));
