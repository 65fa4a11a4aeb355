/**
 * The demo app in a real browser: Debian's Chromium, driven by playwright-core, against the demo
 * auth server started in-process, so every assertion can compare what the user sees with what the
 * server received (`server.stats()`).
 *
 * Without /usr/bin/chromium (or CHROMIUM_PATH) these tests skip with a message that says how to
 * install it; under CI=true they run, and fail if it is missing.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { startAuthServer, type AuthServer, type RequestRecord } from '../../demo/server/authServer';

/** Debian's Chromium; CHROMIUM_PATH points elsewhere (another distribution, or a check of the skip). */
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const ROOT = join(__dirname, '..', '..');
const DEMO = join(ROOT, 'demo');
/** Built apart from demo/dist, so a running `npm run demo` is not disturbed. */
const DIST = join(ROOT, '.tmp', 'e2e-dist');
const SCREENSHOTS = join(DEMO, 'screenshots');
const TOKEN_KEY = 'demo/tokens';
const ENDPOINTS = ['profile', 'items', 'report', 'heartbeat', 'echo'];
const SLOW_REFRESH_MS = 3000;

const inCi = process.env.CI === 'true';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium && !inCi) {
  console.warn(
    `Skipping the browser tests: ${CHROMIUM} is missing. Install Debian's Chromium with ` +
      '`sudo apt-get install -y chromium` (CI=true makes its absence a failure).',
  );
}
const describeInBrowser = hasChromium || inCi ? describe : describe.skip;

let server: AuthServer;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let pageErrors: string[];

