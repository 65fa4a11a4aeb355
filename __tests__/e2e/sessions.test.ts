/**
 * The demo's two session models in a real browser: the refresh token in localStorage, or
 * in an HttpOnly cookie that scripts never see, restored after a reload with `auth.restore()`; and
 * two real tabs (two pages of one browser context, so they share localStorage, cookies, Web Locks
 * and BroadcastChannel) that meet an expired token at once, or where one logs out.
 *
 * The server runs with the demo's own settings (demo/server/config.ts), in-process, so each test
 * compares what the tabs show with what the server counted (`server.stats()`).
 * Without /usr/bin/chromium (or CHROMIUM_PATH) these tests skip, as the demo tests do.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { CHROMIUM, hasChromium, launchChromium } from './support/chromium';
import { REFRESH_COOKIE, startAuthServer, type AuthServer } from '../../demo/server/authServer';
import { demoServerOptions } from '../../demo/server/config';

const ROOT = join(__dirname, '..', '..');
const DEMO = join(ROOT, 'demo');
/** Its own build directory: the demo suite builds into another, and may run at the same time. */
const DIST = join(ROOT, '.tmp', 'e2e-dist-sessions');
const SCREENSHOTS = join(DEMO, 'screenshots');
const ENDPOINTS = ['profile', 'items', 'report', 'heartbeat', 'echo'];
type Mode = 'storage' | 'cookie';

const inCi = process.env.CI === 'true';
const describeInBrowser = hasChromium || inCi ? describe : describe.skip;

let server: AuthServer;
let browser: Browser;
let context: BrowserContext;
let pageErrors: string[];

const text = async (page: Page, testId: string) => (await page.textContent(`[data-testid="${testId}"]`))?.trim();
const logLines = (page: Page) => page.$$eval('[data-testid="activity-log"] li', (items) => items.map((item) => item.textContent ?? ''));

async function newTab(): Promise<Page> {
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  page.on('pageerror', (error) => pageErrors.push(error.message));
  return page;
}

/** Opens the demo in `mode` (the sign-in page's switch, which reloads the page). */
async function openIn(page: Page, mode: Mode): Promise<void> {
  await page.goto(server.url);
  await page.waitForSelector('[data-testid="login-page"]');
  if (!(await page.isChecked(`[data-testid="mode-${mode}"]`))) {
    await Promise.all([page.waitForEvent('load'), page.click(`[data-testid="mode-${mode}"]`)]);
    await page.waitForSelector('[data-testid="login-page"]');
  }
  expect(await page.isChecked(`[data-testid="mode-${mode}"]`)).toBe(true);
}

async function signIn(page: Page): Promise<void> {
  await page.click('button[type="submit"]');
  await page.waitForSelector('[data-testid="dashboard"]');
}

async function allTilesLoaded(page: Page): Promise<void> {
  await page.waitForFunction(
    (count) => document.querySelectorAll('[data-testid^="tile-"][data-state="ok"]').length === count,
    ENDPOINTS.length,
  );
}

/** The second tab: the same origin in the same browser; it finds the session on its own. */
async function openSecondTab(mode: Mode): Promise<Page> {
  const tab = await newTab();
  await tab.goto(server.url);
  await tab.waitForSelector('[data-testid="dashboard"]');
  expect(await tab.getAttribute('[data-testid="session-mode"]', 'data-mode')).toBe(mode);
  await tab.waitForSelector('[data-testid="session-badge"][data-status="authenticated"]');
  return tab;
}

