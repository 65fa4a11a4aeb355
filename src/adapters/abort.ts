import { Observable, type MonoTypeOperatorFunction } from 'rxjs';

/** The part of an abort signal the adapters read: the DOM's, Node's, or axios' `GenericAbortSignal`. */
export interface AbortSignalLike {
  readonly aborted: boolean;
  readonly reason?: unknown;
  addEventListener?: (type: 'abort', listener: () => void, options?: { once?: boolean }) => void;
  removeEventListener?: (type: 'abort', listener: () => void) => void;
}

/** @internal Why `signal` aborted: its `reason`, or an `AbortError` for a signal that has none. */
export function abortReason(signal: AbortSignalLike): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

/**
 * @internal Ends the source with the signal's reason as soon as the caller aborts: at once when it
 * already has, and during a wait for a refresh too, which would otherwise hold the request until
 * the refresh ends. Unsubscribing is what keeps an aborted request from ever being sent: `authorized`
 * runs the request only after its wait, and there is no "after" any more. The refresh itself goes
 * on; other requests share it.
 */
export function untilAborted<T>(signal: AbortSignalLike | null | undefined): MonoTypeOperatorFunction<T> {
  return (source$) =>
    !signal
      ? source$
      : new Observable<T>((subscriber) => {
          if (signal.aborted) return subscriber.error(abortReason(signal));
          const onAbort = () => subscriber.error(abortReason(signal));
          signal.addEventListener?.('abort', onAbort, { once: true });
          subscriber.add(() => signal.removeEventListener?.('abort', onAbort));
          subscriber.add(source$.subscribe(subscriber));
        });
}
