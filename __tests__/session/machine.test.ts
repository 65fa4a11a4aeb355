/**
 * The session machine (src/session/machine.ts) as a table: every (state, event) pair, with the state
 * it leads to and the effects the shell carries out, in order. Then the rules the table alone does
 * not show (backoff, the proactive token, the release's error), and a property test that draws its
 * events from the same list.
 */
import fc from 'fast-check';
import { LoggedOutError, RefreshUnavailableError, TokenRefreshError, refused } from '../../src/errors';
import {
  EVENT_TYPES,
  decide,
  initial,
  lastErrorOf,
  timesOf,
  transition,
  usable,
  type Effect,
  type Event,
  type State,
} from '../../src/session/machine';
import { toSession, type Identity } from '../../src/tokens';
import { NOW, actions, machineContext } from '../support/machine';
import { fakeJwt } from '../support/harness';

const ctx = machineContext;
const identity = (): Identity => ({ id: 'login-a', version: 1 });
const session = (token = 'token-a', expiresIn = 600_000) =>
  toSession({ accessToken: token, refreshToken: 'refresh-a', expiresAt: NOW + expiresIn }, null, NOW, 30_000, identity());
const outage = (retryIn = 1_000) => {
  const error = new RefreshUnavailableError(new Error('offline'));
  return { error, lastError: { name: error.name, code: error.code, message: error.message }, retryAt: NOW + retryIn, failures: 1 };
};

const STATES = {
  hydrating: () => ({ status: 'restoring', queued: false, hydration: true, ended: null }),
  queuedRestore: () => ({ status: 'restoring', queued: true, hydration: false, ended: null }),
  authenticated: () => ({ status: 'authenticated', session: session() }),
  refreshing: () => ({ status: 'refreshing', session: session(), proactive: 'token-a' }),
  unavailable: () => ({ status: 'unavailable', session: session(), outage: outage() }),
  unavailableRestore: () => ({ status: 'unavailable', outage: outage(), ended: null }),
  unauthenticated: () => ({ status: 'unauthenticated', ended: null, lastError: null }),
} satisfies Record<string, () => State>;
type StateName = keyof typeof STATES;

/** Every event the machine knows, as the shell and the tabs module send them. */
const EVENTS = {
  login: () => ({
    type: 'login',
    session: toSession({ accessToken: 'token-b' }, null, NOW, 30_000, { id: 'login-b', version: 0 }),
    sameUser: false,
  }),
  hydrated: () => ({ type: 'hydrated', tokens: { accessToken: 'stored' } }),
  rejected: () => ({ type: 'rejected', token: 'token-a' }),
  refresh: () => ({ type: 'refresh', reason: 'manual' }),
  attached: () => ({ type: 'attached' }),
  wake: () => ({ type: 'wake', reason: 'online' }),
  refreshed: () => ({ type: 'refreshed', tokens: { accessToken: 'token-n', refreshToken: 'refresh-n' } }),
  unreachable: () => ({ type: 'failed', error: new RefreshUnavailableError(new Error('offline')) }),
  refused: () => ({ type: 'failed', error: refused(new TokenRefreshError('no')) }),
  timeout: () => ({ type: 'timeout' }),
  logout: () => ({ type: 'logout', reason: 'logout', elsewhere: false, announce: true, clear: true }),
} satisfies Record<string, () => Event>;
type EventName = keyof typeof EVENTS;

/** An effect as the table writes it: its type, and for an action the action's name. */
const short = (effect: Effect) => (effect.type === 'emit' ? `emit ${effect.action.type.slice(2)}` : effect.type);

// Abbreviations for the table.
const started = ['open', 'emit refreshRequested', 'run'];
const stay = (name: StateName) => [STATES[name]().status, []] as const;
type Row = Record<EventName, readonly [State['status'], readonly string[]]>;