/** Polls `check` until it holds; fails with `what` after `timeoutMs`. Every wait here is bounded. */
async function eventually(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const apiRecords = (): RequestRecord[] => server.stats().recent.filter((record) => record.path.startsWith('/api/'));
const text = async (testId: string) => (await page.textContent(`[data-testid="${testId}"]`))?.trim();
const storedTokens = () => page.evaluate((key) => window.localStorage.getItem(key), TOKEN_KEY);

async function screenshot(name: string): Promise<void> {
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** Sign in with the prefilled demo credentials, then zero the server's stats. */
async function signIn(): Promise<void> {
  await page.goto(server.url);
  await page.waitForSelector('[data-testid="login-page"]');
  expect(await page.inputValue('input[name="username"]')).toBe('demo');
  await page.click('button[type="submit"]');
  await page.waitForSelector('[data-testid="dashboard"]');
  expect(await text('token-gen')).toBe('1');
  server.reset();
}

async function allTilesLoaded(): Promise<void> {
  await page.waitForFunction(
    (count) => document.querySelectorAll('[data-testid^="tile-"][data-state="ok"]').length === count,
    ENDPOINTS.length,
  );
}

describeInBrowser('demo app in Chromium', () => {
  beforeAll(async () => {
    if (!hasChromium) {
      throw new Error(`CI=true but ${CHROMIUM} is missing: install it with \`apt-get install -y chromium\` (.ci/run does).`);
    }
    mkdirSync(SCREENSHOTS, { recursive: true });
    execFileSync('npx', ['--no-install', 'vite', 'build', '--outDir', DIST, '--emptyOutDir'], {
      cwd: DEMO,
      // Jest sets NODE_ENV=test, which Vite would honour; test the build `npm run demo` serves.
      env: { ...process.env, NODE_ENV: 'production' },
      stdio: ['ignore', 'ignore', 'inherit'],
      timeout: 60_000,
    });
    // Long-lived access tokens: every refresh in these tests comes from a scenario, none from expiry.
    server = await startAuthServer({ port: 0, staticDir: DIST, accessTtlMs: 600_000, quiet: true });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      timeout: 30_000,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync', '--disable-quic'],
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  beforeEach(async () => {
    context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
    page = await context.newPage();
    page.setDefaultTimeout(10_000);
    pageErrors = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
  });

  afterEach(async () => {
    await context?.close();
    expect(pageErrors).toEqual([]);
  });

  test('an expired token and five concurrent requests cause exactly one refresh, and every request succeeds', async () => {
    await signIn();
    await page.click('[data-testid="control-expire"]');
    await page.waitForSelector('[data-testid="activity-log"] >> text=Server: access token expired');
    await page.click('[data-testid="load-everything"]');
    await allTilesLoaded();

    // Exactly one refresh, whatever order the five requests reached the server in: on a busy
    // machine one of them can arrive after the refresh (a late 401 for a replaced token), and that
    // must not start a second one.
    const stats = server.stats();
    expect(stats).toMatchObject({ refreshCalls: 1, refreshOk: 1, apiRequests: 10, api401: 5, apiOk: 5 });
    const api = apiRecords();
    expect(api.filter(({ gen }) => gen === 1).map(({ status }) => status)).toEqual(Array(5).fill(401));
    expect(api.filter(({ gen }) => gen === 2).map(({ status }) => status)).toEqual(Array(5).fill(200));

    // The UI shows the same story: five 401s, one refresh, five replays with the new token.
    expect(await text('count-401')).toBe('5');
    expect(await text('count-refreshes')).toBe('1');
    expect(await text('count-replays')).toBe('5');
    expect(await text('token-gen')).toBe('2');
    for (const endpoint of ENDPOINTS) {
      expect(await text(`tile-${endpoint}`)).toContain('401 with gen 1, replayed with gen 2');
    }
    expect(await text('tile-profile')).toContain('Demo User');
    // The server's own counters reach the panel through the /stats poll.
    await page.waitForFunction(() => document.querySelector('[data-testid="count-server-refresh"]')?.textContent === '1');
    await screenshot('1-expired-token-one-refresh');

    // localStorageStorage keeps the session across a reload, with the refreshed token.
    await page.reload();
    await page.waitForSelector('[data-testid="dashboard"]');
    expect(await text('token-gen')).toBe('2');
    expect(server.stats().refreshCalls).toBe(1);
  });

  test('requests started during a slow refresh wait for it: none reaches the server with the old token', async () => {
    await signIn();
    // Slow refresh, expire, and one request whose 401 starts the refresh; one second into it the
    // scenario calls every endpoint, and this test calls them all once more by hand.
    await page.click('[data-testid="scenario-slowRefresh"]');
    await page.waitForSelector('[data-testid="session-badge"][data-status="refreshing"]');
    await page.click('[data-testid="load-everything"]');
    await page.waitForSelector('[data-testid="session-badge"][data-status="authenticated"]', { timeout: SLOW_REFRESH_MS + 5000 });
    await allTilesLoaded();
    await page.waitForSelector('[data-testid="scenario-slowRefresh"]:not([disabled])');

    // 1 request with the old token (401) and its replay, then 2 waves of 5 that waited: 12 in all.
    const stats = server.stats();
    expect(stats).toMatchObject({ refreshCalls: 1, refreshOk: 1, apiRequests: 12, api401: 1, apiOk: 11 });
    expect(stats.requestsWithReplacedToken).toBe(0);
    const api = apiRecords();
    expect(api.filter(({ gen }) => gen === 1).map(({ path, status }) => [path, status])).toEqual([['/api/heartbeat', 401]]);
    expect(api.filter(({ gen }) => gen === 2)).toHaveLength(11);
    expect(api.every(({ gen, status }) => (gen === 2 ? status === 200 : true))).toBe(true);
    const refreshedAt = stats.recent.find((record) => record.path === '/auth/refresh')!.at;
    expect(api.filter((record) => record.at >= refreshedAt && record.gen !== 2)).toEqual([]);

    // The UI shows the requests held back, then sent once with the new token.
    expect(await text('count-refreshes')).toBe('1');
    expect(await text('count-401')).toBe('1');
    for (const endpoint of ENDPOINTS) {
      expect(await text(`tile-${endpoint}`)).toContain('waited for the refresh, sent with gen 2');
    }
    const waited = await page.$$eval('[data-testid="activity-log"] li.log-wait', (items) => items.length);
    expect(waited).toBe(10);
    await page.waitForFunction(() => document.querySelector('[data-testid="count-server-old-token"]')?.textContent === '0');
    await screenshot('2-slow-refresh-requests-wait');
  });

  test('a revoked refresh token: one refresh attempt, every waiting request fails, back to login with a message, nothing more sent', async () => {
    await signIn();
    await page.click('[data-testid="scenario-revoked"]');
    await page.waitForSelector('[data-testid="login-page"]');
    const notice = await text('session-notice');
    expect(notice).toContain('Your session has expired. Please sign in again.');
    await page.waitForSelector('[data-testid="unfinished-requests"] >> text=5 requests could not finish');

    const settled = server.stats();
    expect(settled).toMatchObject({ refreshCalls: 1, refreshOk: 0, refreshFailed: 1, apiRequests: 5, api401: 5, apiOk: 0 });
    expect(await storedTokens()).toBeNull();

    // Nothing loops: no further refresh and no further API request.
    await sleep(2000);
    expect(server.stats()).toMatchObject({ refreshCalls: 1, apiRequests: 5 });
    expect(await page.isVisible('[data-testid="dashboard"]')).toBe(false);
    await screenshot('3-revoked-refresh-token-login');
  });

  test('every client at once after an expired token: the epics, RTK Query and authFetch share exactly one refresh', async () => {
    // A laptop screen, to check that the layout holds with the two extra panels.
    await page.setViewportSize({ width: 1280, height: 800 });
    await signIn();
    await page.click('[data-testid="control-expire"]');
    await page.waitForSelector('[data-testid="activity-log"] >> text=Server: access token expired');
    const refreshCallsBefore = server.stats().refreshCalls;

    // One click: the five epic requests, the two RTK Query endpoints and the fetch widget.
    await page.click('[data-testid="load-every-client"]');
    await allTilesLoaded();
    for (const testId of ['rtk-profile', 'rtk-items', 'fetch-echo']) {
      await page.waitForSelector(`[data-testid="${testId}"][data-state="ok"]`);
    }

    // Exactly one refresh for the eight 401s of three different clients.
    const stats = server.stats();
    expect(stats.refreshCalls - refreshCallsBefore).toBe(1);
    expect(stats).toMatchObject({ refreshCalls: 1, refreshOk: 1, apiRequests: 16, api401: 8, apiOk: 8 });
    const paths = (gen: number) => apiRecords().filter((record) => record.gen === gen).map(({ path, status }) => `${path} ${status}`).sort();
    const everyPath = [...ENDPOINTS, 'profile', 'items', 'echo'].map((endpoint) => `/api/${endpoint}`);
    expect(paths(1)).toEqual(everyPath.map((path) => `${path} 401`).sort());
    expect(paths(2)).toEqual(everyPath.map((path) => `${path} 200`).sort());

    // Every client shows success, replayed with the refreshed token.
    for (const endpoint of ENDPOINTS) {
      expect(await text(`tile-${endpoint}`)).toContain('401 with gen 1, replayed with gen 2');
    }
    expect(await text('rtk-profile')).toContain('Demo User');
    expect(await text('rtk-items')).toContain('5 items');
    expect(await text('rtk-profile-status')).toContain('status fulfilled');
    for (const testId of ['rtk-profile', 'rtk-items', 'fetch-echo']) {
      expect(await text(testId)).toContain('401 with gen 1, replayed with gen 2');
    }
    expect(await text('fetch-echo-result')).toContain('Server accepted token gen 2 for demo');

    // The activity panel counts every client's 401s and replays, and one refresh.
    expect(await text('count-401')).toBe('8');
    expect(await text('count-refreshes')).toBe('1');
    expect(await text('count-replays')).toBe('8');
    expect(await text('token-gen')).toBe('2');
    const replayedBy = await page.$$eval('[data-testid="activity-log"] li.log-replay .client-tag', (tags) => tags.map((tag) => tag.textContent).sort());
    expect(replayedBy).toEqual([...Array(5).fill('epic'), 'fetch', 'RTK Query', 'RTK Query'].sort());
    await page.waitForFunction(() => document.querySelector('[data-testid="count-server-refresh"]')?.textContent === '1');
    await screenshot('5-every-client-one-refresh');

    // RTK Query's own button refetches with the new token: no 401, no refresh.
    await page.click('[data-testid="rtk-refetch"]');
    await eventually('the refetch to reach the server', () => server.stats().apiRequests === 18);
    await page.waitForFunction(() =>
      ['rtk-profile', 'rtk-items'].every((id) => {
        const tile = document.querySelector(`[data-testid="${id}"][data-state="ok"]`);
        return tile?.textContent?.includes('sent with gen 2') && !tile.textContent.includes('401 with');
      }),
    );
    expect(server.stats()).toMatchObject({ refreshCalls: 1, api401: 8, apiOk: 10 });
  });

  test('logging out during a slow refresh sends nothing more and drops the late tokens', async () => {
    await signIn();
    await page.click('[data-testid="scenario-logoutDuringRefresh"]');
    await page.waitForSelector('[data-testid="session-badge"][data-status="refreshing"]');
    const refreshStartedAt = Date.now();
    await page.waitForSelector('[data-testid="login-page"]', { timeout: SLOW_REFRESH_MS + 2000 });
    expect(await text('session-notice')).toContain('You have signed out.');
    await screenshot('4-logout-during-refresh');

    // Wait until the slow refresh has answered (or would have): its tokens must not come back.
    await sleep(Math.max(0, refreshStartedAt + SLOW_REFRESH_MS + 1000 - Date.now()));
    const stats = server.stats();
    const logout = stats.recent.find((record) => record.path === '/auth/logout');
    expect(logout).toBeDefined();
    expect(stats).toMatchObject({ refreshCalls: 1, apiRequests: 5, api401: 5, apiOk: 0 });
    expect(apiRecords().filter((record) => record.at >= logout!.at)).toEqual([]);
    expect(await storedTokens()).toBeNull();

    await page.reload();
    await page.waitForSelector('[data-testid="login-page"]');
    expect(await page.isVisible('[data-testid="dashboard"]')).toBe(false);
    expect(server.stats().apiRequests).toBe(5);
    await screenshot('4-after-reload-login-page');
  });
});
