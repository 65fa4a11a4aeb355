/**
 * Runs `auth.epic` and the liveness epics the way a store does, in virtual time: every action is
 * reduced into the root state and fed back into `action$`.
 */
import type { UnknownAction } from 'redux';
import { StateObservable, combineEpics, type Epic } from 'redux-observable';
import { Subject, filter, map } from 'rxjs';
import type { TestScheduler } from 'rxjs/testing';
import type { TokenRefresh, TokenRefreshState } from '../../src';

/**
 * The epics stop at frame `stopAt`: a background refresh re-arms itself forever, and virtual time
 * would follow it forever.
 */
export function runStore(ts: TestScheduler, stopAt: number, auth: TokenRefresh, ...epics: Array<Epic<UnknownAction, UnknownAction>>) {
  const action$ = new Subject<UnknownAction>();
  let state: Record<string, TokenRefreshState> = { [auth.reducerPath]: auth.reducer(undefined, { type: '@@INIT' }) };
  const state$ = new StateObservable<unknown>(new Subject(), state);
  const dispatch = (action: UnknownAction) => {
    state = { ...state, [auth.reducerPath]: auth.reducer(state[auth.reducerPath], action) };
    action$.next(action);
  };
  const subscription = combineEpics(auth.epic, ...epics)(action$, state$ as never, undefined).subscribe(dispatch);
  ts.schedule(() => subscription.unsubscribe(), stopAt);
  return {
    dispatch,
    /** The reason of every refresh that starts: subscribe before the first frame. */
    refreshReasons$: action$.pipe(
      filter(auth.actions.refreshRequested.match),
      map((action) => action.payload.reason),
    ),
    stop: () => subscription.unsubscribe(),
  };
}
