/**
 * The tabs of one browser agree: a second tab that opens (or reloads) continues the first tab's
 * login instead of ending it, and every way a session ends reaches every tab's store with its
 * reason. Two `auth`s with their own stores share a simulated localStorage, Web Locks and (cookie
 * mode) Node's BroadcastChannel; the server is the real one on 127.0.0.1, with rotating refresh
 * tokens, reuse detection, and access tokens refused once their session issued a newer one.
 */
import { firstValueFrom, from, lastValueFrom, range, concatMap, timer, map, catchError, of, toArray } from 'rxjs';
import { localStorageStorage, type Tokens, type TokenRefresh, type TokenRefreshState } from '../src';
import { Browser, type Tab } from './support/tabs';
import { jsonRefresh, login, startServer, startSession, until, type AuthServer, type Session } from './support/realServer';
import { cookieSession } from '../src/cookie';

let server: AuthServer;
let browser: Browser;
afterEach(() => server?.close());

const storageOf = (tab: Tab) => localStorageStorage('app/tokens', { storage: tab.localStorage, locks: browser.locks, events: tab.events });
const state = (session: Session) => (session.store.getState() as { tokenRefresh: TokenRefreshState }).tokenRefresh;

/** One API call; a 401 is handed to `authorized` as an auth error. */
const call = (auth: TokenRefresh) =>
  auth.authorized((token) =>
    from(
      fetch(`${server.url}/api/echo`, { headers: { Authorization: `Bearer ${token}` } }).then((response) =>
        response.ok ? response.json() : Promise.reject(Object.assign(new Error(`HTTP ${response.status}`), { status: response.status })),
      ),
    ),
  );

/** A tab that keeps calling the API every 25 ms: what each call ended in. */
const poll = (auth: TokenRefresh, calls: number) =>
  lastValueFrom(
    range(calls).pipe(
      concatMap(() => timer(25)),
      concatMap(() =>
        call(auth).pipe(
          map(() => 'ok'),
          catchError((error: Error) => of(error.name)),
        ),
      ),
      toArray(),
    ),
  );

