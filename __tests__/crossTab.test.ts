import { defer, firstValueFrom, forkJoin, from } from 'rxjs';
import { localStorageStorage, type RefreshFn, type TokenRefresh, type Tokens } from '../src';
import { oauth2RefreshGrant } from '../src/adapters/oauth2';
import { Browser, type Tab } from './support/tabs';
import { login, startServer, startSession, until, type AuthServer } from './support/realServer';

/**
 * Two tabs of one app, each with its own store and `auth`, sharing localStorage and Web Locks
 * (simulated: Node has neither), against the real server with single-use rotating refresh tokens
 * and reuse detection: the failure this guards against is the server revoking the whole session
 * because two tabs spent one refresh token.
 */
let server: AuthServer;
let browser: Browser;
afterEach(() => server?.close());

const storageOf = (tab: Tab) => localStorageStorage('app/tokens', { storage: tab.localStorage, locks: browser.locks, events: tab.events });

async function openTab(options: { refresh?: RefreshFn } = {}) {
  const tab = browser.openTab();
  return { tab, ...(await startSession(server, { storage: storageOf(tab), loggedIn: false, ...options })) };
}

const call = (auth: TokenRefresh, path = 'echo') =>
  auth.authorized((token) =>
    from(
      fetch(`${server.url}/api/${path}`, { headers: { Authorization: `Bearer ${token}` } }).then((response) =>
        response.ok ? (response.json() as Promise<{ gen: number }>) : Promise.reject(response),
      ),
    ),
  );

describe('two tabs', () => {
  beforeEach(async () => {
    server = await startServer();
    browser = new Browser();
  });

  test('a login in one tab reaches the other tab and its store', async () => {
    const a = await openTab();
    const b = await openTab();
    a.auth.setTokens(await login(server));
    expect(b.auth.getAccessToken()).toBe(a.auth.getAccessToken());
    expect(b.store.getState()).toMatchObject({ tokenRefresh: { status: 'authenticated' } });
    expect(b.types()).toEqual(['tokensSet']);
  });

  test.each([0, 50])(
    'both tabs hit 401 at once: one refresh, the other tab adopts its tokens, no reuse detection (storage events %i ms late)',
    async (delay) => {
      browser = new Browser(delay);
      const a = await openTab();
      const b = await openTab();
      a.auth.setTokens(await login(server));
      await until(() => b.auth.getAccessToken() !== undefined, 'tab B heard of the login');
      server.control.expireAccessTokens();
      const results = await firstValueFrom(
        forkJoin([...[1, 2, 3, 4, 5].map(() => call(a.auth)), ...[1, 2, 3, 4, 5].map(() => call(b.auth))]),
      );
      expect(results.map((r) => r.gen)).toEqual(results.map(() => 2));
      expect(server.stats()).toMatchObject({ refreshCalls: 1, reuseDetections: 0 });
      expect(a.auth.getAccessToken()).toBe(b.auth.getAccessToken());
      // The tab that queued for the lock waits a short grace for the holder's news, then lets go.
      await until(() => browser.held.size === 0, 'the cross-tab lock released');
    },
  );

  test('a logout during a slow refresh releases the cross-tab lock at once and logs the other tab out', async () => {
    // A refresh that cannot be aborted (it ignores `signal`): only unsubscribing ends our wait for it.
    const a = await openTab({
      refresh: (refreshToken) =>
        defer(() =>
          fetch(`${server.url}/auth/refresh`, {
            method: 'POST',
            headers: { 'Content-Type': 'application/json' },
            body: JSON.stringify({ refreshToken }),
          }).then((r) => r.json() as Promise<Tokens>),
        ),
    });
    const b = await openTab();
    a.auth.setTokens(await login(server));
    server.control.expireAccessTokens();
    server.control.slowNextRefresh(1_000);
    const failed = firstValueFrom(call(a.auth)).catch((error: Error) => error.name);
    await until(() => browser.held.size === 1, 'tab A holds the refresh lock');
    a.auth.clearTokens();
    await until(() => browser.held.size === 0, 'the lock is released', 200);
    expect(await failed).toBe('LoggedOutError');
    expect(b.auth.getAccessToken()).toBeUndefined();
    expect(b.store.getState()).toMatchObject({ tokenRefresh: { status: 'unauthenticated' } });
  });

  test('with a refresh token that does not rotate, a tab that gets the lock late still adopts instead of refreshing again', async () => {
    browser = new Browser(50);
    await server.close();
    server = await startServer({ oauthRotateRefreshTokens: false });
    const refresh = oauth2RefreshGrant({ tokenEndpoint: `${server.url}/oauth/token`, clientId: 'demo-app' });
    const a = await openTab({ refresh });
    const b = await openTab({ refresh });
    const response = await fetch(`${server.url}/oauth/token`, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'password', username: 'demo', password: 'demo', client_id: 'demo-app' }),
    });
    const body = (await response.json()) as { access_token: string; refresh_token: string };
    a.auth.setTokens({ accessToken: body.access_token, refreshToken: body.refresh_token } satisfies Tokens);
    await until(() => b.auth.getAccessToken() !== undefined, 'tab B heard of the login');
    server.control.expireAccessTokens();
    await firstValueFrom(forkJoin([call(a.auth), call(b.auth), call(b.auth)]));
    expect(server.stats().refreshCalls).toBe(1);
  });
});
