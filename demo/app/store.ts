/**
 * The store: the package's reducer and epic, the session, and whatever the panels bring.
 */
import { combineReducers, configureStore } from '@reduxjs/toolkit';
import { combineEpics, createEpicMiddleware } from 'redux-observable';
import type { Reducer, UnknownAction } from 'redux';
import { auth, dpop } from './auth';
import { panels, type DemoPanel } from './panel';
import { loginEpic, logoutEpic, restoreEpic, sessionSlice } from './features/session';
import { activitySlice, refreshAttemptsEpic, resetEpic, statsEpic } from './features/activity';

const coreReducers = {
  [auth.reducerPath]: auth.reducer,
  session: sessionSlice.reducer,
  activity: activitySlice.reducer,
};
const panelReducers: NonNullable<DemoPanel['reducers']> = Object.fromEntries(
  panels.flatMap((panel) => Object.entries(panel.reducers ?? {})),
);

/** The core slices, typed; each panel types its own slice where it reads it. */
export type RootState = { [Key in keyof typeof coreReducers]: ReturnType<(typeof coreReducers)[Key]> } & Record<string, unknown>;

const rootReducer = combineReducers({ ...panelReducers, ...coreReducers }) as unknown as Reducer<
  RootState,
  UnknownAction,
  Partial<RootState>
>;

// Epics here read only what they select themselves, so the middleware is typed loosely on state
// (some epics read no state at all and say `void`, which no other state type fits).
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above
const epicMiddleware = createEpicMiddleware<UnknownAction, UnknownAction, any>();

export const store = configureStore({
  reducer: rootReducer,
  middleware: (getDefault) => getDefault().concat(epicMiddleware, ...panels.flatMap((panel) => panel.middleware ?? [])),
});

epicMiddleware.run(
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the middleware's loose state, above
  combineEpics<UnknownAction, UnknownAction, any>(
    auth.epic,
    loginEpic,
    logoutEpic,
    restoreEpic,
    statsEpic,
    resetEpic,
    refreshAttemptsEpic,
    // DPoP mode: the key is deleted when the session ends (logout, a refresh refused for good).
    ...(dpop ? [dpop.epic(auth)] : []),
    ...panels.flatMap((panel) => panel.epics ?? []),
  ),
);

export type AppDispatch = typeof store.dispatch;
