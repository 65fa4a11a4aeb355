/**
 * Issue 11 #6 and #7 in a real browser, where they happen: Debian's Chromium driven by
 * playwright-core, the adapters bundled by esbuild, two servers on 127.0.0.1 (two ports, so two
 * origins): the app's own, and another that records everything it receives and answers CORS
 * preflights the way an attacker's server would (it allows `Authorization`).
 *
 * Without /usr/bin/chromium (or CHROMIUM_PATH) these tests skip with a message; under CI=true they run.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { CHROMIUM, bundleForBrowser, hasChromium, launchChromium } from './support/chromium';

const ROOT = join(__dirname, '..', '..');
const inCi = process.env.CI === 'true';
if (!hasChromium && !inCi) console.warn(`Skipping the adapters' browser tests: ${CHROMIUM} is missing (apt-get install -y chromium).`);
const describeInBrowser = hasChromium || inCi ? describe : describe.skip;

interface Site {
  url: string;
  /** What arrived: method, path and headers, preflights included. */
  seen: Array<{ method: string; path: string; headers: IncomingHttpHeaders }>;
  close(): Promise<void>;
}

/** One origin on 127.0.0.1: `/` is the app page with the bundle, anything else a 200 JSON answer. */
async function startSite(bundle: string): Promise<Site> {
  const seen: Site['seen'] = [];
  const server: Server = createServer((req, res) => {
    seen.push({ method: req.method!, path: req.url!, headers: req.headers });
    const cors = {
      'Access-Control-Allow-Origin': req.headers.origin ?? '*',
      'Access-Control-Allow-Headers': 'authorization, content-type, x-trace',
      'Access-Control-Allow-Methods': 'GET, POST',
    };
    if (req.method === 'OPTIONS') return res.writeHead(204, cors).end();
    if (req.url === '/')
      return res
        .writeHead(200, { 'Content-Type': 'text/html' })
        .end('<!doctype html><html><head></head><body><script src="/bundle.js"></script></body></html>');
    if (req.url === '/bundle.js') return res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(bundle);
    res.writeHead(200, { ...cors, 'Content-Type': 'application/json' }).end(JSON.stringify({ path: req.url }));
  });
  server.keepAliveTimeout = 100;
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => new Promise<void>((done) => (server.closeAllConnections(), server.close(() => done()))),
  };
}

/** The requests that carried an Authorization header (preflights never do). */
const withToken = (site: Site) =>
  site.seen.filter((request) => request.headers.authorization !== undefined).map((request) => `${request.method} ${request.path}`);
/** The non-preflight requests. */
const requests = (site: Site) =>
  site.seen.filter((request) => request.method !== 'OPTIONS').map((request) => `${request.method} ${request.path}`);

describeInBrowser('the fetch and axios adapters in Chromium', () => {
  let browser: Browser;
  let app: Site;
  let other: Site;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    if (!hasChromium) throw new Error(`CI=true but ${CHROMIUM} is missing: install it with \`apt-get install -y chromium\`.`);
    const bundle = await bundleForBrowser({
      stdin: {
        contents: `
          import axios from 'axios';
          import { createTokenRefresh } from './src/index';
          import { authFetch } from './src/adapters/fetch';
          import { attachAxios } from './src/adapters/axios';
          const auth = createTokenRefresh({ refresh: () => Promise.reject(new Error('no refresh in these tests')) });
          auth.setTokens({ accessToken: 'tok-e2e' });
          // Defaults: the app's own origin only.
          const apiFetch = authFetch(auth);
          const http = axios.create();
          attachAxios(auth, http);
          Object.assign(window, { apiFetch, http });
        `,
        resolveDir: ROOT,
        loader: 'ts',
      },
    });
    [app, other] = await Promise.all([startSite(bundle), startSite(bundle)]);
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await Promise.all([app?.close(), other?.close()]);
  });

  beforeEach(async () => {
    context = await browser.newContext();
    page = await context.newPage();
    page.setDefaultTimeout(10_000);
    await page.goto(app.url);
    await page.waitForFunction(() => 'apiFetch' in window);
    app.seen.length = 0;
    other.seen.length = 0;
  });

  afterEach(() => context?.close());

  test("baseline: the token goes to the app's own origin and not to another one", async () => {
    await page.evaluate(async (otherUrl) => {
      const w = window as unknown as { apiFetch: typeof fetch };
      await w.apiFetch('/api/own');
      await w.apiFetch(`${otherUrl}/api/elsewhere`);
    }, other.url);
    expect(withToken(app)).toEqual(['GET /api/own']);
    expect(requests(other)).toEqual(['GET /api/elsewhere']);
    expect(withToken(other)).toEqual([]);
  });

  test('an injected <base href> moves relative requests elsewhere; authFetch and attachAxios send them without the token', async () => {
    const paths = await page.evaluate(async (otherUrl) => {
      // HTML injection, no script: one element in the page's head.
      const base = document.createElement('base');
      base.href = `${otherUrl}/`;
      document.head.append(base);
      const w = window as unknown as { apiFetch: typeof fetch; http: { get(url: string): Promise<unknown> } };
      await w.apiFetch('/api/via-fetch');
      await w.apiFetch('api/via-fetch-relative');
      await w.http.get('/api/via-axios');
      return document.baseURI;
    }, other.url);
    expect(paths).toBe(`${other.url}/`);
    // The browser did send them to the other origin: the check has to follow it, and it did.
    expect(requests(other)).toEqual(['GET /api/via-fetch', 'GET /api/via-fetch-relative', 'GET /api/via-axios']);
    expect(withToken(other)).toEqual([]);
  });

  test('a Request made in an iframe (another realm) is checked by its own URL: no token to another origin', async () => {
    await page.evaluate(async (otherUrl) => {
      const frame = document.createElement('iframe');
      document.body.append(frame);
      const FrameRequest = (frame.contentWindow as unknown as { Request: typeof Request }).Request;
      const foreign = new FrameRequest(`${otherUrl}/api/from-iframe`, { headers: { 'x-trace': 'iframe' } });
      if (foreign instanceof Request) throw new Error('expected a Request of another realm');
      const w = window as unknown as { apiFetch: typeof fetch };
      await w.apiFetch(foreign);
      // The same kind of Request to the app's own origin still gets the token.
      await w.apiFetch(new FrameRequest(`${location.origin}/api/own-from-iframe`));
    }, other.url);
    expect(requests(other)).toEqual(['GET /api/from-iframe']);
    expect(withToken(other)).toEqual([]);
    expect(withToken(app)).toEqual(['GET /api/own-from-iframe']);
  });
});