async function loginAs(username: string): Promise<Tokens> {
  const response = await fetch(`${server.url}/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username, password: username }),
  });
  const { accessToken, refreshToken } = (await response.json()) as Tokens;
  return { accessToken, refreshToken };
}

describe("a second tab continues the first tab's login", () => {
  test.each([0, 60])(
    'localStorage: tab A polls while tab B opens and reloads (server latency %i ms): no LoggedOutError, no tokensSet in A',
    async (latency) => {
      server = await startServer({ apiLatencyMs: latency, refreshLatencyMs: latency });
      browser = new Browser();
      const a = await startSession(server, { storage: storageOf(browser.openTab()), loggedIn: false });
      a.auth.setTokens(await login(server));
      const before = a.types().length;
      const polling = poll(a.auth, 24);
      await new Promise((resolve) => setTimeout(resolve, 100));
      const tabB = browser.openTab();
      const b = await startSession(server, { storage: storageOf(tabB), loggedIn: false });
      await firstValueFrom(call(b.auth));
      server.control.expireAccessTokens(); // B refreshes while A is busy
      await firstValueFrom(call(b.auth));
      // A reload of B: a new auth on the same storage.
      const reloaded = await startSession(server, { storage: storageOf(tabB), loggedIn: false });
      await firstValueFrom(call(reloaded.auth));
      expect(await polling).toEqual(Array(24).fill('ok'));
      expect(a.types().slice(before)).not.toContain('tokensSet');
      expect(a.types()).not.toContain('loggedOut');
      expect(server.stats().reuseDetections).toBe(0);
    },
  );

  test.each([0, 60])(
    'cookie mode: tab A polls while tab B opens and restores from the shared cookie (server latency %i ms): no LoggedOutError, no tokensSet in A',
    async (latency) => {
      server = await startServer({ apiLatencyMs: latency, refreshLatencyMs: latency });
      browser = new Browser();
      const undo = browser.asDocument();
      try {
        // The HttpOnly cookie both tabs send: the refresh function reads and rotates it, scripts never see it.
        let cookie = (await login(server)).refreshToken!;
        const refresh = jsonRefresh(server);
        const fromCookie = async (_none: undefined, context: { signal: AbortSignal }) => {
          const tokens = (await refresh(cookie, context)) as Tokens;
          cookie = tokens.refreshToken!;
          return { accessToken: tokens.accessToken };
        };
        const open = () => startSession(server, { session: cookieSession(), refresh: fromCookie, loggedIn: false } as never);
        const a = await open();
        expect(await a.auth.restore()).toBe(true);
        const before = a.types().length;
        const polling = poll(a.auth, 24);
        await new Promise((resolve) => setTimeout(resolve, 100));
        const b = await open();
        expect(await b.auth.restore()).toBe(true);
        await firstValueFrom(call(b.auth));
        const reloaded = await open();
        expect(await reloaded.auth.restore()).toBe(true);
        expect(await polling).toEqual(Array(24).fill('ok'));
        expect(a.types().slice(before)).not.toContain('tokensSet');
        expect(a.types()).not.toContain('loggedOut');
        expect(server.stats().reuseDetections).toBe(0);
        await until(() => a.auth.getAccessToken() === reloaded.auth.getAccessToken(), 'tab A took the newest token');
      } finally {
        undo();
      }
    },
  );
});

describe('every tab knows why the session ended', () => {
  let a: Session;
  let b: Session;
  let tabA: Tab;
  beforeEach(async () => {
    server = await startServer({
      users: [
        { username: 'demo', password: 'demo' },
        { username: 'other', password: 'other' },
      ],
    });
    browser = new Browser();
    tabA = browser.openTab();
    a = await startSession(server, { storage: storageOf(tabA), loggedIn: false });
    b = await startSession(server, { storage: storageOf(browser.openTab()), loggedIn: false });
    a.auth.setTokens(await login(server));
    await until(() => b.auth.getAccessToken() !== undefined, 'tab B heard of the login');
  });

  const ends = (session: Session) => session.store.getState() && state(session).ended;

  test('a logout in tab A: logout in both, elsewhere in B', async () => {
    a.auth.clearTokens();
    await until(() => state(b).status === 'unauthenticated', 'tab B logged out');
    expect(ends(a)).toEqual({ reason: 'logout', elsewhere: false });
    expect(ends(b)).toEqual({ reason: 'logout', elsewhere: true });
  });

  test('a refresh the server refused in tab A: rejected in both, after refreshFailed in A', async () => {
    server.control.revokeRefreshTokens();
    server.control.expireAccessTokens();
    await expect(firstValueFrom(call(a.auth))).rejects.toMatchObject({ name: 'TokenRefreshError' });
    await until(() => state(b).status === 'unauthenticated', 'tab B logged out');
    expect(ends(a)).toEqual({ reason: 'rejected', elsewhere: false });
    expect(ends(b)).toEqual({ reason: 'rejected', elsewhere: true });
    expect(a.types().slice(-2)).toEqual(['refreshFailed', 'loggedOut']);
  });

  test("another user's login in tab B: tab A hears otherUser, then the new login", async () => {
    b.auth.setTokens(await loginAs('other'));
    await until(() => a.auth.getAccessToken() === b.auth.getAccessToken(), 'tab A took the new login');
    expect(a.types().slice(-2)).toEqual(['loggedOut', 'tokensSet']);
    expect(state(a)).toMatchObject({ status: 'authenticated', ended: null });
  });

  test('localStorage.clear() by other code in tab A: both tabs end with storageCleared', async () => {
    tabA.localStorage.clear();
    await until(() => state(a).status === 'unauthenticated' && state(b).status === 'unauthenticated', 'both tabs logged out');
    expect(ends(a)).toEqual({ reason: 'storageCleared', elsewhere: true });
    expect(ends(b)).toEqual({ reason: 'storageCleared', elsewhere: true });
  });

  test('a logout in tab A while tab B refreshes: A is never signed in again, and both end logged out', async () => {
    // B's refresh answers before it hears of the logout, and its write reaches A after A logged out.
    await server.close();
    server = await startServer({ refreshLatencyMs: 30 });
    browser = new Browser(50);
    a = await startSession(server, { storage: storageOf(browser.openTab()), loggedIn: false });
    b = await startSession(server, { storage: storageOf(browser.openTab()), loggedIn: false });
    a.auth.setTokens(await login(server));
    await until(() => b.auth.getAccessToken() !== undefined, 'tab B heard of the login');
    server.control.expireAccessTokens();
    const statuses: string[] = [];
    const refreshing = firstValueFrom(call(b.auth)).catch((error: Error) => error.name);
    await until(() => state(b).status === 'refreshing', 'tab B refreshing');
    a.auth.clearTokens();
    a.store.subscribe(() => statuses.push(state(a).status));
    await refreshing; // B may finish its call before it hears of the logout: that is B's business
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(server.stats().refreshOk).toBe(1); // B's refresh did answer, and its tokens reached A late
    expect(statuses).not.toContain('authenticated');
    expect(state(a)).toMatchObject({ status: 'unauthenticated', ended: { reason: 'logout', elsewhere: false } });
    expect(state(b)).toMatchObject({ status: 'unauthenticated', ended: { reason: 'logout', elsewhere: true } });
    expect(browser.read('app/tokens')).toBeNull();
  });
});