const TABLE: Record<StateName, Row> = {
  hydrating: {
    login: ['authenticated', ['persist', 'emit tokensSet', 'release']],
    hydrated: ['authenticated', ['emit tokensSet', 'release']],
    rejected: stay('hydrating'),
    refresh: stay('hydrating'),
    attached: stay('hydrating'),
    wake: stay('hydrating'),
    refreshed: stay('hydrating'), // the runner never runs a hydration
    unreachable: stay('hydrating'),
    refused: stay('hydrating'),
    timeout: stay('hydrating'),
    logout: ['unauthenticated', ['clear', 'emit loggedOut', 'release']],
  },
  queuedRestore: {
    login: ['authenticated', ['persist', 'emit tokensSet', 'release']],
    hydrated: stay('queuedRestore'),
    rejected: stay('queuedRestore'),
    refresh: stay('queuedRestore'),
    attached: ['restoring', ['emit refreshRequested', 'run']],
    wake: stay('queuedRestore'),
    refreshed: ['authenticated', ['persist', 'emit tokensSet', 'release']],
    unreachable: ['unavailable', ['emit refreshUnavailable', 'release']],
    refused: ['unauthenticated', ['emit loggedOut', 'release']],
    timeout: ['unauthenticated', ['emit loggedOut', 'release']],
    logout: ['unauthenticated', ['clear', 'emit loggedOut', 'release']],
  },
  authenticated: {
    login: ['authenticated', ['persist', 'end', 'emit loggedOut', 'emit tokensSet', 'release']],
    hydrated: stay('authenticated'),
    rejected: ['refreshing', started],
    refresh: ['refreshing', started],
    attached: stay('authenticated'),
    wake: stay('authenticated'),
    refreshed: stay('authenticated'), // a late answer for a cycle that is over
    unreachable: stay('authenticated'),
    refused: stay('authenticated'),
    timeout: stay('authenticated'),
    logout: ['unauthenticated', ['end', 'clear', 'emit loggedOut', 'release']],
  },
  refreshing: {
    login: ['authenticated', ['persist', 'end', 'emit loggedOut', 'emit tokensSet', 'release']],
    hydrated: stay('refreshing'),
    rejected: stay('refreshing'), // a second 401 during the refresh starts nothing
    refresh: stay('refreshing'), // joins
    attached: stay('refreshing'),
    wake: stay('refreshing'),
    refreshed: ['authenticated', ['persist', 'emit refreshSucceeded', 'release']],
    unreachable: ['unavailable', ['emit refreshUnavailable', 'release']],
    refused: ['unauthenticated', ['end', 'clear', 'emit refreshFailed', 'emit loggedOut', 'release']],
    timeout: stay('refreshing'),
    logout: ['unauthenticated', ['end', 'clear', 'emit loggedOut', 'release']],
  },
  unavailable: {
    login: ['authenticated', ['persist', 'end', 'emit loggedOut', 'emit tokensSet', 'release']],
    hydrated: stay('unavailable'),
    rejected: stay('unavailable'), // during the cool-down
    refresh: ['refreshing', started],
    attached: stay('unavailable'),
    wake: ['refreshing', started],
    refreshed: stay('unavailable'),
    unreachable: stay('unavailable'),
    refused: stay('unavailable'),
    timeout: stay('unavailable'),
    logout: ['unauthenticated', ['end', 'clear', 'emit loggedOut', 'release']],
  },
  unavailableRestore: {
    login: ['authenticated', ['persist', 'emit tokensSet', 'release']],
    hydrated: stay('unavailableRestore'),
    rejected: stay('unavailableRestore'),
    refresh: ['restoring', started],
    attached: stay('unavailableRestore'),
    wake: ['restoring', started],
    refreshed: stay('unavailableRestore'),
    unreachable: stay('unavailableRestore'),
    refused: stay('unavailableRestore'),
    timeout: stay('unavailableRestore'),
    logout: ['unauthenticated', ['clear', 'emit loggedOut', 'release']],
  },
  unauthenticated: {
    login: ['authenticated', ['persist', 'emit tokensSet', 'release']],
    hydrated: stay('unauthenticated'),
    rejected: stay('unauthenticated'),
    refresh: ['restoring', started], // a restore: the shell sends it only with a cookie session
    attached: stay('unauthenticated'),
    wake: stay('unauthenticated'),
    refreshed: stay('unauthenticated'),
    unreachable: stay('unauthenticated'),
    refused: stay('unauthenticated'),
    timeout: stay('unauthenticated'),
    logout: stay('unauthenticated'), // nothing to end, nobody told twice
  },
};

