/**
 * The demo app in a real browser: Debian's Chromium, driven by playwright-core, against the demo
 * auth server started in-process, so every assertion can compare what the user sees with what the
 * server received (`server.stats()`).
 *
 * The server runs with the settings of `npm run demo` (demo/server/config.ts: 15 s access tokens),
 * so these tests see what a person sees, known-expiry refreshes included; in one test six people
 * each read the page as long as a person would (past the token's refresh window) before running one
 * scenario each.
 *
 * Without /usr/bin/chromium (or CHROMIUM_PATH) these tests skip with a message that says how to
 * install it; under CI=true they run, and fail if it is missing.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { CHROMIUM, hasChromium, launchChromium } from './support/chromium';
import { startAuthServer, type AuthServer, type RequestRecord } from '../../demo/server/authServer';
import { DEMO_ACCESS_TTL_S, demoServerOptions } from '../../demo/server/config';

const ROOT = join(__dirname, '..', '..');
const DEMO = join(ROOT, 'demo');
/** Built apart from demo/dist, so a running `npm run demo` is not disturbed. */
const DIST = join(ROOT, '.tmp', 'e2e-dist');
const SCREENSHOTS = join(DEMO, 'screenshots');
const TOKEN_KEY = 'demo/tokens';
const ENDPOINTS = ['profile', 'items', 'report', 'heartbeat', 'echo'];
const SLOW_REFRESH_MS = 3000;

const inCi = process.env.CI === 'true';
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
const text = async (testId: string, on: Page = page) => (await on.textContent(`[data-testid="${testId}"]`))?.trim();
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

/** Runs a scenario and waits until it has finished (its button is enabled again). */
async function runScenario(id: string, timeout = 20_000): Promise<void> {
  await page.click(`[data-testid="scenario-${id}"]`);
  await page.waitForSelector(`[data-testid="scenario-${id}"]:not([disabled])`, { timeout });
}

const logLines = () => page.$$eval('[data-testid="activity-log"] li', (items) => items.map((item) => item.textContent ?? ''));

