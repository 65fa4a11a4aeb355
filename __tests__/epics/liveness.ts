/**
 * The liveness epics (heartbeat, scheduled refresh) in the store every suite uses
 * (support/harness.ts `createStore`), in virtual time, with the reasons of the refreshes they start.
 */
import type { UnknownAction } from 'redux';
import type { Epic } from 'redux-observable';
import { Subject } from 'rxjs';
import type { TestScheduler } from 'rxjs/testing';
import type { TokenRefresh } from '../../src';
import { createStore } from '../support/harness';

/**
 * The epics stop at frame `stopAt`: a background refresh re-arms itself forever, and virtual time
 * would follow it forever.
 */
export function runStore(ts: TestScheduler, stopAt: number, auth: TokenRefresh, ...epics: Array<Epic<UnknownAction, UnknownAction>>) {
  const reasons = new Subject<string>();
  const store = createStore(auth, {
    epics,
    onAction: (action) => auth.actions.refreshRequested.match(action) && reasons.next(action.payload.reason),
  });
  ts.schedule(() => store.stop(), stopAt);
  /** The reason of every refresh that starts: subscribe before the first frame. */
  return Object.assign(store, { refreshReasons$: reasons.asObservable() });
}