describe('transition: every (state, event) pair', () => {
  const pairs = (Object.keys(TABLE) as StateName[]).flatMap((state) =>
    (Object.keys(EVENTS) as EventName[]).map((event) => [state, event, ...TABLE[state][event]] as const),
  );

  test('the table covers every state and every event', () => {
    expect(pairs).toHaveLength(Object.keys(STATES).length * Object.keys(EVENTS).length);
    expect(new Set(Object.values(EVENTS).map((event) => event().type))).toEqual(new Set(EVENT_TYPES));
  });

  test.each(pairs)('%s + %s → %s %j', (state, event, status, effects) => {
    const before = STATES[state]();
    const step = transition(before, EVENTS[event](), ctx());
    expect(step.state.status).toBe(status);
    expect(step.effects.map(short)).toEqual(effects);
    // A transition that changes nothing returns the state it was given: the shell can tell.
    if (!effects.length && status === before.status && event !== 'rejected') expect(step.state).toBe(before);
  });
});

describe('transition: what the table does not show', () => {
  test('a refresh cannot start without auth.epic: the state is kept and the caller gets EpicNotRunningError', () => {
    const before = STATES.authenticated();
    const step = transition(before, { type: 'refresh', reason: 'expired' }, ctx({ attached: false }));
    expect(step.state).toBe(before);
    expect(step.effects).toEqual([{ type: 'throw', error: expect.objectContaining({ code: 'EPIC_NOT_RUNNING' }) }]);
  });

  test('a 401 without auth.epic still marks the token as refused, so it is never sent again', () => {
    const step = transition(STATES.authenticated(), EVENTS.rejected(), ctx({ attached: false }));
    expect(step.state).toMatchObject({ status: 'authenticated', rejected: 'token-a' });
    expect(step.effects.map(short)).toEqual(['throw']);
    expect(decide(step.state, NOW)).toEqual({ start: 'unauthorized' });
  });

  test('a restore asked for before auth.epic runs is queued: the store hears of it when it really starts', () => {
    const step = transition(STATES.unauthenticated(), { type: 'refresh', reason: 'restore' }, ctx({ attached: false }));
    expect(step.state).toMatchObject({ status: 'restoring', queued: true });
    expect(step.effects.map(short)).toEqual(['open']);
  });

  test('the cool-down doubles with each refresh that could not be done, up to 30 s', () => {
    let state: State = STATES.refreshing();
    const retryIn: number[] = [];
    for (let i = 0; i < 8; i++) {
      state = transition(state, EVENTS.unreachable(), ctx()).state;
      if (state.status !== 'unavailable') throw new Error(state.status);
      retryIn.push(state.outage.retryAt - NOW);
      state = transition(state, EVENTS.wake(), ctx()).state;
    }
    expect(retryIn).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]);
  });

  test('could not refresh: waiters whose token is still good when they are released go on with it, the others fail with why', () => {
    const step = transition(STATES.refreshing(), EVENTS.unreachable(), ctx());
    const release = step.effects.find((e) => e.type === 'release');
    // Decided when released, after the actions: a listener may have logged the same user in again.
    expect(release).toMatchObject({
      error: expect.any(RefreshUnavailableError),
      failure: expect.any(RefreshUnavailableError),
      unlessUsable: true,
    });
    expect(usable(step.state, NOW)).toBe(true);
    const expired: State = { status: 'refreshing', session: session('token-a', -1), rejected: 'token-a' };
    expect(usable(transition(expired, EVENTS.unreachable(), ctx()).state, NOW)).toBe(false);
  });

  test('a token refreshed before it expired is still sent while that refresh cannot be done, and not refreshed early again', () => {
    // 20 s left, 30 s skew: due once half its lifetime has passed (never at once: that would loop).
    const authenticated: State = { status: 'authenticated', session: session('token-a', 20_000) };
    expect(decide(authenticated, NOW)).toBe('token-a');
    expect(decide(authenticated, NOW + 10_000)).toEqual({ start: 'expired' });
    const refreshing = transition(authenticated, { type: 'refresh', reason: 'expired' }, ctx({ now: NOW + 10_000 })).state;
    expect(refreshing).toMatchObject({ proactive: 'token-a' });
    const unavailable = transition(refreshing, EVENTS.unreachable(), ctx({ now: NOW + 10_000 })).state;
    expect(decide(unavailable, NOW + 12_000)).toBe('token-a'); // after the cool-down, still not refreshed early
    expect(decide(unavailable, NOW + 20_000)).toEqual({ start: 'expired' }); // expired now: refresh first
  });

  test('the refresh endpoint says no: the session ends with why, and storage is cleared only if it still holds that session', () => {
    const error = refused(new TokenRefreshError('no'));
    const step = transition(STATES.refreshing(), { type: 'failed', error }, ctx());
    expect(step.state).toMatchObject({
      status: 'unauthenticated',
      ended: { reason: 'rejected', elsewhere: false },
      lastError: { name: 'TokenRefreshError' },
    });
    expect(step.effects).toContainEqual({ type: 'clear', reason: 'rejected', ifHolds: 'token-a' });
    expect(step.effects).toContainEqual({ type: 'release', error, failure: error });
    const broken = transition(STATES.refreshing(), { type: 'failed', error: new TokenRefreshError('bug') }, ctx()).state;
    expect(broken).toMatchObject({ ended: { reason: 'refreshError' } });
  });

  test("another user's login ends the session: its requests fail with LoggedOutError, every tab hears 'otherUser'", () => {
    const before = STATES.refreshing();
    const step = transition(before, EVENTS.login(), ctx());
    expect(step.effects).toContainEqual({ type: 'end', identity: before.session.identity, error: expect.any(LoggedOutError) });
    expect(step.effects).toContainEqual({ type: 'emit', action: actions.loggedOut({ reason: 'otherUser', elsewhere: false }) });
  });

  test('the same user logging in again keeps the identity: requests waiting for the refresh go on', () => {
    const before = STATES.refreshing();
    const login = { ...EVENTS.login(), sameUser: true };
    const step = transition(before, login, ctx());
    expect(step.state.session?.identity).toBe(before.session.identity);
    expect(step.effects.map(short)).toEqual(['persist', 'emit tokensSet', 'release']);
  });

  test('tokens a refresh answers with that are not tokens: the session ends with a TokenRefreshError, nothing thrown', () => {
    const step = transition(STATES.refreshing(), { type: 'refreshed', tokens: { accessToken: 42 } as never }, ctx());
    expect(step.state).toMatchObject({ status: 'unauthenticated', ended: { reason: 'refreshError' } });
  });

  test('a restore from the cookie is stored as restored, so other tabs take it as their login', () => {
    const step = transition(STATES.queuedRestore(), EVENTS.refreshed(), ctx({ cookie: true }));
    expect(step.effects[0]).toMatchObject({ type: 'persist', restored: true, session: { refreshToken: undefined } });
  });
});

