import type { Observable } from 'rxjs';

/**
 * The few Redux and redux-observable types the package's public types mention, written out so that
 * the shipped `.d.ts` compiles on every stack it supports (redux 4 and 5, redux-observable 2 and 3)
 * with `skipLibCheck: false`: redux 4 has no `UnknownAction` and its `Reducer` takes two type
 * arguments; redux-observable 2's `Epic` requires its input to extend `Action`. Each is structurally
 * what both versions accept, so `auth.reducer` goes into `configureStore` and `auth.epic` into
 * `combineEpics` on either.
 */

/** redux 5's `UnknownAction`: an action with a string type and unknown other fields. */
export interface UnknownAction {
  type: string;
  [extraProps: string]: unknown;
}

/** `(state, action) => state`: redux 5's `Reducer<S, A, P>`, and redux 4's `Reducer<S, A>` when `P` is `S`. */
export type Reducer<S, A extends { type: unknown } = UnknownAction, PreloadedState = S> = (
  state: S | PreloadedState | undefined,
  action: A,
) => S;

/**
 * An epic as redux-observable 2 and 3 call it: `(action$, state$, dependencies) => output$`.
 * `state$` and `dependencies` are `any` on purpose: the package's epics fit any store and any
 * dependencies, and an `unknown` there would make `combineEpics(auth.epic, yourEpic)` infer
 * `unknown` as the state of every epic in the list. `State` and `Dependencies` only document.
 */
// eslint-disable-next-line @typescript-eslint/no-unused-vars -- `State` and `Dependencies` keep redux-observable's four type parameters, so `Epic<A, A, S, D>` reads the same with either.
export type Epic<Input = unknown, Output extends Input = Input, State = unknown, Dependencies = unknown> = (
  action$: Observable<Input>,
  state$: StateObservableLike,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any on purpose, see above: `unknown` would become every combined epic's dependencies.
  dependencies: any,
) => Observable<Output>;

/** redux-observable's `StateObservable`: an Observable of the state with its current `value`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any on purpose, see `Epic`: `unknown` would become every combined epic's state.
export type StateObservableLike = any;
