/**
 * DPoP in real Chromium tabs, against oidc-provider (DPoP with required nonces) and a resource server
 * that verifies every proof (`__tests__/support/dpop/`). The page (dpop-app/main.ts) keeps its key
 * where a browser app keeps it by default, in IndexedDB, and shares the session with localStorage.
 *
 * Access tokens live 3 s on the servers and the page is told they live an hour, so the calls after
 * the wait meet the API's 401 `invalid_token` (a real server's expiry cannot run in virtual time).
 *
 * Init scripts make the browsers the package must refuse to work in (no IndexedDB, an IndexedDB
 * that refuses) and hold two tabs' key generations until both have started one; every request a
 * tab sends to the servers is recorded, headers and form included, with its answer (status, DPoP-Nonce,
 * WWW-Authenticate, and the token endpoint's JSON). A burst can hold calls signed and not yet sent.
 *
 * Without /usr/bin/chromium (or CHROMIUM_PATH) these tests skip, as the other browser suites do.
 */
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Page, Request as BrowserRequest } from 'playwright-core';
import { CHROMIUM, bundleForBrowser, hasChromium, launchChromium } from './support/chromium';
import { startDpopServers, type DpopServers } from '../support/dpop/servers';

const ROOT = join(__dirname, '..', '..');
const inCi = process.env.CI === 'true';
const describeInBrowser = hasChromium || inCi ? describe : describe.skip;

/** What the page saw thrown or rejected (dpop-app/main.ts). */
interface Failure {
  name: string;
  code?: string;
  dpopError: boolean;
  /** The `name` of a DpopError's `cause`: what the platform said. */
  cause?: string;
  message: string;
}
interface App {
  setupError(): Failure | undefined;
  login(code: string, codeVerifier: string): Promise<void>;
  tryLogin(code: string, codeVerifier: string): Promise<'ok' | Failure>;
  logoutThenLogin(code: string, codeVerifier: string): Promise<void>;
  calls(n: number): Promise<Array<number | string>>;
  thumbprint(): Promise<string>;
  firstProof(): Promise<string>;
  ready(): Promise<'ready' | Failure>;
  tokenJkt(): string | undefined;
  storedKeys(): Promise<string[]>;
  refreshes(): number;
  status(): string;
  logout(): void;
  stealKey(): Promise<string>;
  startBurst(n: number, holdFrom: number): void;
  burstState(): { held: number; answered: number };
  release(): void;
  burstResult(): Promise<Array<number | string>>;
  refresh(): Promise<'ok' | Failure>;
  actions(): string[];
}
/** Calls `window.__app[method](...args)` in the page. */
const app = <M extends keyof App>(page: Page, method: M, ...args: Parameters<App[M]>): Promise<Awaited<ReturnType<App[M]>>> =>
  page.evaluate(
    ([name, values]) => (window as unknown as { __app: Record<string, (...v: unknown[]) => unknown> }).__app[name]!(...values),
    [method, args] as [string, unknown[]],
  ) as Promise<Awaited<ReturnType<App[M]>>>;

/** A request a page sent to one of the servers, as it left the browser, and its answer once it came. */
interface Sent {
  method: string;
  url: string;
  authorization: string | undefined;
  dpop: string | undefined;
  /** The form a token request posted. */
  body: string | null;
  answer?: Answer;
}
interface Answer {
  status: number;
  /** The answer's `DPoP-Nonce`. */
  nonce: string | undefined;
  wwwAuthenticate: string | undefined;
  /** The JSON body of the token endpoint's answers (undefined elsewhere). */
  json: Promise<Record<string, unknown> | undefined>;
}

/** The claims of a proof that tell one attempt from another: its `jti` and the `nonce` it carried. */
function claimsOfProof(proof: string): { jti: string; nonce?: string; htm: string; htu: string } {
  return JSON.parse(Buffer.from(proof.split('.')[1]!, 'base64url').toString('utf8')) as {
    jti: string;
    nonce?: string;
    htm: string;
    htu: string;
  };
}