/** The token generation of the 401s a scenario provoked (the one before its refresh). */
function rejectedGen(): number {
  const gens = new Set(
    apiRecords()
      .filter(({ status }) => status === 401)
      .map(({ gen }) => gen),
  );
  expect(gens.size).toBe(1);
  return [...gens][0]!;
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
    // The demo's own settings (15 s access tokens), as `npm run demo` starts it.
    server = await startAuthServer({ ...demoServerOptions(), port: 0, staticDir: DIST, quiet: true });
    browser = await launchChromium();
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
    await runScenario('expired');
    await allTilesLoaded();

    // Exactly one refresh, whatever order the five requests reached the server in: on a busy
    // machine one of them can arrive after the refresh (a late 401 for a replaced token), and that
    // must not start a second one. The scenario zeroed the server's counters when it started.
    const stats = server.stats();
    expect(stats).toMatchObject({ refreshCalls: 1, refreshOk: 1, apiRequests: 10, api401: 5, apiOk: 5 });
    const gen = rejectedGen();
    const api = apiRecords();
    expect(api.filter((record) => record.gen === gen).map(({ status }) => status)).toEqual(Array(5).fill(401));
    expect(api.filter((record) => record.gen === gen + 1).map(({ status }) => status)).toEqual(Array(5).fill(200));

    // The UI shows the same story: five 401s, one refresh, five replays with the new token.
    expect(await text('count-401')).toBe('5');
    expect(await text('count-refreshes')).toBe('1');
    expect(await text('count-replays')).toBe('5');
    expect(await text('token-gen')).toBe(String(gen + 1));
    for (const endpoint of ENDPOINTS) {
      expect(await text(`tile-${endpoint}`)).toContain(`401 with gen ${gen}, replayed with gen ${gen + 1}`);
    }
    expect(await text('tile-profile')).toContain('Demo User');
    // The page says why the browser's console shows red 401 lines.
    expect(await text('console-note')).toContain('401s this demo provokes on purpose');
    // The server's own counters reach the panel through the /stats poll.
    await page.waitForFunction(() => document.querySelector('[data-testid="count-server-refresh"]')?.textContent === '1');
    await screenshot('1-expired-token-one-refresh');

    // localStorageStorage keeps the session across a reload, with the refreshed token.
    await page.reload();
    await page.waitForSelector('[data-testid="dashboard"]');
    expect(await text('token-gen')).toBe(String(gen + 1));
    expect(server.stats().refreshCalls).toBe(1);
  });

  test("every scenario after a person's pause: each of six people signs in, reads for 9.5 s, then runs one scenario, and sees what its card says", async () => {
    // One browser context per person: separate sessions (no shared localStorage). The server's
    // controls act on every session, so the scenarios run one after another, revocation last.
    const people: Array<{ scenario: string; page: Page; context: BrowserContext }> = [];
    try {
      for (const scenario of ['expired', 'everyClient', 'flakyRefresh', 'slowRefresh', 'logoutDuringRefresh', 'revoked']) {
        const own = await browser.newContext({ viewport: { width: 1280, height: 800 } });
        const tab = await own.newPage();
        tab.setDefaultTimeout(15_000);
        tab.on('pageerror', (error) => pageErrors.push(error.message));
        await tab.goto(server.url);
        await tab.click('button[type="submit"]');
        await tab.waitForSelector('[data-testid="dashboard"]');
        people.push({ scenario, page: tab, context: own });
      }
      // A person reads the cards: each token enters its refresh window (half its 15 s life) meanwhile.
      await sleep((DEMO_ACCESS_TTL_S / 2) * 1000 + 2000);
      expect(await text('refresh-window', people[0]!.page)).toContain('refreshed before next use');

      const counts = async (tab: Page) =>
        Object.fromEntries(
          await Promise.all(['401', 'refreshes', 'replays'].map(async (id) => [id, await text(`count-${id}`, tab)] as const)),
        );
      const linesOf = (tab: Page) => tab.$$eval('[data-testid="activity-log"] li', (items) => items.map((item) => item.textContent ?? ''));
      for (const { scenario, page: tab } of people) {
        await tab.click(`[data-testid="scenario-${scenario}"]`);
        if (scenario === 'logoutDuringRefresh' || scenario === 'revoked') {
          await tab.waitForSelector('[data-testid="login-page"]', { timeout: SLOW_REFRESH_MS + 10_000 });
          const notice = await tab.textContent('[data-testid="session-notice"]');
          expect({ scenario, notice }).toEqual({
            scenario,
            notice: expect.stringContaining(scenario === 'revoked' ? 'Your session has expired' : 'You have signed out'),
          });
          // Revoked: the refresh is refused. Logout: the slow refresh succeeds on the server, and
          // its late tokens are thrown away; either way nothing is sent once the session ends.
          expect({ scenario, stats: server.stats() }).toMatchObject({
            scenario,
            stats: { refreshCalls: 1, refreshOk: scenario === 'revoked' ? 0 : 1, apiRequests: 5, api401: 5, apiOk: 0 },
          });
          continue;
        }
        await tab.waitForSelector(`[data-testid="scenario-${scenario}"]:not([disabled])`, { timeout: 20_000 });
        await tab.waitForFunction(
          (n) => document.querySelectorAll('[data-testid^="tile-"][data-state="ok"]').length === n,
          ENDPOINTS.length,
        );
        const lines = await linesOf(tab);
        expect({ scenario, setup: lines.some((line) => line.includes('Setup: token gen 1 enters its refresh window')) }).toEqual({
          scenario,
          setup: true,
        });
        const expected = {
          expired: { '401': '5', refreshes: '1', replays: '5' },
          everyClient: { '401': '8', refreshes: '1', replays: '8' },
          flakyRefresh: { '401': '5', refreshes: '1', replays: '5' },
          slowRefresh: { '401': '1', refreshes: '1', replays: '1' },
        }[scenario];
        expect({ scenario, counts: await counts(tab) }).toEqual({ scenario, counts: expected });
        // A request that left just before the refresh may arrive after it (a late 401, replayed
        // without a second refresh); in the slow refresh, the card promises none does.
        expect({ scenario, stats: server.stats() }).toMatchObject({
          scenario,
          stats: {
            refreshOk: 1,
            reuseDetections: 0,
            refreshCalls: scenario === 'flakyRefresh' ? 2 : 1,
            ...(scenario === 'slowRefresh' ? { requestsWithReplacedToken: 0 } : {}),
          },
        });
      }
    } finally {
      for (const person of people) await person.context.close();
    }
  }, 120_000);

  test('"Token about to expire": no 401, one refresh before anything is sent, the five requests wait and go out once', async () => {
    await signIn();
    await runScenario('knownExpiry', (DEMO_ACCESS_TTL_S / 2) * 1000 + 10_000);
    await allTilesLoaded();

    const stats = server.stats();
    expect(stats).toMatchObject({ refreshCalls: 1, refreshOk: 1, apiRequests: 5, api401: 0, apiOk: 5, requestsWithReplacedToken: 0 });
    expect(apiRecords().every(({ gen }) => gen === 2)).toBe(true);
    expect(await text('count-401')).toBe('0');
    expect(await text('count-refreshes')).toBe('1');
    expect(await text('count-requests')).toBe('5');
    const lines = await logLines();
    expect(lines.filter((line) => line.includes('Refresh started: the access token is about to expire'))).toHaveLength(1);
    expect(lines.filter((line) => line.includes('waits for the refresh (not sent)'))).toHaveLength(5);
    for (const endpoint of ENDPOINTS) {
      expect(await text(`tile-${endpoint}`)).toContain('waited for the refresh, sent with gen 2');
    }
    await screenshot('7-known-expiry');
  });

  test('"Refresh fails once": each refresh attempt and its backoff are in the log; one refresh, two calls on the server', async () => {
    await signIn();
    await runScenario('flakyRefresh');
    await allTilesLoaded();

    expect(server.stats()).toMatchObject({ refreshCalls: 2, refreshOk: 1, refreshFailed: 1, api401: 5, apiOk: 5 });
    expect(await text('count-refreshes')).toBe('1');
    expect(await text('panel-activity')).toContain('refreshes (2 attempts)');
    const lines = await logLines();
    const failed = lines.find((line) => line.includes('Refresh attempt 1 ← 500'));
    expect(failed).toContain('transient: retry 1 of 2 in 500 ms');
    const retried = lines.find((line) => line.includes('Refresh attempt 2: POST /auth/refresh, after a'));
    const backoff = Number(/after a ([\d.]+) s backoff/.exec(retried ?? '')?.[1]);
    expect(backoff).toBeGreaterThanOrEqual(0.5);
    expect(lines.some((line) => line.includes('Refresh succeeded after 2 attempts'))).toBe(true);
    await page.waitForFunction(() => document.querySelector('[data-testid="count-server-refresh"]')?.textContent === '2');
    await screenshot('8-refresh-fails-once');
  });

  test('requests started during a slow refresh wait for it: none reaches the server with the old token', async () => {
    await signIn();
    // Slow refresh, expire, and one request whose 401 starts the refresh; one second into it the
    // scenario calls every endpoint, and this test calls them all once more by hand.
    await page.click('[data-testid="scenario-slowRefresh"]');
    await page.waitForSelector('[data-testid="activity-log"] >> text=Refresh started: a request got 401');
    await page.click('[data-testid="load-everything"]');
    await page.waitForSelector('[data-testid="session-badge"][data-status="authenticated"]', { timeout: SLOW_REFRESH_MS + 5000 });
    await allTilesLoaded();
    await page.waitForSelector('[data-testid="scenario-slowRefresh"]:not([disabled])');

    // 1 request with the old token (401) and its replay, then 2 waves of 5 that waited: 12 in all.
    const stats = server.stats();
    expect(stats).toMatchObject({ refreshCalls: 1, refreshOk: 1, apiRequests: 12, api401: 1, apiOk: 11 });
    expect(stats.requestsWithReplacedToken).toBe(0);
    const gen = rejectedGen();
    const api = apiRecords();
    expect(api.filter((record) => record.gen === gen).map(({ path, status }) => [path, status])).toEqual([['/api/heartbeat', 401]]);
    expect(api.filter((record) => record.gen === gen + 1)).toHaveLength(11);
    expect(api.every((record) => (record.gen === gen + 1 ? record.status === 200 : true))).toBe(true);
    const refreshedAt = stats.recent.find((record) => record.path === '/auth/refresh')!.at;
    expect(api.filter((record) => record.at >= refreshedAt && record.gen !== gen + 1)).toEqual([]);

    // The UI shows the requests held back, then sent once with the new token.
    expect(await text('count-refreshes')).toBe('1');
    expect(await text('count-401')).toBe('1');
    for (const endpoint of ENDPOINTS) {
      expect(await text(`tile-${endpoint}`)).toContain(`waited for the refresh, sent with gen ${gen + 1}`);
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
    await page.click('[data-testid="fetch-call"]');
    await page.waitForSelector('[data-testid="fetch-echo"][data-state="ok"]');

    // One click: the five epic requests, the two RTK Query endpoints and the fetch widget.
    await runScenario('everyClient');
    await allTilesLoaded();
    for (const testId of ['rtk-profile', 'rtk-items', 'fetch-echo']) {
      await page.waitForSelector(`[data-testid="${testId}"][data-state="ok"]`);
    }

    // Exactly one refresh for the eight 401s of three different clients.
    const stats = server.stats();
    expect(stats).toMatchObject({ refreshCalls: 1, refreshOk: 1, apiRequests: 16, api401: 8, apiOk: 8 });
    const gen = rejectedGen();
    const paths = (g: number) =>
      apiRecords()
        .filter((record) => record.gen === g)
        .map(({ path, status }) => `${path} ${status}`)
        .sort();
    const everyPath = [...ENDPOINTS, 'profile', 'items', 'echo'].map((endpoint) => `/api/${endpoint}`);
    expect(paths(gen)).toEqual(everyPath.map((path) => `${path} 401`).sort());
    expect(paths(gen + 1)).toEqual(everyPath.map((path) => `${path} 200`).sort());

    // Every client shows success, replayed with the refreshed token.
    const story = `401 with gen ${gen}, replayed with gen ${gen + 1}`;
    for (const endpoint of ENDPOINTS) expect(await text(`tile-${endpoint}`)).toContain(story);
    expect(await text('rtk-profile')).toContain('Demo User');
    expect(await text('rtk-items')).toContain('5 items');
    expect(await text('rtk-profile-status')).toContain('status fulfilled');
    for (const testId of ['rtk-profile', 'rtk-items', 'fetch-echo']) expect(await text(testId)).toContain(story);
    // The fetch widget shows this call only: no "accepted gen 1" left from the call before.
    expect(await text('fetch-echo-result')).toContain(`Server accepted token gen ${gen + 1} for demo`);
    expect(await text('fetch-echo-result')).not.toContain(`gen ${gen} `);

    // The activity panel counts every client's 401s and replays, and one refresh.
    expect(await text('count-401')).toBe('8');
    expect(await text('count-refreshes')).toBe('1');
    expect(await text('count-replays')).toBe('8');
    expect(await text('token-gen')).toBe(String(gen + 1));
    const replayedBy = await page.$$eval('[data-testid="activity-log"] li.log-replay .client-tag', (tags) =>
      tags.map((tag) => tag.textContent).sort(),
    );
    expect(replayedBy).toEqual([...Array(5).fill('epic'), 'fetch', 'RTK Query', 'RTK Query'].sort());
    // One numbering for every client: a number names one request only.
    const named = new Map<string, string>();
    for (const line of await logLines()) {
      const match = /(epic|RTK Query|fetch)\s*(\/api\/\w+) #(\d+)/.exec(line);
      if (!match) continue;
      const who = `${match[1]} ${match[2]}`;
      expect(named.get(match[3]!) ?? who).toBe(who);
      named.set(match[3]!, who);
    }
    expect(named.size).toBe(9); // the eight calls of the scenario and the fetch widget's call before it
    await page.waitForFunction(() => document.querySelector('[data-testid="count-server-refresh"]')?.textContent === '1');
    await screenshot('5-every-client-one-refresh');

    // RTK Query's own button refetches with the new token: no 401, no refresh.
    await page.click('[data-testid="rtk-refetch"]');
    await eventually('the refetch to reach the server', () => server.stats().apiRequests === 18);
    await page.waitForFunction(
      (g) =>
        ['rtk-profile', 'rtk-items'].every((id) => {
          const tile = document.querySelector(`[data-testid="${id}"][data-state="ok"]`);
          return tile?.textContent?.includes(`sent with gen ${g}`) && !tile.textContent.includes('401 with');
        }),
      gen + 1,
    );
    expect(server.stats()).toMatchObject({ refreshCalls: 1, api401: 8, apiOk: 10 });
  });

  test('logging out during a slow refresh sends nothing more and drops the late tokens; the next sign-in starts a fresh log', async () => {
    await signIn();
    await page.click('[data-testid="scenario-logoutDuringRefresh"]');
    await page.waitForSelector('[data-testid="activity-log"] >> text=Refresh started: a request got 401');
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

    // Signing in again starts a new story: the log and the counters of the last session are gone.
    await page.click('button[type="submit"]');
    await page.waitForSelector('[data-testid="dashboard"]');
    const lines = await logLines();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('Signed in as demo');
    for (const counter of ['requests', '401', 'refreshes', 'replays']) expect(await text(`count-${counter}`)).toBe('0');
  });

  test('on a phone (360–430 px) nothing overflows sideways, and the activity stays in view while a scenario runs', async () => {
    /** Elements reaching past the right edge, and scroll boxes wider than themselves. */
    const overflow = () =>
      page.evaluate(() => {
        const width = document.documentElement.clientWidth;
        const out: string[] = [];
        if (document.documentElement.scrollWidth > width) out.push(`page scrollWidth ${document.documentElement.scrollWidth} > ${width}`);
        for (const element of Array.from(document.querySelectorAll<HTMLElement>('body *'))) {
          const rect = element.getBoundingClientRect();
          if (rect.width === 0 || rect.height === 0) continue;
          const label = `${element.tagName.toLowerCase()}.${element.className || element.dataset.testid || ''}`;
          if (rect.right > width + 0.5 || rect.left < -0.5) out.push(`${label} spans ${Math.round(rect.left)}..${Math.round(rect.right)}`);
          if (element.scrollWidth > element.clientWidth + 1 && getComputedStyle(element).overflowX !== 'visible') {
            out.push(`${label} scrolls sideways (${element.scrollWidth} > ${element.clientWidth})`);
          }
        }
        return out.slice(0, 10);
      });

    for (const width of [360, 390, 430]) {
      await page.setViewportSize({ width, height: 800 });
      await page.goto(server.url);
      await page.waitForSelector('[data-testid="login-page"]');
      expect({ width, page: 'login', overflow: await overflow() }).toEqual({ width, page: 'login', overflow: [] });
      await page.click('button[type="submit"]');
      await page.waitForSelector('[data-testid="dashboard"]');

      // Run a scenario with its button on screen: the dock shows the refresh as it happens.
      const run = page.locator('[data-testid="scenario-everyClient"]');
      await run.scrollIntoViewIfNeeded();
      await run.click();
      await page.waitForFunction(() => document.querySelector('[data-testid="dock-refreshes"]')?.textContent === '1');
      const inView = async (selector: string) => {
        const box = await page.locator(selector).boundingBox();
        return box !== null && box.y >= 0 && box.y + box.height <= 800 + 0.5 && box.height > 0;
      };
      expect(await inView('[data-testid="scenario-everyClient"]')).toBe(true);
      expect(await inView('[data-testid="activity-dock"]')).toBe(true);
      await page.waitForSelector('[data-testid="scenario-everyClient"]:not([disabled])');
      await page.waitForFunction(() => document.querySelector('[data-testid="dock-401"]')?.textContent === '8');
      await allTilesLoaded();
      await page.waitForSelector('[data-testid="rtk-items"][data-state="ok"]');
      // The dock follows the log to its newest lines: the answers.
      await page.waitForFunction(() => document.querySelector('[data-testid="activity-dock-log"]')?.textContent?.includes('200 OK'));
      if (width === 390) await screenshot('9-phone-390-scenario');
      expect({ width, page: 'dashboard', overflow: await overflow() }).toEqual({ width, page: 'dashboard', overflow: [] });
      await page.click('[data-testid="activity-dock-toggle"]');
      expect({ width, page: 'dock open', overflow: await overflow() }).toEqual({ width, page: 'dock open', overflow: [] });
      if (width === 390) await screenshot('9-phone-390-dock-open');
      await page.click('[data-testid="logout"]');
      await page.waitForSelector('[data-testid="login-page"]');
    }

    // A laptop: no dock; the activity column stays beside the scenarios as the page scrolls.
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.click('button[type="submit"]');
    await page.waitForSelector('[data-testid="dashboard"]');
    expect(await page.isVisible('[data-testid="activity-dock"]')).toBe(false);
    await page.locator('[data-testid="scenario-logoutDuringRefresh"]').scrollIntoViewIfNeeded();
    const log = await page.locator('[data-testid="activity-log"]').boundingBox();
    expect(log && log.y >= 0 && log.y < 800).toBe(true);
    expect(await overflow()).toEqual([]);
  });

  test('DPoP mode (?dpop=1): every proof and its nonce in the log, a nonce rotation answered without a refresh, and a thief gets 401s', async () => {
    await page.goto(`${server.url}/?dpop=1`);
    await page.waitForSelector('[data-testid="login-page"]');
    expect(await page.isChecked('[data-testid="dpop-switch"]')).toBe(true);
    await page.click('button[type="submit"]');
    await page.waitForSelector('[data-testid="dashboard"]');
    expect(await text('token-type')).toBe('DPoP-bound tokens');
    // The RTK Query card shows its base query as DPoP mode makes it: dpop.resourceFetch is its fetchFn.
    expect(await page.evaluate(() => document.body.textContent?.includes('fetchFn: dpop.resourceFetch(auth) }'))).toBe(true);
    // The login's first proof had no nonce: the server's challenge, then the same login with it.
    await eventually('the login proofs in the log', async () =>
      (await logLines()).some((line) => /DPoP proof \S+: POST \/auth\/login .* ← 200/.test(line)),
    );
    expect(
      (await logLines()).some(
        (line) => line.includes('POST /auth/login · nonce none') && line.includes('use_dpop_nonce: nonce challenge, retried'),
      ),
    ).toBe(true);
    await page.waitForFunction(() => document.querySelector('[data-testid="dpop-jkt"]')?.textContent?.startsWith('…'));

    // Every client, each request with a proof that the server accepted.
    server.reset();
    await page.click('[data-testid="load-every-client"]');
    await allTilesLoaded();
    await page.waitForSelector('[data-testid="rtk-items"][data-state="ok"]');
    await page.waitForSelector('[data-testid="fetch-echo"][data-state="ok"]');
    const accepted = apiRecords();
    expect(accepted).toHaveLength(8);
    expect(accepted.every((record) => record.status === 200 && record.dpop?.jti && record.dpop.error === null)).toBe(true);
    const proofLines = (await logLines()).filter((line) => /DPoP proof \S+: GET \/api\/\w+ · nonce \S+ · ath …\S{6} ← 200/.test(line));
    expect(proofLines.length).toBeGreaterThanOrEqual(8);
    expect(proofLines.some((line) => line.startsWith('epic') || line.includes('epic'))).toBe(true);

    // A new nonce on the server: each request's first proof is challenged and retried, no refresh.
    server.reset();
    await page.click('[data-testid="dpop-rotate-nonce"]');
    await eventually('the rotation in the log', async () => (await logLines()).some((line) => line.includes('new DPoP nonce')));
    await page.click('[data-testid="load-everything"]');
    await allTilesLoaded();
    expect(server.stats()).toMatchObject({ refreshCalls: 0, dpopNonceChallenges: expect.any(Number) });
    expect(server.stats().dpopNonceChallenges).toBeGreaterThanOrEqual(1);
    expect((await logLines()).some((line) => line.includes('use_dpop_nonce: nonce challenge, retried with a new proof'))).toBe(true);
    expect(await text('count-refreshes')).toBe('0');

    // An expired token: 401 invalid_token, one refresh (with a proof of the same key), replays.
    await runScenario('expired');
    await allTilesLoaded();
    expect(server.stats()).toMatchObject({ refreshCalls: 1, refreshOk: 1 });
    expect((await logLines()).some((line) => line.includes('invalid_token: the token is refused, so a refresh'))).toBe(true);
    expect(await text('count-refreshes')).toBe('1');

    // The thief: the same token, without a proof, twice refused.
    await page.click('[data-testid="dpop-thief"]');
    await page.waitForFunction(() => document.querySelector('[data-testid="dpop-thief-401"]')?.textContent === '2');
    const thief = (await logLines()).filter((line) => line.includes('Thief replays the access token'));
    expect(thief).toHaveLength(2);
    expect(thief[0]).toMatch(/as Bearer ← 401 invalid_token/);
    expect(thief[1]).toMatch(/DPoP scheme but no proof ← 401 invalid_dpop_proof/);
    await screenshot('d1-dpop-thief');

    // The token is never on the page, nor in the store's state.
    const token = JSON.parse((await storedTokens()) ?? '{}') as { accessToken?: string };
    expect(token.accessToken).toEqual(expect.any(String));
    const pageText = await page.evaluate(() => document.documentElement.outerHTML);
    expect(pageText.includes(token.accessToken!)).toBe(false);
    expect(pageText.includes(token.accessToken!.split('.')[2]!)).toBe(false);
  });
});
