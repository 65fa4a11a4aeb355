/**
 * Two things that must fail a test rather than crash or freeze the worker running it (set up by
 * jest.mutation.config.js, where mutants make both happen by the hundred):
 *
 * - An error RxJS reports as unhandled (an observable erroring with nobody subscribed to its errors:
 *   an epic that throws, a refresh outcome nobody catches) is a bug a user meets as a crashed Node
 *   process or a console error. RxJS rethrows it in a later macrotask, where it escapes the test
 *   that caused it and kills the worker. Here it fails that test instead.
 * - A livelock in virtual time (a refresh that starts another forever) keeps `TestScheduler.flush`
 *   busy forever; no Jest timeout can interrupt a synchronous loop. Here a scheduler that has run
 *   more than LIVELOCK_ACTIONS scheduled actions throws instead: no test of this package needs
 *   anywhere near as many.
 */
import { VirtualAction, config } from 'rxjs';

const LIVELOCK_ACTIONS = 50_000;

const unhandled: unknown[] = [];
config.onUnhandledError = (error) => void unhandled.push(error);

const executed = new WeakMap<object, number>();
const execute = VirtualAction.prototype.execute;
VirtualAction.prototype.execute = function (this: VirtualAction<unknown>, state: unknown, delay: number) {
  const scheduler = (this as unknown as { scheduler: object }).scheduler;
  const count = (executed.get(scheduler) ?? 0) + 1;
  executed.set(scheduler, count);
  if (count > LIVELOCK_ACTIONS) return new Error(`livelock: more than ${LIVELOCK_ACTIONS} actions in virtual time`);
  return execute.call(this, state, delay) as Error | undefined; // RxJS types it any: an Error to report, or nothing
};

afterEach(() => {
  const errors = unhandled.splice(0);
  if (errors.length)
    throw new AggregateError(errors, `RxJS reported ${errors.length} unhandled error(s): ${errors.map(String).join('; ')}`);
});