/** RFC 7638 thumbprint of the key in a proof's header, computed here, apart from the package's code. */
function keyOfProof(proof: string): string {
  const { jwk } = JSON.parse(Buffer.from(proof.split('.')[0]!, 'base64url').toString('utf8')) as { jwk: Record<string, string> };
  return createHash('sha256')
    .update(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }))
    .digest('base64url');
}

// Init scripts: they run in the page before its bundle, so the package meets the browser they make.

/** A browser without IndexedDB. */
function withoutIndexedDb(): void {
  delete (window as { indexedDB?: IDBFactory }).indexedDB;
  if (typeof indexedDB !== 'undefined') Object.defineProperty(window, 'indexedDB', { value: undefined, configurable: true });
}
/** IndexedDB whose `open` fails as some private windows make it fail: `error` fired, `InvalidStateError`. */
function indexedDbOpenFiresError(): void {
  IDBFactory.prototype.open = function () {
    const request = {
      readyState: 'pending',
      result: undefined,
      error: new DOMException('A mutation operation was attempted on a database that did not allow mutations.', 'InvalidStateError'),
      onsuccess: null,
      onupgradeneeded: null,
      onblocked: null,
      onerror: null as ((event: Event) => void) | null,
    };
    // As IndexedDB answers: in a later task.
    setTimeout(() => ((request.readyState = 'done'), request.onerror?.(new Event('error'))));
    return request as unknown as IDBOpenDBRequest;
  };
}
/** IndexedDB whose `open` throws, as where storage is blocked: `SecurityError`. */
function indexedDbOpenThrows(): void {
  IDBFactory.prototype.open = function () {
    throw new DOMException('The operation is insecure.', 'SecurityError');
  };
}
/**
 * Counts this tab's key generations (`window.__generated`), and holds each until another tab of the
 * origin has started one too (5 s at most): a tab makes a key only after it read none, so both tabs
 * then write theirs after both read an empty store, the interleaving a shared store must survive.
 */
function meetAtKeyGeneration(): void {
  const channel = new BroadcastChannel('dpop-e2e-key-generation');
  const counter = window as unknown as { __generated: number };
  counter.__generated = 0;
  let heard = false;
  let wake = () => {};
  channel.onmessage = () => ((heard = true), wake());
  const generate = SubtleCrypto.prototype.generateKey;
  SubtleCrypto.prototype.generateKey = async function (this: SubtleCrypto, ...args: unknown[]) {
    counter.__generated++;
    channel.postMessage('generating');
    await new Promise<void>((resolve) => {
      if (heard) return resolve();
      wake = resolve;
      setTimeout(resolve, 5_000);
    });
    return Reflect.apply(generate, this, args) as CryptoKeyPair;
  } as typeof generate;
}

jest.setTimeout(60_000);

