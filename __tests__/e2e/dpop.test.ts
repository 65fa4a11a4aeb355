/**
 * DPoP in real Chromium tabs, against oidc-provider (DPoP with required nonces) and a resource server
 * that verifies every proof (`__tests__/support/dpop/`). The page (dpop-app/main.ts) keeps its key
 * where a browser app keeps it by default, in IndexedDB, and shares the session with localStorage.
 *
 * Access tokens live 3 s on the servers and the page is told they live an hour, so the calls after
 * the wait meet the API's 401 `invalid_token` (a real server's expiry cannot run in virtual time).
 *
 * Without /usr/bin/chromium (or CHROMIUM_PATH) these tests skip, as the other browser suites do.
 */
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { CHROMIUM, bundleForBrowser, hasChromium, launchChromium } from './support/chromium';
import { startDpopServers, type DpopServers } from '../support/dpop/servers';

const ROOT = join(__dirname, '..', '..');
const inCi = process.env.CI === 'true';
const describeInBrowser = hasChromium || inCi ? describe : describe.skip;

interface App {
  login(code: string, codeVerifier: string): Promise<void>;
  calls(n: number): Promise<Array<number | string>>;
  thumbprint(): Promise<string>;
  refreshes(): number;
  status(): string;
  logout(): void;
  stealKey(): Promise<string>;
}
/** Calls `window.__app[method](...args)` in the page. */
const app = <M extends keyof App>(page: Page, method: M, ...args: Parameters<App[M]>): Promise<Awaited<ReturnType<App[M]>>> =>
  page.evaluate(
    ([name, values]) => (window as unknown as { __app: Record<string, (...v: unknown[]) => unknown> }).__app[name]!(...values),
    [method, args] as [string, unknown[]],
  ) as Promise<Awaited<ReturnType<App[M]>>>;

jest.setTimeout(60_000);

let servers: DpopServers;
let site: Server;
let origin: string;
let browser: Browser;
let context: BrowserContext;
let pageErrors: string[];

describeInBrowser('DPoP in Chromium tabs', () => {
  beforeAll(async () => {
    if (!hasChromium) throw new Error(`CI=true but ${CHROMIUM} is missing: install it with \`apt-get install -y chromium\`.`);
    servers = await startDpopServers({ accessTokenTtlSeconds: 3, lifetimeSeconds: 170 });
    const bundle = await bundleForBrowser({
      entryPoints: [join(__dirname, 'dpop-app', 'main.ts')],
      nodePaths: [join(ROOT, 'node_modules')],
    });
    site = createServer((request, response) => {
      if (request.url?.startsWith('/bundle.js')) return response.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
      response
        .writeHead(200, { 'content-type': 'text/html' })
        .end('<!doctype html><meta charset="utf-8"><script src="/bundle.js"></script>');
    });
    await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => site?.close(resolve));
    await servers?.stop();
  });
  beforeEach(async () => {
    context = await browser.newContext();
    pageErrors = [];
    await servers.clearLog();
  });
  afterEach(async () => {
    await context.close();
    expect(pageErrors).toEqual([]);
  });

  async function tab(): Promise<Page> {
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);
    page.on('pageerror', (error) => pageErrors.push(error.message));
    const query = new URLSearchParams({
      token: servers.tokenEndpoint,
      client: servers.clientId,
      api: servers.resourceUrl,
      redirect: servers.redirectUri,
    });
    await page.goto(`${origin}/?${query}`);
    await page.waitForFunction(() => '__app' in window);
    return page;
  }
  async function signedIn(page: Page): Promise<void> {
    const { code, codeVerifier } = await servers.authorize();
    await app(page, 'login', code, codeVerifier);
    await page.waitForFunction(() => (window as unknown as { __app: App }).__app.status() === 'authenticated');
  }
  const expire = () => new Promise((resolve) => setTimeout(resolve, 3_300));

  test('the key is in IndexedDB, cannot be exported, survives a reload; ten calls after expiry cause one refresh and all succeed', async () => {
    const page = await tab();
    await signedIn(page);
    const jkt = await app(page, 'thumbprint');
    expect(await app(page, 'stealKey')).toBe('refused');
    await page.reload();
    await page.waitForFunction(() => (window as unknown as { __app: App }).__app.status() === 'authenticated');
    expect(await app(page, 'thumbprint')).toBe(jkt);
    await expire();
    expect(await app(page, 'calls', 10)).toEqual(Array(10).fill(200));
    expect(await app(page, 'refreshes')).toBe(1);
    const log = await servers.log();
    expect(log.filter((entry) => entry.outcome === 'invalid_token').length).toBeGreaterThanOrEqual(1);
    expect(log.every((entry) => entry.scheme === 'DPoP')).toBe(true);
    expect(new Set(log.map((entry) => entry.jti)).size).toBe(log.length);
    expect(log.filter((entry) => entry.status === 200).every((entry) => entry.jktOk && entry.athOk)).toBe(true);
  });

  test('two tabs share the key and refresh once; a logout in one deletes the key for both', async () => {
    const a = await tab();
    await signedIn(a);
    const b = await tab();
    await b.waitForFunction(() => (window as unknown as { __app: App }).__app.status() === 'authenticated');
    const jkt = await app(a, 'thumbprint');
    expect(await app(b, 'thumbprint')).toBe(jkt);
    await expire();
    const [fromA, fromB] = await Promise.all([app(a, 'calls', 5), app(b, 'calls', 5)]);
    expect([...fromA, ...fromB]).toEqual(Array(10).fill(200));
    // The refresh token rotates: a second refresh with the old one would have ended the session.
    expect((await app(a, 'refreshes')) + (await app(b, 'refreshes'))).toBe(1);
    const log = await servers.log();
    expect(log.filter((entry) => entry.status === 200).every((entry) => entry.jktOk)).toBe(true);

    await app(a, 'logout');
    await b.waitForFunction(() => (window as unknown as { __app: App }).__app.status() === 'unauthenticated');
    await a.waitForFunction(async () => (await (window as unknown as { __app: App }).__app.stealKey()) === 'no key');
    expect(await app(b, 'thumbprint')).not.toBe(jkt);
  });
});