describe('what each transition tells the store and storage', () => {
  const emitted = (effects: readonly Effect[]) => effects.flatMap((e) => (e.type === 'emit' ? [e.action] : []));

  test('times: expiry and due time as numbers, an unknown or already-passed due time as null', () => {
    const known = session('token-a', 600_000);
    expect(timesOf(known)).toEqual({ expiresAt: NOW + 600_000, refreshAt: NOW + 570_000 });
    expect(timesOf(toSession({ accessToken: 'opaque' }, null, NOW, 30_000, identity()))).toEqual({ expiresAt: null, refreshAt: null });
    const stale = toSession({ accessToken: 'x', expiresAt: NOW - 1 }, null, NOW, 30_000, identity(), false);
    expect(timesOf(stale)).toEqual({ expiresAt: NOW - 1, refreshAt: null });
    expect(timesOf(undefined)).toEqual({ expiresAt: null, refreshAt: null });
  });

  test('the last error the store shows: the outage while it lasts, the refusal after a session ended, else none', () => {
    expect(lastErrorOf(STATES.unavailable())).toMatchObject({ name: 'RefreshUnavailableError' });
    expect(lastErrorOf(STATES.unavailableRestore())).toMatchObject({ name: 'RefreshUnavailableError' });
    expect(lastErrorOf({ ...STATES.refreshing(), outage: outage() })).toMatchObject({ name: 'RefreshUnavailableError' });
    expect(lastErrorOf(STATES.authenticated())).toBeNull();
    expect(lastErrorOf(STATES.queuedRestore())).toBeNull();
    const error = { name: 'TokenRefreshError', message: 'no' };
    expect(lastErrorOf({ status: 'unauthenticated', ended: null, lastError: error })).toBe(error);
  });

  test('at creation: stored tokens are a session with the identity they were stored with; none or garbage is none', () => {
    const stored = { accessToken: 'kept', expiresAt: NOW + 60_000, sessionId: 'login-s', version: 3 };
    const identities: unknown[] = [];
    const state = initial(
      stored,
      ctx({ identity: (from) => (identities.push(from), { id: from?.sessionId ?? 'new', version: from?.version ?? 0 }) }),
    );
    expect(state).toMatchObject({ status: 'authenticated', session: { accessToken: 'kept', identity: { id: 'login-s', version: 3 } } });
    expect(identities).toEqual([stored]);
    expect(initial(null, ctx())).toEqual({ status: 'unauthenticated', ended: null, lastError: null });
    expect(initial({ accessToken: 42 } as never, ctx())).toEqual({ status: 'unauthenticated', ended: null, lastError: null });
    // Expired while the app was closed: refreshed before it is sent.
    expect(decide(initial({ accessToken: 'old', expiresAt: NOW - 1 }, ctx()), NOW)).toEqual({ start: 'expired' });
  });

  test('a refresh says why it started; without a session it is a restore', () => {
    expect(emitted(transition(STATES.authenticated(), EVENTS.refresh(), ctx()).effects)).toEqual([
      actions.refreshRequested({ reason: 'manual' }),
    ]);
    expect(emitted(transition(STATES.authenticated(), EVENTS.rejected(), ctx()).effects)).toEqual([
      actions.refreshRequested({ reason: 'unauthorized' }),
    ]);
    expect(emitted(transition(STATES.unavailable(), EVENTS.wake(), ctx()).effects)).toEqual([
      actions.refreshRequested({ reason: 'online' }),
    ]);
    expect(emitted(transition(STATES.unavailableRestore(), EVENTS.wake(), ctx()).effects)).toEqual([
      actions.refreshRequested({ reason: 'restore' }),
    ]);
    expect(emitted(transition(STATES.unauthenticated(), EVENTS.refresh(), ctx()).effects)).toEqual([
      actions.refreshRequested({ reason: 'restore' }),
    ]);
    expect(emitted(transition(STATES.queuedRestore(), EVENTS.attached(), ctx()).effects)).toEqual([
      actions.refreshRequested({ reason: 'restore' }),
    ]);
    // Not while auth.epic is not running: nothing can run it.
    expect(transition(STATES.unavailable(), EVENTS.wake(), ctx({ attached: false })).effects).toEqual([]);
  });

  test('a refresh keeps what the session knew: the refused token, the outage it retries after; a restore keeps why the last session ended', () => {
    const refused: State = { status: 'unavailable', session: session(), rejected: 'token-a', outage: outage(-1) };
    expect(transition(refused, EVENTS.refresh(), ctx()).state).toMatchObject({
      status: 'refreshing',
      rejected: 'token-a',
      outage: { failures: 1 },
    });
    const ended = { reason: 'rejected', elsewhere: false } as const;
    const restoring = transition({ status: 'unauthenticated', ended, lastError: null }, EVENTS.refresh(), ctx()).state;
    expect(restoring).toMatchObject({ status: 'restoring', queued: false, hydration: false, ended });
  });

  test('the proactive token: only a token neither refused nor expired, and a refused one keeps the earlier mark', () => {
    const expired: State = { status: 'authenticated', session: session('token-a', -1) };
    expect(transition(expired, EVENTS.refresh(), ctx()).state.proactive).toBeUndefined();
    const atExpiry: State = { status: 'authenticated', session: session('token-a', 0) };
    expect(transition(atExpiry, EVENTS.refresh(), ctx()).state.proactive).toBeUndefined();
    const refused: State = { status: 'authenticated', session: session(), rejected: 'token-a', proactive: 'earlier' };
    expect(transition(refused, EVENTS.refresh(), ctx()).state.proactive).toBe('earlier');
    const unavailable = transition(STATES.refreshing(), EVENTS.unreachable(), ctx()).state;
    expect(unavailable).toMatchObject({ proactive: 'token-a' });
  });

  test('the cool-down: a request at its last instant fails with the outage, one at its end starts a refresh; a 401 inside it starts nothing', () => {
    const state = STATES.unavailable(); // retryAt NOW + 1000, token still good
    const refused: State = { ...state, rejected: 'token-a' };
    expect(decide(refused, NOW + 999)).toBeInstanceOf(RefreshUnavailableError);
    expect(decide(refused, NOW + 1_000)).toEqual({ start: 'unauthorized' });
    expect(transition(state, EVENTS.rejected(), ctx({ now: NOW + 999 })).effects).toEqual([]);
    expect(transition(state, EVENTS.rejected(), ctx({ now: NOW + 1_000 })).state.status).toBe('refreshing');
    expect(decide(STATES.unauthenticated(), NOW)).toBeInstanceOf(Error);
    expect(decide(STATES.refreshing(), NOW)).toBeNull();
  });

  test('a login tells its times; the same user by JWT sub keeps the identity, users without a sub never count as the same', () => {
    const jwt = (sub: string | undefined, n: number) => fakeJwt(sub === undefined ? { n } : { sub, n });
    const as = (token: string, id: string) =>
      toSession({ accessToken: token, expiresAt: NOW + 60_000 }, null, NOW, 30_000, { id, version: 0 });
    const state: State = { status: 'authenticated', session: as(jwt('ada', 0), 'first') };
    const same = transition(state, { type: 'login', session: as(jwt('ada', 1), 'second'), sameUser: false }, ctx());
    expect(same.state.session?.identity.id).toBe('first');
    expect(emitted(same.effects)).toEqual([actions.tokensSet({ expiresAt: NOW + 60_000, refreshAt: NOW + 30_000 })]);
    expect(same.effects[0]).toMatchObject({ type: 'persist', restored: false });
    const other = transition(state, { type: 'login', session: as(jwt('bob', 1), 'second'), sameUser: false }, ctx());
    expect(other.state.session?.identity.id).toBe('second');
    const anonymous: State = { status: 'authenticated', session: as(jwt(undefined, 0), 'first') };
    const unknown = transition(anonymous, { type: 'login', session: as(jwt(undefined, 1), 'second'), sameUser: false }, ctx());
    expect(unknown.state.session?.identity.id).toBe('second');
  });

  test('a hydration reads stored tokens fresh from storage (an expired one is refreshed first) and ends quietly without any', () => {
    const step = transition(STATES.hydrating(), { type: 'hydrated', tokens: { accessToken: 'stored', expiresAt: NOW + 60_000 } }, ctx());
    expect(emitted(step.effects)).toEqual([actions.tokensSet({ expiresAt: NOW + 60_000, refreshAt: NOW + 30_000 })]);
    const expired = transition(
      STATES.hydrating(),
      { type: 'hydrated', tokens: { accessToken: 'stored', expiresAt: NOW - 1 } },
      ctx(),
    ).state;
    expect(decide(expired, NOW)).toEqual({ start: 'expired' });
    const none = transition(STATES.hydrating(), { type: 'hydrated', tokens: null }, ctx());
    expect(none.state).toEqual({ status: 'unauthenticated', ended: { reason: 'noSession', elsewhere: false }, lastError: null });
    expect(none.effects).toEqual([
      { type: 'emit', action: actions.loggedOut({ reason: 'noSession', elsewhere: false }) },
      { type: 'release', error: null },
    ]);
    const garbage = transition(STATES.hydrating(), { type: 'hydrated', tokens: { accessToken: 42 } as never }, ctx());
    expect(garbage.state.status).toBe('unauthenticated');
  });

  test('a refresh answer: the same login goes on (identity kept, stored not as a restore); a restore is stored as one', () => {
    const before = STATES.refreshing();
    const step = transition(before, EVENTS.refreshed(), ctx());
    expect(step.state.session).toMatchObject({ accessToken: 'token-n', refreshToken: 'refresh-n', identity: before.session.identity });
    expect(step.effects[0]).toMatchObject({ type: 'persist', restored: false });
    expect(emitted(step.effects)).toEqual([actions.refreshSucceeded({ expiresAt: null, refreshAt: null })]);
    const restored = transition(STATES.queuedRestore(), EVENTS.refreshed(), ctx());
    expect(restored.state.session?.identity).toEqual({ id: 'new', version: 0 });
    expect(emitted(restored.effects)).toEqual([actions.tokensSet({ expiresAt: null, refreshAt: null })]);
  });

  test('every end says why and where: refused, broken, logged out here or elsewhere, no session, no epic', () => {
    const reasons = (state: State, event: Event) => {
      const step = transition(state, event, ctx());
      return { ended: step.state.ended, told: emitted(step.effects).map((a) => a.payload), release: step.effects.at(-1) };
    };
    expect(reasons(STATES.refreshing(), EVENTS.refused())).toMatchObject({
      ended: { reason: 'rejected', elsewhere: false },
      told: [{ error: { name: 'TokenRefreshError' } }, { reason: 'rejected', elsewhere: false }],
    });
    expect(reasons(STATES.queuedRestore(), EVENTS.refused())).toMatchObject({
      ended: { reason: 'noSession' },
      release: { error: null, failure: expect.any(TokenRefreshError) },
    });
    expect(reasons(STATES.queuedRestore(), EVENTS.timeout())).toMatchObject({
      ended: { reason: 'noSession' },
      release: { error: expect.objectContaining({ code: 'EPIC_NOT_RUNNING' }) },
    });
    const elsewhere = transition(
      STATES.authenticated(),
      { type: 'logout', reason: 'storageCleared', elsewhere: true, announce: true, clear: false },
      ctx(),
    );
    expect(elsewhere.state.ended).toEqual({ reason: 'storageCleared', elsewhere: true });
    expect(elsewhere.effects.map(short)).toEqual(['end', 'emit loggedOut', 'release']);
    const dispatched = transition(
      STATES.authenticated(),
      { type: 'logout', reason: 'logout', elsewhere: false, announce: false, clear: true },
      ctx(),
    );
    expect(dispatched.effects).toEqual([
      { type: 'end', identity: expect.anything(), error: expect.any(LoggedOutError) },
      { type: 'clear', reason: 'logout' },
      { type: 'release', error: expect.any(LoggedOutError), failure: undefined },
    ]);
  });
});

