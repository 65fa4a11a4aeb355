/**
 * What a tab does with another tab's tokens (src/tabs/share.ts): `adopt` for a storage event, `found`
 * for what storage holds when this tab is about to spend its refresh token under the lock. Pure
 * functions of the machine's state, tested as the machine is.
 */
import type { Effect, State } from '../../src/session/machine';
import { adopt, found } from '../../src/tabs/share';
import { toSession, type Identity, type StoredTokens } from '../../src/tokens';
import { fakeJwt } from '../support/harness';
import { NOW, actions, machineContext } from '../support/machine';

const ctx = machineContext({ identity: (stored) => ({ id: stored?.sessionId ?? 'new', version: stored?.version ?? 0 }) });
const jwt = fakeJwt;
const mine = (token: string, identity: Identity = { id: 'login-a', version: 2 }): State => ({
  status: 'authenticated',
  session: toSession({ accessToken: token, refreshToken: 'r', expiresAt: NOW + 60_000 }, null, NOW, 30_000, identity),
});
const refreshing = (token: string, identity?: Identity): State => ({
  ...(mine(token, identity) as Extract<State, { status: 'authenticated' }>),
  status: 'refreshing',
});
const none = new Set<string>();
const emitted = (effects: readonly Effect[]) => effects.flatMap((e) => (e.type === 'emit' ? [e.action] : []));
const theirs = (tokens: Partial<StoredTokens>): StoredTokens => ({ accessToken: 'theirs', expiresAt: NOW + 60_000, ...tokens });

describe('adopt: another tab stored tokens', () => {
  test('nothing, our own token, a login this tab saw end, or tokens that are not tokens: nothing changes', () => {
    const state = mine('ours');
    for (const tokens of [null, theirs({ accessToken: 'ours' }), theirs({ sessionId: 'ended' }), theirs({ accessToken: 42 as never })]) {
      const step = adopt(state, tokens, ctx, new Set(['ended']));
      expect(step.state).toBe(state);
      expect(step.effects).toEqual([]);
    }
  });

  test('a newer version of this login (its refresh): requests go on, the store hears refreshSucceeded, the identity takes the version', () => {
    const state = mine('ours');
    const step = adopt(state, theirs({ sessionId: 'login-a', version: 3 }), ctx, none);
    expect(step.state).toMatchObject({ status: 'authenticated', session: { accessToken: 'theirs', identity: state.session!.identity } });
    expect(step.effects).toEqual([
      { type: 'rename', identity: state.session!.identity, id: 'login-a', version: 3 },
      { type: 'emit', action: actions.refreshSucceeded({ expiresAt: NOW + 60_000, refreshAt: NOW + 30_000 }) },
      { type: 'release', error: null },
    ]);
  });

  test('an older or equal version of this login (a write of ours that failed): not news', () => {
    const state = mine('ours');
    expect(adopt(state, theirs({ sessionId: 'login-a', version: 2 }), ctx, none).state).toBe(state);
    // Without a version it is taken as newer: a tab of an older release wrote it.
    expect(adopt(state, theirs({ sessionId: 'login-a' }), ctx, none).state.session?.accessToken).toBe('theirs');
  });

  test("another user's login: this session ends for every request in flight, and the store hears why and where", () => {
    const state = refreshing(jwt({ sub: 'ada' }));
    const step = adopt(state, theirs({ accessToken: jwt({ sub: 'bob' }), sessionId: 'login-b', version: 1 }), ctx, none);
    expect(step.state.session?.identity).toEqual({ id: 'login-b', version: 1 });
    expect(step.effects.map((e) => e.type)).toEqual(['end', 'emit', 'emit', 'release']);
    expect(emitted(step.effects)).toEqual([
      actions.loggedOut({ reason: 'otherUser', elsewhere: true }),
      actions.tokensSet({ expiresAt: NOW + 60_000, refreshAt: NOW + 30_000 }),
    ]);
  });

  test('the same user (JWT sub) logged in again in another tab: the same login, named as that tab names it', () => {
    const state = mine(jwt({ sub: 'ada', n: 1 }));
    const step = adopt(state, theirs({ accessToken: jwt({ sub: 'ada', n: 2 }), sessionId: 'login-z', version: 7 }), ctx, none);
    expect(step.effects[0]).toEqual({ type: 'rename', identity: state.session!.identity, id: 'login-z', version: 7 });
    expect(emitted(step.effects)).toEqual([actions.refreshSucceeded({ expiresAt: NOW + 60_000, refreshAt: NOW + 30_000 })]);
  });

  test('without a sub to tell: a restore from the shared cookie continues our login; anything else is another login', () => {
    const state = mine('opaque-1');
    const restored = adopt(state, theirs({ sessionId: 'login-c', version: 1, restored: true }), ctx, none);
    expect(restored.state.session?.identity).toBe(state.session!.identity);
    expect(adopt(state, theirs({ restored: true }), ctx, none).state.session?.identity).not.toBe(state.session!.identity);
    expect(adopt(state, theirs({ sessionId: 'login-c', version: 1 }), ctx, none).state.session?.identity).toEqual({
      id: 'login-c',
      version: 1,
    });
    // One side with a sub and one without: the restore decides.
    expect(adopt(mine(jwt({ sub: 'ada' })), theirs({ sessionId: 'x', restored: true }), ctx, none).effects[0]).toMatchObject({
      type: 'rename',
      id: 'x',
    });
  });

  test('a tab without a session takes another tab login as its own, quietly (nothing ended)', () => {
    const state: State = { status: 'unauthenticated', ended: null, lastError: null };
    const step = adopt(state, theirs({ sessionId: 'login-d', version: 1 }), ctx, none);
    expect(step.effects.map((e) => e.type)).toEqual(['emit', 'release']);
    expect(step.state.status).toBe('authenticated');
    // Fresh: 20 s tokens alternating between two tabs are not refreshed at once.
    const short = adopt(state, theirs({ expiresAt: NOW + 20_000 }), ctx, none).state;
    expect(short.session?.refreshAt).toBe(NOW + 10_000);
  });
});

describe('found: under the lock, before spending the refresh token', () => {
  test('outside a refresh there is nothing to decide', () => {
    const state = mine('ours');
    expect(found(state, theirs({}), 'ours', ctx, none).state).toBe(state);
  });

  test('our tokens gone and no tab said why: other code cleared storage, and the session ends here as in the tabs that heard', () => {
    const state = refreshing('ours');
    for (const stored of [null, { accessToken: '' } as StoredTokens]) {
      const step = found(state, stored, 'ours', ctx, none);
      expect(step.state).toMatchObject({ status: 'unauthenticated', ended: { reason: 'storageCleared', elsewhere: true } });
      expect(step.effects).toContainEqual({ type: 'clear', reason: 'storageCleared' });
    }
    // Empty, but this tab never knew it to hold our token (a write of ours failed): refresh as planned.
    expect(found(state, null, 'something-else', ctx, none).state).toBe(state);
  });

  test('what storage held when we last looked is not news; anything else is adopted', () => {
    const state = refreshing('ours');
    expect(found(state, theirs({ accessToken: 'left-behind' }), 'left-behind', ctx, none).state).toBe(state);
    expect(found(state, theirs({ sessionId: 'login-a', version: 3 }), 'ours', ctx, none).state).toMatchObject({
      status: 'authenticated',
      session: { accessToken: 'theirs' },
    });
  });
});
