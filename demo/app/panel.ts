/**
 * A dashboard panel: one file in `panels/` exporting `panel` adds a card to the dashboard, with its
 * own reducers, epics and middleware wired into the store. Nothing else needs to change.
 *
 * @example
 * // panels/RtkQueryPanel.tsx
 * export const panel: DemoPanel = {
 *   id: 'rtk-query', title: 'RTK Query', column: 'main', order: 30,
 *   reducers: { [api.reducerPath]: api.reducer }, middleware: [api.middleware],
 *   Component: RtkQueryPanel,
 * };
 */
import type { ComponentType } from 'react';
import type { Middleware, Reducer, UnknownAction } from 'redux';
import type { Epic } from 'redux-observable';

export interface DemoPanel {
  /** Also the card's `data-testid` (`panel-<id>`). */
  id: string;
  title: string;
  subtitle?: string;
  /** `main` is the wide left column, `side` the right one. */
  column: 'main' | 'side';
  /** Lower comes first within its column. */
  order: number;
  Component: ComponentType;
  /** Rendered at the right of the card's title, e.g. a button. */
  Actions?: ComponentType;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each panel's slice has its own state type; `unknown` would reject every typed reducer (parameters are contravariant).
  reducers?: Record<string, Reducer<any, UnknownAction, any>>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the same for the state an epic is given.
  epics?: Array<Epic<UnknownAction, UnknownAction, any>>;
  middleware?: Middleware[];
}

const modules = import.meta.glob<{ panel?: DemoPanel }>('./panels/*.tsx', { eager: true });

/** Every `panels/*.tsx` that exports `panel`, in column order. */
export const panels: DemoPanel[] = Object.values(modules)
  .flatMap((module) => (module.panel ? [module.panel] : []))
  .sort((a, b) => a.order - b.order);
