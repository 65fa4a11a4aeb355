/**
 * What a tab does with another tab's tokens (src/tabs/share.ts): `adopt` for a storage event, `found`
 * for what storage holds when this tab is about to spend its refresh token under the lock. Pure
 * functions of the machine's state, tested as the machine is.
 */
import { firstValueFrom, mergeMap, of, throwError, timer } from 'rxjs';
import { createTokenRefresh, syncTabs, type EndReason, type TokenStorage, type Tokens } from '../../src';
import { cookieSession } from '../../src/cookie';
import type { Effect, State } from '../../src/session/machine';
import { adopt, found } from '../../src/tabs/share';
import { toSession, type Identity, type StoredTokens } from '../../src/tokens';
import { expectWarning } from '../support/console';
import { createStore, fakeJwt } from '../support/harness';
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

  test('the same user logged in again in another tab, whatever version that tab counts: taken, named as that tab names it', () => {
    const state = mine(jwt({ sub: 'ada', n: 1 }));
    const step = adopt(state, theirs({ accessToken: jwt({ sub: 'ada', n: 2 }), sessionId: 'login-z', version: 1 }), ctx, none);
    expect(step.state.session?.accessToken).toBe(jwt({ sub: 'ada', n: 2 }));
    expect(step.effects[0]).toEqual({ type: 'rename', identity: state.session!.identity, id: 'login-z', version: 1 });
  });

  test('a restore from the shared cookie continues our login when only their token has a sub', () => {
    const state = mine('opaque-1');
    const step = adopt(state, theirs({ accessToken: jwt({ sub: 'ada' }), sessionId: 'login-c', version: 1, restored: true }), ctx, none);
    expect(step.state.session?.identity).toBe(state.session!.identity);
    expect(emitted(step.effects)).toEqual([actions.refreshSucceeded({ expiresAt: NOW + 60_000, refreshAt: NOW + 30_000 })]);
  });

  test("tokens that look expired on this tab's clock are sent as they are, not refreshed at once: the other tab just got them", () => {
    const step = adopt(mine('ours'), theirs({ sessionId: 'login-a', version: 3, expiresAt: NOW - 1_000 }), ctx, none);
    expect(step.state.session).toMatchObject({ accessToken: 'theirs', refreshAt: Infinity });
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

/**
 * A storage the tabs share that tells of the others' writes itself (as localStorage does), with a
 * lock across tabs: each tab gets its own view. The news of a write waits until the test delivers
 * it, as a `storage` event can arrive after the writing tab let go of the lock.
 */
type Listener = Parameters<NonNullable<TokenStorage['subscribe']>>[0];

class SharedDisk {
  stored: StoredTokens | null = null;
  /** `get` throws while this is set (a storage that became unreadable). */
  unreadable = false;
  private readonly tabs: Array<Set<Listener>> = [];
  private readonly mail: Array<() => void> = [];
  private queue: Promise<unknown> = Promise.resolve();
  held = false;
  /** How long the lock is kept after the task. */
  graceMs = 0;

  /** One tab's view of it. */
  view(): TokenStorage & { subscribe: NonNullable<TokenStorage['subscribe']> } {
    const listeners = new Set<Listener>();
    this.tabs.push(listeners);
    const tell = (tokens: StoredTokens | null, reason?: EndReason) => {
      for (const tab of this.tabs)
        if (tab !== listeners) this.mail.push(() => tab.forEach((listener) => listener(tokens && { ...tokens }, reason)));
    };
    return {
      get: () => {
        if (this.unreadable) throw new Error('unreadable');
        return this.stored && { ...this.stored };
      },
      set: (tokens: StoredTokens) => {
        this.stored = { ...tokens };
        tell(this.stored);
      },
      clear: (reason?: EndReason) => {
        this.stored = null;
        tell(null, reason);
      },
      subscribe: (listener) => (listeners.add(listener), () => listeners.delete(listener)),
      lock: <T>(task: () => Promise<T>): Promise<T> => {
        const run = this.queue.then(async () => {
          this.held = true;
          try {
            return await task();
          } finally {
            // Kept a moment after the task, as syncTabs' lock does, while the news travels.
            if (this.graceMs) await new Promise((resolve) => setTimeout(resolve, this.graceMs));
            this.held = false;
          }
        });
        this.queue = run.catch(() => undefined);
        return run;
      },
    };
  }

  /** Delivers the news of every write so far to the other tabs, in order. */
  deliver(): void {
    while (this.mail.length) this.mail.shift()!();
  }
}

/** The server: single-use rotating refresh tokens; an access token is good until the next refresh. */
class Server {
  generation = 0;
  access = 'access-0';
  refreshToken = 'refresh-0';
  refreshCalls = 0;
  refuse = false;
  get tokens(): Tokens {
    return { accessToken: this.access, refreshToken: this.refreshToken };
  }
  refresh = (refreshToken: string) =>
    timer(5).pipe(
      mergeMap(() => {
        this.refreshCalls++;
        if (this.refuse || refreshToken !== this.refreshToken) return throwError(() => ({ status: 401, error: 'invalid_grant' }));
        this.generation++;
        this.access = `access-${this.generation}`;
        this.refreshToken = `refresh-${this.generation}`;
        return of(this.tokens);
      }),
    );
  api = (token: string) =>
    timer(2).pipe(mergeMap(() => (token === this.access ? of(`ok with ${token}`) : throwError(() => ({ status: 401 })))));
}

describe('connect: the tabs of one storage, in virtual time', () => {
  let disk: SharedDisk;
  let server: Server;
  beforeEach(() => {
    jest.useFakeTimers();
    disk = new SharedDisk();
    server = new Server();
  });
  afterEach(() => jest.useRealTimers());

  const openTab = (storage: TokenStorage = disk.view()) => {
    const auth = createTokenRefresh({ refresh: server.refresh, storage: syncTabs(storage) });
    return { auth, store: createStore(auth) };
  };
  /** One API call's outcome: its value, or the name of its error. */
  const call = (auth: ReturnType<typeof openTab>['auth']) =>
    firstValueFrom(auth.authorized(server.api)).catch((error: Error) => error.name ?? String(error));
  const wait = (ms = 200) => jest.advanceTimersByTimeAsync(ms);

  test('under the lock, a tab finds that another tab refreshed (its news not here yet): it takes those tokens and spends no refresh token', async () => {
    const a = openTab();
    const b = openTab();
    a.auth.setTokens(server.tokens);
    disk.deliver();
    expect(b.auth.getAccessToken()).toBe('access-0');
    server.access = 'expired';
    const inA = call(a.auth);
    await wait();
    expect(await inA).toBe('ok with access-1');
    // B has not heard of A's refresh when its own request is refused.
    const inB = call(b.auth);
    await wait();
    expect(await inB).toBe('ok with access-1');
    expect(server.refreshCalls).toBe(1);
    expect(b.store.types()).toEqual(['tokensSet', 'refreshRequested', 'refreshSucceeded']);
    expect(b.store.state.status).toBe('authenticated');

    // The tokens B took are what it knows storage to hold: other code clearing storage (no event)
    // is found at B's next refresh, and B ends its session instead of spending A's refresh token.
    disk.stored = null;
    server.access = 'expired again';
    const again = call(b.auth);
    await wait();
    expect(await again).toBe('LoggedOutError');
    expect(server.refreshCalls).toBe(1);
    expect(b.store.state.ended).toEqual({ reason: 'storageCleared', elsewhere: true });
  });

  test("a tab queued for the lock that hears the holder's news meanwhile takes it, and spends nothing once it gets the lock", async () => {
    disk.graceMs = 50;
    const a = openTab();
    const b = openTab();
    a.auth.setTokens(server.tokens);
    disk.deliver();
    server.access = 'expired';
    const inA = call(a.auth);
    const inB = call(b.auth); // refused at the same time: queued behind A for the lock
    await wait(10); // A refreshed and keeps the lock a moment
    expect(server.refreshCalls).toBe(1);
    disk.deliver();
    await wait();
    expect(await inA).toBe('ok with access-1');
    expect(await inB).toBe('ok with access-1');
    expect(server.refreshCalls).toBe(1);
    expect(b.store.types()).toEqual(['tokensSet', 'refreshRequested', 'refreshSucceeded']);
  });

  test('without a lock (no Web Locks), a tab still looks at storage before spending its refresh token, and takes what another tab stored', async () => {
    const withoutLock = (): TokenStorage => ({ ...disk.view(), lock: undefined });
    const a = openTab(withoutLock());
    const b = openTab(withoutLock());
    a.auth.setTokens(server.tokens);
    disk.deliver();
    server.access = 'expired';
    const inA = call(a.auth);
    await wait();
    expect(await inA).toBe('ok with access-1');
    const inB = call(b.auth);
    await wait();
    expect(await inB).toBe('ok with access-1');
    expect(server.refreshCalls).toBe(1);
    expect(b.store.state.status).toBe('authenticated');
  });

  test('storage emptied by other code, found under the lock: the request fails with LoggedOutError and nothing is spent', async () => {
    const a = openTab();
    a.auth.setTokens(server.tokens);
    disk.stored = null;
    server.access = 'expired';
    const request = call(a.auth);
    await wait();
    expect(await request).toBe('LoggedOutError');
    expect(server.refreshCalls).toBe(0);
    expect(a.store.state).toMatchObject({ status: 'unauthenticated', ended: { reason: 'storageCleared', elsewhere: true } });
  });

  test('a storage that cannot be read under the lock tells nothing: the tab refreshes as planned and stays signed in', async () => {
    expectWarning('storage.get() failed (Error); the session goes on in memory.');
    const a = openTab();
    a.auth.setTokens(server.tokens);
    disk.unreadable = true;
    server.access = 'expired';
    const request = call(a.auth);
    await wait();
    expect(await request).toBe('ok with access-1');
    expect(a.store.state.status).toBe('authenticated');
  });

  test('an async storage (its read a Promise) with a lock: the tab refreshes as planned', async () => {
    const view = disk.view();
    const a = openTab({ ...view, get: async () => view.get() });
    await wait(10);
    a.auth.setTokens(server.tokens);
    server.access = 'expired';
    const request = call(a.auth);
    await wait();
    expect(await request).toBe('ok with access-1');
    expect(server.refreshCalls).toBe(1);
  });

  test('a refresh that fails under the lock fails the request and lets go of the lock, so the other tabs go on', async () => {
    const a = openTab();
    a.auth.setTokens(server.tokens);
    server.access = 'expired';
    server.refuse = true;
    const request = call(a.auth);
    await wait();
    expect(await request).toBe('TokenRefreshError');
    expect(disk.held).toBe(false);
    await expect(disk.view().lock!(async () => 'the next tab got it')).resolves.toBe('the next tab got it');
  });

  test('a lock manager that refuses the lock: the request fails at once, as a refresh that could not be done', async () => {
    const view = disk.view();
    const a = openTab({ ...view, lock: () => Promise.reject(new Error('the lock manager is gone')) });
    a.auth.setTokens(server.tokens);
    server.access = 'expired';
    let outcome: string | undefined;
    void call(a.auth).then((result) => (outcome = result));
    await wait(100); // far less than the refresh timeout (10 s)
    expect(outcome).toBe('RefreshUnavailableError');
    expect(a.store.types()).toEqual(['tokensSet', 'refreshRequested', 'refreshUnavailable']);
  });

  test("a logout heard late, when storage holds another login's tokens by then: those stay, and the tab that stored them stays signed in", async () => {
    const a = openTab();
    const b = openTab();
    a.auth.setTokens(server.tokens);
    disk.deliver();
    a.auth.clearTokens();
    a.auth.setTokens({ accessToken: 'another-login' });
    disk.deliver(); // B hears the logout with the new login already stored, then the new login
    await wait(10);
    disk.deliver();
    expect(disk.stored).toMatchObject({ accessToken: 'another-login' });
    expect(a.auth.getAccessToken()).toBe('another-login');
    expect(b.auth.getAccessToken()).toBe('another-login');
    expect(b.store.types()).toEqual(['tokensSet', 'loggedOut', 'tokensSet']);
  });

  test('a logout heard late, when storage holds tokens without a session id (an older release of the app wrote them): those stay', async () => {
    const older = disk.view();
    const b = openTab();
    const login: StoredTokens = { accessToken: 'access-0', sessionId: 'login-a', version: 1 };
    older.set(login);
    disk.deliver();
    older.clear('logout');
    older.set({ accessToken: 'written-by-an-older-release' });
    disk.deliver();
    await wait(10);
    expect(disk.stored).toEqual({ accessToken: 'written-by-an-older-release' });
    expect(b.store.state.ended).toBeNull();
    expect(b.auth.getAccessToken()).toBe('written-by-an-older-release');
  });

  test.each([
    ['of another login', { accessToken: 'another-login', sessionId: 'login-x', version: 1 }],
    ['without a session id', { accessToken: 'another-login' }],
  ])(
    "a tab restoring from the cookie hears another tab's logout: its restore ends, and tokens %s in storage stay",
    async (_, tokens: StoredTokens) => {
      const b = createTokenRefresh({
        session: cookieSession(),
        storage: disk.view(),
        refresh: () => timer(50).pipe(mergeMap(() => of({ accessToken: 'restored' }))),
      });
      const store = createStore(b);
      void b.restore();
      await wait(1);
      expect(store.state.status).toBe('restoring');
      const other = disk.view();
      other.clear('logout');
      disk.stored = { ...tokens };
      expect(() => disk.deliver()).not.toThrow();
      expect(store.state).toMatchObject({ status: 'unauthenticated', ended: { reason: 'logout', elsewhere: true } });
      expect(disk.stored).toEqual(tokens);
      await wait(100);
    },
  );

  test("a signed-out tab that hears another tab's logout has nothing to end and leaves storage alone", async () => {
    const b = openTab();
    disk.unreadable = true;
    disk.view().clear('logout');
    disk.deliver();
    expect(b.store.types()).toEqual([]);
  });
});