describe('transition: properties over any sequence of the same events', () => {
  const names = Object.keys(EVENTS) as EventName[];
  const holdsSession = (state: State) => state.session !== undefined;

  test('a session exactly where the status says; a cycle opened only on entering refreshing/restoring and released on leaving; no token in any action', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...(Object.keys(STATES) as StateName[])),
        fc.array(fc.tuple(fc.constantFrom(...names), fc.boolean()), { maxLength: 40 }),
        (first, events) => {
          let state: State = STATES[first]();
          for (const [name, attached] of events) {
            const wasRunning = state.status === 'refreshing' || state.status === 'restoring';
            let step;
            try {
              step = transition(state, EVENTS[name](), ctx({ attached }));
            } catch {
              return false; // a transition never throws for these events
            }
            const next = step.state;
            const running = next.status === 'refreshing' || next.status === 'restoring';
            const types = step.effects.map((e) => e.type);
            if (['authenticated', 'refreshing'].includes(next.status) && !holdsSession(next)) return false;
            if (['restoring', 'unauthenticated'].includes(next.status) && holdsSession(next)) return false;
            if (types.includes('open') !== (!wasRunning && running)) return false;
            // A release is for the cycle being left (outside a cycle, a login releases nothing the shell holds).
            if (running && types.includes('release')) return false;
            if (wasRunning && !running && !types.includes('release') && !types.includes('throw')) return false;
            const emitted = JSON.stringify(step.effects.filter((e) => e.type === 'emit'));
            if (/token-|refresh-|stored/.test(emitted)) return false;
            state = next;
          }
          return true;
        },
      ),
      { numRuns: Number(process.env.PROPERTY_RUNS ?? 2_000) },
    );
  });
});
