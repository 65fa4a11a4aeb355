/**
 * RTK's `createAction`, for the package's own actions. The package does not import
 * `@reduxjs/toolkit` at run time: RTK 1.9 is a CommonJS module whose named exports Node's native ESM
 * cannot see (`import { createAction } from '@reduxjs/toolkit'` throws there), and every workaround
 * (`import * as toolkit` with a `.default` fallback) is either an error in webpack's strict ESM or
 * keeps all of RTK in the bundle. The creators behave as RTK's do (`__tests__/createAction.test.ts`
 * compares them): `creator(payload)` is `{ type, payload }`, `creator.type`, `creator.match(action)`
 * and `String(creator)`, so `builder.addCase`, `isAnyOf` and rxjs `filter(creator.match)` take them.
 */

/** RTK's `PayloadAction`, without `meta` and `error`. */
// eslint-disable-next-line @typescript-eslint/consistent-type-definitions -- a type, as RTK's is: an interface has no implicit index signature, so the action would no longer fit redux's `UnknownAction`.
export type PayloadAction<P = void, T extends string = string> = { payload: P; type: T };

/** What the creators share: the type, a type guard, and `String(creator) === type`. */
export interface ActionCreatorBase<P, T extends string> {
  readonly type: T;
  readonly match: (action: unknown) => action is PayloadAction<P, T>;
}

/** `creator(payload)` */
export interface ActionCreatorWithPayload<P, T extends string = string> extends ActionCreatorBase<P, T> {
  (payload: P): PayloadAction<P, T>;
}

/** `creator(payload?)`: a payload that may be left out, as RTK types `createAction<P | undefined>`. */
export interface ActionCreatorWithOptionalPayload<P, T extends string = string> extends ActionCreatorBase<P, T> {
  (payload?: P): PayloadAction<P, T>;
}

/** `creator()` */
export interface ActionCreatorWithoutPayload<T extends string = string> extends ActionCreatorBase<undefined, T> {
  (noArgument?: void): PayloadAction<undefined, T>;
}

export function createAction<P = void, T extends string = string>(
  type: T,
): [P] extends [void]
  ? ActionCreatorWithoutPayload<T>
  : [undefined] extends [P]
    ? ActionCreatorWithOptionalPayload<P, T>
    : ActionCreatorWithPayload<P, T>;
// The overload above is the public type.
export function createAction(type: string): unknown {
  const match = (action: unknown): action is PayloadAction<unknown> =>
    typeof action === 'object' && action !== null && (action as { type?: unknown }).type === type;
  return Object.assign((payload: unknown) => ({ type, payload }), { type, match, toString: () => type });
}