let servers: DpopServers;
let site: Server;
let origin: string;
let browser: Browser;
let context: BrowserContext;
let pageErrors: string[];
/** Requests each page sent to the servers (the authorization server's and the resource server's origins). */
let sent: Map<Page, Sent[]>;

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
    sent = new Map();
    await servers.clearLog();
  });
  afterEach(async () => {
    await context.close();
    expect(pageErrors).toEqual([]);
  });

  /** A new tab of the app; `init` runs in it before the app's code. */
  async function tab(init?: () => void): Promise<Page> {
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);
    page.on('pageerror', (error) => pageErrors.push(error.message));
    const serverOrigins = [new URL(servers.tokenEndpoint).origin, servers.resourceOrigin];
    const requests: Sent[] = [];
    const entries = new Map<BrowserRequest, Sent>();
    sent.set(page, requests);
    page.on('request', (request) => {
      if (!serverOrigins.includes(new URL(request.url()).origin)) return;
      const headers = request.headers();
      const entry = {
        method: request.method(),
        url: request.url(),
        authorization: headers.authorization,
        dpop: headers.dpop,
        body: request.postData(),
      };
      entries.set(request, entry);
      requests.push(entry);
    });
    page.on('response', (response) => {
      const entry = entries.get(response.request());
      if (!entry) return;
      const headers = response.headers();
      entry.answer = {
        status: response.status(),
        nonce: headers['dpop-nonce'],
        wwwAuthenticate: headers['www-authenticate'],
        json:
          entry.url === servers.tokenEndpoint
            ? response.json().then(
                (json) => json as Record<string, unknown>,
                () => undefined,
              )
            : Promise.resolve(undefined),
      };
    });
    if (init) await page.addInitScript(init);
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

  /** Polls `condition` every 20 ms, failing with `what` after `ms`. */
  async function until(what: string, condition: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
    for (const deadline = Date.now() + ms; !(await condition()); await new Promise((resolve) => setTimeout(resolve, 20)))
      if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
  }
  /** The requests `page` sent from the `from`-th on that `match`, once each has its answer. */
  async function answered(page: Page, from: number, match: (request: Sent) => boolean): Promise<Array<Sent & { answer: Answer }>> {
    const requests = () => sent.get(page)!.slice(from).filter(match);
    await until('every request answered', () => requests().every((request) => request.answer));
    return requests() as Array<Sent & { answer: Answer }>;
  }
  const tokenRequests = (request: Sent) => request.method === 'POST' && request.url === servers.tokenEndpoint;
  /** Every request the page sent to either server carried a proof, and a token only as DPoP: never Bearer. */
  function expectDpopOnly(page: Page): void {
    const requests = sent.get(page)!;
    expect(requests.length).toBeGreaterThan(0);
    for (const request of requests) {
      expect(request.dpop).toEqual(expect.any(String));
      if (request.authorization !== undefined) expect(request.authorization).toMatch(/^DPoP \S+$/);
      expect(request.authorization ?? '').not.toMatch(/bearer/i);
    }
  }

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

  test('a login in the same tick as a logout is signed with a new key: the new token is bound to it, the old key is gone from IndexedDB, and the new session works', async () => {
    const page = await tab();
    await signedIn(page);
    const oldJkt = await app(page, 'thumbprint');
    expect(await app(page, 'tokenJkt')).toBe(oldJkt);
    const { code, codeVerifier } = await servers.authorize();
    const before = sent.get(page)!.length;

    await app(page, 'logoutThenLogin', code, codeVerifier);

    expect(await app(page, 'status')).toBe('authenticated');
    expect(await app(page, 'calls', 1)).toEqual([200]);
    const newJkt = await app(page, 'thumbprint');
    expect(newJkt).not.toBe(oldJkt);
    expect(await app(page, 'tokenJkt')).toBe(newJkt);
    // The exchange's proofs (the nonce challenge's and the retry's) carried the new key, never the old one.
    const loginProofs = sent
      .get(page)!
      .slice(before)
      .filter((request) => request.method === 'POST' && request.url === servers.tokenEndpoint)
      .map((request) => request.dpop);
    expect(loginProofs.length).toBeGreaterThanOrEqual(1);
    expect(new Set(loginProofs.map((proof) => keyOfProof(proof!)))).toEqual(new Set([newJkt]));
    expect(await app(page, 'storedKeys')).toEqual([newJkt]);
    // The page's first call meets the API's nonce challenge, then succeeds with the new key.
    const log = await servers.log();
    expect(log.at(-1)).toMatchObject({ status: 200, scheme: 'DPoP', jktOk: true, athOk: true });
    expect(log.every((entry) => entry.scheme === 'DPoP' && entry.jktOk !== false)).toBe(true);
  });

  test('two new tabs making their first proof at the same time end up with one key: the same thumbprint in both, one key pair in IndexedDB', async () => {
    const a = await tab(meetAtKeyGeneration);
    const b = await tab(meetAtKeyGeneration);
    const [fromA, fromB] = await Promise.all([app(a, 'firstProof'), app(b, 'firstProof')]);
    // Both tabs read an empty store and made a key: the race took place, and one key was kept.
    const generated = (page: Page) => page.evaluate(() => (window as unknown as { __generated: number }).__generated);
    expect([await generated(a), await generated(b)]).toEqual([1, 1]);
    expect(fromB).toBe(fromA);
    expect(await app(a, 'thumbprint')).toBe(fromA);
    expect(await app(b, 'thumbprint')).toBe(fromA);
    expect(await app(a, 'storedKeys')).toEqual([fromA]);
  });

  test("after a reload the first refresh meets the token endpoint's nonce challenge (400 use_dpop_nonce), is retried once with that nonce and succeeds: the session stays, its refresh token is spent once", async () => {
    const page = await tab();
    await signedIn(page);
    const jkt = await app(page, 'thumbprint');
    // The nonce the login learned went with the page: the refresh after the reload has none to send.
    await page.reload();
    await page.waitForFunction(() => (window as unknown as { __app: App }).__app.status() === 'authenticated');
    const from = sent.get(page)!.length;
    await expire();
    expect(await app(page, 'calls', 5)).toEqual(Array(5).fill(200));
    expect(await app(page, 'refreshes')).toBe(1);

    const [challenge, retry, ...others] = await answered(page, from, tokenRequests);
    expect(others).toEqual([]);
    expect(challenge!.answer).toMatchObject({ status: 400, nonce: expect.any(String) });
    expect(await challenge!.answer.json).toMatchObject({ error: 'use_dpop_nonce' });
    expect(claimsOfProof(challenge!.dpop!).nonce).toBeUndefined();
    expect(retry!.answer.status).toBe(200);
    expect(claimsOfProof(retry!.dpop!).nonce).toBe(challenge!.answer.nonce);
    expect(claimsOfProof(retry!.dpop!).jti).not.toBe(claimsOfProof(challenge!.dpop!).jti);
    expect([keyOfProof(challenge!.dpop!), keyOfProof(retry!.dpop!)]).toEqual([jkt, jkt]);
    // The same refresh token both times: the challenge refused the proof and spent nothing (the
    // server rotates refresh tokens, so a spent one would have been refused); the retry spent it.
    const form = new URLSearchParams(challenge!.body!);
    const refreshToken = form.get('refresh_token');
    expect(form.get('grant_type')).toBe('refresh_token');
    expect(refreshToken).toEqual(expect.any(String));
    expect(new URLSearchParams(retry!.body!).get('refresh_token')).toBe(refreshToken);
    const rotated = (await retry!.answer.json)!;
    expect(rotated).toMatchObject({ token_type: 'DPoP', refresh_token: expect.any(String) });
    expect(rotated.refresh_token).not.toBe(refreshToken);

    expect(await app(page, 'status')).toBe('authenticated');
    const actions = await app(page, 'actions');
    expect(actions.filter((type) => type === 'refreshSucceeded')).toHaveLength(1);
    expect(actions).not.toContain('loggedOut');
    expect(actions).not.toContain('refreshFailed');
    expect(actions).not.toContain('refreshUnavailable');

    // The next refresh sends the rotated refresh token with the nonce it learned: no challenge.
    const next = sent.get(page)!.length;
    expect(await app(page, 'refresh')).toBe('ok');
    const [again, ...more] = await answered(page, next, tokenRequests);
    expect(more).toEqual([]);
    expect(again!.answer.status).toBe(200);
    expect(claimsOfProof(again!.dpop!).nonce).toEqual(expect.any(String));
    expect(new URLSearchParams(again!.body!).get('refresh_token')).toBe(rotated.refresh_token);
    // In the whole life of the page, the first refresh token was accepted once.
    const accepted = (await answered(page, 0, tokenRequests)).filter(
      (request) => request.answer.status === 200 && new URLSearchParams(request.body!).get('refresh_token') === refreshToken,
    );
    expect(accepted).toHaveLength(1);
    expect(await app(page, 'calls', 1)).toEqual([200]);
    expect(await app(page, 'status')).toBe('authenticated');
    expect(await app(page, 'actions')).not.toContain('loggedOut');
    expectDpopOnly(page);
  });

  test("the API's nonce rotating in the middle of a burst costs each call at most one retry, with the new nonce and a new jti, and starts no refresh", async () => {
    const page = await tab();
    await signedIn(page);
    expect(await app(page, 'calls', 1)).toEqual([200]); // learns the API's nonce
    await servers.clearLog();
    const before = await servers.rsNonce();
    const from = sent.get(page)!.length;
    const actionsBefore = (await app(page, 'actions')).length;
    const refreshesBefore = await app(page, 'refreshes');

    await app(page, 'startBurst', 10, 5);
    // Five answered; five signed with the nonce of then and on their way out, held: the nonce rotates now.
    await page.waitForFunction(() => {
      const state = (window as unknown as { __app: App }).__app.burstState();
      return state.held === 5 && state.answered === 5;
    });
    const rotated = await servers.rotateNonce();
    expect(rotated).not.toBe(before);
    await app(page, 'release');
    expect(await app(page, 'burstResult')).toEqual(Array(10).fill(200));

    const burst = await answered(page, from, () => true);
    expect(burst.every((request) => request.url.startsWith(`${servers.resourceUrl}?call=`))).toBe(true); // no refresh
    const attempts = (call: number) => burst.filter((request) => new URL(request.url).searchParams.get('call') === String(call));
    for (let call = 0; call < 5; call++) {
      const [only, ...rest] = attempts(call);
      expect(rest).toEqual([]);
      expect(only!.answer.status).toBe(200);
      expect(claimsOfProof(only!.dpop!).nonce).toBe(before);
    }
    for (let call = 5; call < 10; call++) {
      const [first, retry, ...rest] = attempts(call);
      expect(rest).toEqual([]);
      expect(first!.answer).toMatchObject({
        status: 401,
        nonce: rotated,
        wwwAuthenticate: expect.stringMatching(/error="use_dpop_nonce"/),
      });
      expect(claimsOfProof(first!.dpop!).nonce).toBe(before);
      expect(retry!.answer.status).toBe(200);
      expect(claimsOfProof(retry!.dpop!).nonce).toBe(rotated);
      expect(claimsOfProof(retry!.dpop!).jti).not.toBe(claimsOfProof(first!.dpop!).jti);
    }
    const jtis = burst.map((request) => claimsOfProof(request.dpop!).jti);
    expect(new Set(jtis).size).toBe(15);

    const log = await servers.log();
    expect(log).toHaveLength(15);
    expect(log.filter((entry) => entry.outcome === 'use_dpop_nonce')).toHaveLength(5);
    expect(log.filter((entry) => entry.status === 200)).toHaveLength(10);
    expect(log.every((entry) => entry.scheme === 'DPoP')).toBe(true);
    expect(log.filter((entry) => entry.status === 200).every((entry) => entry.jktOk && entry.athOk)).toBe(true);
    expect(await app(page, 'refreshes')).toBe(refreshesBefore);
    expect((await app(page, 'actions')).slice(actionsBefore)).toEqual([]);
    expect(await app(page, 'status')).toBe('authenticated');
    expectDpopOnly(page);
  });

  test('one key across refreshes: the same thumbprint before and after two refreshes, in dpop.thumbprint(), every proof, every token and IndexedDB; the token endpoint never saw another key', async () => {
    const page = await tab();
    await signedIn(page);
    const jkt = await app(page, 'thumbprint');
    expect(await app(page, 'tokenJkt')).toBe(jkt);
    // The first refresh: the API's 401 invalid_token after the expiry starts it.
    await expire();
    expect(await app(page, 'calls', 3)).toEqual(Array(3).fill(200));
    expect(await app(page, 'refreshes')).toBe(1);
    expect(await app(page, 'thumbprint')).toBe(jkt);
    expect(await app(page, 'tokenJkt')).toBe(jkt);
    // The second: asked for.
    expect(await app(page, 'refresh')).toBe('ok');
    expect(await app(page, 'refreshes')).toBe(2);
    expect(await app(page, 'calls', 1)).toEqual([200]);
    expect(await app(page, 'thumbprint')).toBe(jkt);
    expect(await app(page, 'tokenJkt')).toBe(jkt);
    expect(await app(page, 'storedKeys')).toEqual([jkt]);

    const exchanges = await answered(page, 0, tokenRequests);
    const granted = exchanges.filter((request) => request.answer.status === 200);
    expect(granted.map((request) => new URLSearchParams(request.body!).get('grant_type'))).toEqual([
      'authorization_code',
      'refresh_token',
      'refresh_token',
    ]);
    expect(new Set(exchanges.map((request) => keyOfProof(request.dpop!)))).toEqual(new Set([jkt]));
    // Each access token the server issued is bound to that key.
    for (const request of granted) {
      const { access_token: token, token_type: type } = (await request.answer.json) as { access_token: string; token_type: string };
      expect(type).toBe('DPoP');
      const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as { cnf: { jkt: string } };
      expect(claims.cnf.jkt).toBe(jkt);
    }
    // And so was every proof the API saw.
    expect(new Set(sent.get(page)!.map((request) => keyOfProof(request.dpop!)))).toEqual(new Set([jkt]));
    const log = await servers.log();
    expect(log.filter((entry) => entry.status === 200).every((entry) => entry.jktOk && entry.athOk)).toBe(true);
    expect(await app(page, 'actions')).not.toContain('loggedOut');
    expectDpopOnly(page);
  });

  test('without IndexedDB, createDpop() throws DpopError DPOP_KEY_STORAGE at setup and the page sends nothing, though a session is stored', async () => {
    const a = await tab();
    await signedIn(a);
    await servers.clearLog();
    const b = await tab(withoutIndexedDb);
    expect(await b.evaluate(() => typeof indexedDB)).toBe('undefined');
    expect(await app(b, 'setupError')).toMatchObject({ name: 'DpopError', code: 'DPOP_KEY_STORAGE', dpopError: true });
    await b.waitForLoadState('networkidle');
    expect(sent.get(b)).toEqual([]);
    expect(await servers.log()).toEqual([]);
  });

  test.each([
    ['fires an error (a private window)', indexedDbOpenFiresError, 'InvalidStateError'],
    ['throws (storage blocked)', indexedDbOpenThrows, 'SecurityError'],
  ])(
    'IndexedDB whose open %s: dpop.ready(), every call and a login reject with DpopError DPOP_KEY_STORAGE, and nothing reaches the servers, never as Bearer',
    async (_, refuse, platformError) => {
      const a = await tab();
      await signedIn(a);
      await servers.clearLog();
      const b = await tab(refuse);
      expect(await app(b, 'setupError')).toBeUndefined();
      // The session A stored: a tab that fell back to Bearer would have a token to send.
      await b.waitForFunction(() => (window as unknown as { __app: App }).__app.status() === 'authenticated');
      const refused = { name: 'DpopError', code: 'DPOP_KEY_STORAGE', dpopError: true, cause: platformError };
      expect(await app(b, 'ready')).toMatchObject(refused);
      expect(await app(b, 'calls', 3)).toEqual(Array(3).fill('DpopError DPOP_KEY_STORAGE'));
      const { code, codeVerifier } = await servers.authorize();
      expect(await app(b, 'tryLogin', code, codeVerifier)).toMatchObject(refused);
      await b.waitForLoadState('networkidle');
      expect(sent.get(b)).toEqual([]);
      expect(await servers.log()).toEqual([]);
    },
  );
});
