/**
 * The store: the package's reducer and epic, the session, and whatever the panels bring.
 */
import { combineReducers, configureStore } from '@reduxjs/toolkit';
import { combineEpics, createEpicMiddleware } from 'redux-observable';
import type { Reducer, UnknownAction } from 'redux';
import { auth } from './auth';
import { panels } from './panel';
import { loginEpic, logoutEpic, restoreEpic, sessionSlice } from './features/session';
import { activitySlice, refreshAttemptsEpic, resetEpic, statsEpic } from './features/activity';

const coreReducers = {
  [auth.reducerPath]: auth.reducer,
  session: sessionSlice.reducer,
  activity: activitySlice.reducer,
};
const panelReducers: Record<string, Reducer<any, UnknownAction, any>> = Object.assign({}, ...panels.map((panel) => panel.reducers ?? {}));

/** The core slices, typed; each panel types its own slice where it reads it. */
export type RootState = { [Key in keyof typeof coreReducers]: ReturnType<(typeof coreReducers)[Key]> } & Record<string, unknown>;

const rootReducer = combineReducers({ ...panelReducers, ...coreReducers }) as unknown as Reducer<
  RootState,
  UnknownAction,
  Partial<RootState>
>;

// Epics here read only what they select themselves, so the middleware is typed loosely on state.
const epicMiddleware = createEpicMiddleware<UnknownAction, UnknownAction, any>();

export const store = configureStore({
  reducer: rootReducer,
  middleware: (getDefault) => getDefault().concat(epicMiddleware, ...panels.flatMap((panel) => panel.middleware ?? [])),
});

epicMiddleware.run(
  combineEpics<UnknownAction, UnknownAction, any>(
    auth.epic,
    loginEpic,
    logoutEpic,
    restoreEpic,
    statsEpic,
    resetEpic,
    refreshAttemptsEpic,
    ...panels.flatMap((panel) => panel.epics ?? []),
  ),
);

export type AppDispatch = typeof store.dispatch;
