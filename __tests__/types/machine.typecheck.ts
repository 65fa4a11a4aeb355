/**
 * Type test (checked by `tsc --noEmit` in `npm test`, never run): the session machine's states
 * carry only what they need, so impossible combinations cannot be written down.
 */
import type { State } from '../../src/session/machine';
import type { Session } from '../../src/tokens';

declare const session: Session;
declare const outage: Extract<State, { status: 'unavailable' }>['outage'];

export const fine: State[] = [
  { status: 'authenticated', session },
  { status: 'refreshing', session, rejected: 'a', outage },
  { status: 'unavailable', session, outage },
  { status: 'unavailable', outage, ended: null },
  { status: 'restoring', queued: true, hydration: false, ended: null },
  { status: 'unauthenticated', ended: null, lastError: null },
];

// @ts-expect-error refreshing without a session
export const refreshingAlone: State = { status: 'refreshing' };
// @ts-expect-error a session while logged out
export const loggedOutWithSession: State = { status: 'unauthenticated', session, ended: null, lastError: null };
// @ts-expect-error a refused token without a session
export const rejectedAlone: State = { status: 'restoring', queued: false, hydration: false, ended: null, rejected: 'a' };
// @ts-expect-error unavailable without why
export const unavailableWithoutOutage: State = { status: 'unavailable', session };
// @ts-expect-error authenticated during an outage: that is `unavailable`
export const authenticatedOffline: State = { status: 'authenticated', session, outage };
