import { createAuthActions } from '../../src/actions';
import type { Context } from '../../src/session/machine';

/** The clock of the machine tests: transitions are pure, so a fixed instant will do. */
export const NOW = 1_000_000;
export const actions = createAuthActions('t');

/** What a transition knows besides the state, as the shell gives it, with `over` replacing parts. */
export const machineContext = (over: Partial<Context> = {}): Context => ({
  now: NOW,
  actions,
  skewMs: 30_000,
  backoffMs: 500,
  cookie: false,
  attached: true,
  identity: () => ({ id: 'new', version: 0 }),
  ...over,
});