describeInBrowser('session models in Chromium: refresh token in localStorage or in an HttpOnly cookie, one tab or two', () => {
  beforeAll(async () => {
    if (!hasChromium) throw new Error(`CI=true but ${CHROMIUM} is missing: install it with \`apt-get install -y chromium\`.`);
    mkdirSync(SCREENSHOTS, { recursive: true });
    execFileSync('npx', ['--no-install', 'vite', 'build', '--outDir', DIST, '--emptyOutDir'], {
      cwd: DEMO,
      env: { ...process.env, NODE_ENV: 'production' },
      stdio: ['ignore', 'ignore', 'inherit'],
      timeout: 60_000,
    });
    server = await startAuthServer({ ...demoServerOptions(), port: 0, staticDir: DIST, quiet: true });
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  beforeEach(async () => {
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    pageErrors = [];
    server.reset();
  });

  afterEach(async () => {
    await context?.close();
    expect(pageErrors).toEqual([]);
  });

  test('cookie mode: the refresh token never reaches a script; a reload restores the session without a sign-in; then an expired token and a burst cause one refresh', async () => {
    const page = await newTab();
    await openIn(page, 'cookie');
    await signIn(page);
    expect(await page.getAttribute('[data-testid="session-mode"]', 'data-mode')).toBe('cookie');

    // The cookie: HttpOnly, SameSite=Strict, Path=/auth; nothing of it in localStorage or document.cookie.
    const cookie = (await context.cookies()).find((candidate) => candidate.name === REFRESH_COOKIE);
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/auth' });
    const visible = await page.evaluate(() => ({ cookies: document.cookie, storage: JSON.stringify({ ...window.localStorage }) }));
    expect(visible.cookies).toBe('');
    expect(visible.storage).not.toContain(cookie!.value);

    // A reload: nothing in memory, so auth.restore() refreshes once with the cookie. Requests made
    // while it runs (the refresh is slowed down here) wait for it, and are sent once, with its token.
    server.reset();
    server.control.slowNextRefresh(1500);
    await page.reload();
    await page.waitForSelector('[data-testid="session-badge"][data-status="restoring"]');
    await page.click('[data-testid="load-everything"]');
    await allTilesLoaded(page);
    await page.waitForSelector('[data-testid="session-badge"][data-status="authenticated"]');
    expect(await page.isVisible('[data-testid="login-page"]')).toBe(false);
    const lines = await logLines(page);
    expect(lines.some((line) => line.includes('Page loaded (refresh token in an httponly cookie)'))).toBe(true);
    expect(lines.some((line) => line.includes('Refresh started: restoring the session after a page load'))).toBe(true);
    expect(lines.some((line) => line.includes('Session restored from the cookie without a sign-in · token gen 2'))).toBe(true);
    expect(lines.filter((line) => /Signed in as|taken over from another tab/.test(line))).toEqual([]);
    expect(server.stats()).toMatchObject({
      logins: 0,
      refreshCalls: 1,
      cookieRefreshCalls: 1,
      refreshOk: 1,
      apiRequests: 5,
      api401: 0,
      requestsWithoutToken: 0,
      reuseDetections: 0,
    });
    for (const endpoint of ENDPOINTS) expect(await text(page, `tile-${endpoint}`)).toContain('waited for the refresh, sent with gen 2');
    await page.screenshot({ path: join(SCREENSHOTS, 's1-cookie-mode-restored.png'), fullPage: true });

    // An expired access token and a burst: one refresh with the cookie, five replays.
    await page.click('[data-testid="scenario-expired"]');
    await page.waitForSelector('[data-testid="scenario-expired"]:not([disabled])', { timeout: 20_000 });
    await allTilesLoaded(page);
    expect(server.stats()).toMatchObject({ refreshCalls: 1, cookieRefreshCalls: 1, refreshOk: 1, api401: 5, apiOk: 5, reuseDetections: 0 });
    expect(await text(page, 'count-refreshes')).toBe('1');
    expect(await text(page, 'count-replays')).toBe('5');
  });

  test('cookie mode: a reload without a session (the cookie was revoked) shows the sign-in page quietly', async () => {
    const page = await newTab();
    await openIn(page, 'cookie');
    await signIn(page);
    server.control.revokeRefreshTokens();
    await page.reload();
    await page.waitForSelector('[data-testid="login-page"]');
    expect(await page.isVisible('[data-testid="session-notice"]')).toBe(false);
    expect(server.stats()).toMatchObject({ refreshCalls: 1, refreshOk: 0, apiRequests: 0 });
  });

  for (const mode of ['storage', 'cookie'] as const) {
    test(`${mode} mode, two tabs meet an expired token at once: the server counts one refresh, no reuse, and both tabs' requests succeed`, async () => {
      const first = await newTab();
      await openIn(first, mode);
      await signIn(first);
      const second = await openSecondTab(mode);

      server.control.expireAccessTokens();
      server.reset();
      await Promise.all([first.click('[data-testid="load-everything"]'), second.click('[data-testid="load-everything"]')]);
      await Promise.all([allTilesLoaded(first), allTilesLoaded(second)]);

      const stats = server.stats();
      expect(stats).toMatchObject({ refreshCalls: 1, refreshOk: 1, reuseDetections: 0, apiOk: 10 });
      if (mode === 'cookie') expect(stats.cookieRefreshCalls).toBe(1);
      // Both tabs end on the one new token.
      expect(await text(first, 'token-gen')).toBe(await text(second, 'token-gen'));
      // The tab that refreshed says so with one attempt; the other took its tokens over.
      const attempts = [...(await logLines(first)), ...(await logLines(second))].filter((line) => /Refresh attempt \d+: POST/.test(line));
      expect(attempts.filter((line) => line.includes('Refresh attempt 1: POST')).length).toBeGreaterThanOrEqual(1);
      expect(attempts.filter((line) => /Refresh attempt [2-9]/.test(line))).toEqual([]);
      await first.screenshot({ path: join(SCREENSHOTS, `s2-two-tabs-${mode}-first.png`) });
      await second.screenshot({ path: join(SCREENSHOTS, `s2-two-tabs-${mode}-second.png`) });
    });

    test(`${mode} mode: logging out in one tab logs out the other`, async () => {
      const first = await newTab();
      await openIn(first, mode);
      await signIn(first);
      const second = await openSecondTab(mode);

      await first.click('[data-testid="logout"]');
      await first.waitForSelector('[data-testid="login-page"]');
      await second.waitForSelector('[data-testid="login-page"]', { timeout: 5000 });
      expect(await text(second, 'session-notice')).toContain('signed out in another tab');

      // Nothing is left to restore: a reload of either tab stays signed out, and nothing is sent.
      server.reset();
      await second.reload();
      await second.waitForSelector('[data-testid="login-page"]');
      expect(server.stats()).toMatchObject({ apiRequests: 0, refreshOk: 0 });
    });
  }
});
