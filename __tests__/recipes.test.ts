/**
 * The recipes run as pasted: the README's quick start and one recipe per client of docs/adapters.md
 * (RTK Query, `authFetch`, axios), taken out of the Markdown by their `<!-- recipe-run: name -->`
 * markers (never copied here), compiled by TypeScript and run end to end against the real demo
 * auth server on 127.0.0.1. The one change made to a recipe: its `const API = '…';` line gets the
 * server's URL (docs/development.md, "Recipes that run as pasted").
 *
 * What a user relies on: the login works; a call made after the access token expired, by the clock
 * or by the server, succeeds after exactly one refresh; the logout ends the session (an epic's call
 * fails with NotAuthenticatedError and sends nothing; an adapter's call goes without a token and
 * refreshes nothing, docs/errors.md "Without a session"). Real timers, since a real server and real
 * JWT expiry are involved: access tokens live 2 s (exp has whole seconds, so 2 to 3 s).
 */
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return, @typescript-eslint/no-require-imports --
   The recipes are Markdown compiled and run at test time: their modules have no types to check
   against (any is the truth), and they import through the CommonJS `require` they are compiled to. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { decodeJwt } from 'jose';
import { extractBlocks } from './support/markdownBlocks';
import { packageEntries } from './support/packageEntries';
import { startAuthServer, type AuthServer } from '../demo/server/authServer';

const ROOT = join(__dirname, '..');
const ENTRIES = packageEntries(ROOT);
// Loaded with the file, as every other suite loads them, and not first inside a test: StrykerJS
// (`npm run mutation`, ignoreStatic) then counts the sources' module-level code as static, instead
// of as covered by this file's first test alone, which would be the only test run against it.
for (const source of new Set(Object.values(ENTRIES))) require(join(ROOT, source));
const API_LINE = /const API = '[^'\n]*';/g;
const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new (
  ...args: string[]
) => (...values: unknown[]) => Promise<void>;

/** Every block of `page` marked for recipe `name`, in page order, as one module's source. */
function recipeSource(page: string, name: string): string {
  const blocks = extractBlocks(readFileSync(join(ROOT, page), 'utf8')).filter((block) => block.runs.includes(name));
  if (blocks.length === 0) throw new Error(`${page}: no block marked <!-- recipe-run: ${name} -->`);
  return blocks.map((block) => block.code).join('\n');
}

/** The recipe compiled to CommonJS and run as a module; its package imports resolve to src/. */
async function load(page: string, name: string, api: string): Promise<Record<string, any>> {
  const source = recipeSource(page, name);
  const lines = source.match(API_LINE) ?? [];
  if (lines.length !== 1) throw new Error(`${page} recipe ${name}: wants exactly one \`const API = '…';\` line, has ${lines.length}`);
  const { outputText } = ts.transpileModule(source.replace(API_LINE, `const API = ${JSON.stringify(api)};`), {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    fileName: `${name}.ts`,
  });
  const resolveImport = (specifier: string) => require(ENTRIES[specifier] ? join(ROOT, ENTRIES[specifier]) : specifier);
  const module = { exports: {} as Record<string, any> };
  // An async function body, so that a recipe may use top-level await as an ES module can.
  await new AsyncFunction('require', 'exports', 'module', outputText)(resolveImport, module.exports, module);
  return module.exports;
}

async function until(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Waits out the current access token's `exp` (read from the token, not guessed), plus a margin. */
async function outliveAccessToken(auth: { getAccessToken(): string | undefined }): Promise<void> {
  const exp = decodeJwt(auth.getAccessToken()!).exp! * 1000;
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, exp - Date.now() + 100)));
}

let server: AuthServer;
beforeAll(async () => {
  server = await startAuthServer({ quiet: true, accessTtlMs: 2_000 });
});
afterAll(() => server.close());
beforeEach(() => server.reset());

interface Client {
  auth: { getAccessToken(): string | undefined; getStatus(): string };
  logIn(username: string, password: string): Promise<void>;
  logOut(): void;
  /** The profile through the recipe's client; rejects when the client reports a failure. */
  profile(): Promise<{ name: string }>;
}

/** The same user journey for every recipe: log in, call, expire (server, then clock), log out. */
async function journey(client: Client, afterLogout: (stats: ReturnType<AuthServer['stats']>) => Promise<void>): Promise<void> {
  await client.logIn('demo', 'demo');
  expect(server.stats().logins).toBe(1);
  expect(await client.profile()).toMatchObject({ name: 'Demo User' });
  expect(server.stats()).toMatchObject({ refreshCalls: 0, apiOk: 1 });

  // Expired by the server (the client cannot know): the call gets a 401, one refresh, one replay.
  server.control.resetStats();
  server.control.expireAccessTokens();
  expect(await client.profile()).toMatchObject({ name: 'Demo User' });
  expect(server.stats()).toMatchObject({ refreshCalls: 1, refreshOk: 1, api401: 1, apiOk: 1 });

  // Expired by the clock: the call made after `exp` succeeds after exactly one refresh.
  await outliveAccessToken(client.auth);
  server.control.resetStats();
  expect(await client.profile()).toMatchObject({ name: 'Demo User' });
  expect(server.stats()).toMatchObject({ refreshCalls: 1, refreshOk: 1, apiOk: 1 });

  // Logout ends it: no token left, no refresh from now on.
  client.logOut();
  expect(client.auth.getAccessToken()).toBeUndefined();
  expect(client.auth.getStatus()).toBe('unauthenticated');
  server.control.resetStats();
  await afterLogout(server.stats());
  expect(server.stats().refreshCalls).toBe(0);
}

describe('recipes run as pasted against the demo server', () => {
  test('README quick start: login, an epic with auth.authorized, one refresh per expiry, logout', async () => {
    const app = await load('README.md', 'quick-start', server.url);
    const profile = async () => {
      const before = app.store.getState().profile;
      app.store.dispatch(app.fetchProfile());
      await until(() => app.store.getState().profile !== before, 'the epic to answer');
      const after = app.store.getState().profile as { name: string; error: string };
      if (after.error) throw new Error(after.error);
      return after;
    };
    await journey({ ...(app as Client), profile }, async () => {
      await expect(profile()).rejects.toThrow('NotAuthenticatedError');
      expect(server.stats().apiRequests).toBe(0); // failed fast: nothing was sent
    });
    expect(app.store.getState()[app.auth.reducerPath].status).toBe('unauthenticated');
  }, 30_000);

  test('docs/adapters.md, RTK Query: authBaseQuery', async () => {
    const app = await load('docs/adapters.md', 'rtk-query', server.url);
    const query = async () => {
      const result = app.store.dispatch(app.api.endpoints.profile.initiate(undefined, { forceRefetch: true }));
      const { data, error } = await result;
      result.unsubscribe();
      return { data, error };
    };
    const profile = async () => {
      const { data, error } = await query();
      if (error) throw Object.assign(new Error('query failed'), { error });
      return data;
    };
    try {
      await journey({ ...(app as Client), profile }, async () => {
        // No session: sent as written, without a token; its 401 is the query's own error.
        expect((await query()).error).toMatchObject({ status: 401 });
        expect(server.stats()).toMatchObject({ requestsWithoutToken: 1, api401: 1 });
      });
    } finally {
      app.store.dispatch(app.api.util.resetApiState()); // clears RTK Query's cache timers
    }
  }, 30_000);

  test('docs/adapters.md, fetch: authFetch', async () => {
    const app = await load('docs/adapters.md', 'fetch', server.url);
    try {
      await journey({ ...(app as Client), profile: () => app.loadProfile() }, async () => {
        await expect(app.loadProfile()).rejects.toThrow('HTTP 401');
        expect(server.stats()).toMatchObject({ requestsWithoutToken: 1, api401: 1 });
      });
    } finally {
      app.store.dispatch(app.api.util.resetApiState());
    }
  }, 30_000);

  test('docs/adapters.md, axios: attachAxios', async () => {
    const app = await load('docs/adapters.md', 'axios', server.url);
    try {
      await journey({ ...(app as Client), profile: () => app.getProfile() }, async () => {
        await expect(app.getProfile()).rejects.toMatchObject({ response: { status: 401 } });
        expect(server.stats()).toMatchObject({ requestsWithoutToken: 1, api401: 1 });
      });
    } finally {
      app.detach();
      app.store.dispatch(app.api.util.resetApiState());
    }
  }, 30_000);

  test('the runner is not vacuous: a missing marker fails, and the quick start names its API once', async () => {
    await expect(load('docs/adapters.md', 'no-such-recipe', server.url)).rejects.toThrow('no block marked');
    expect(() => recipeSource('README.md', 'quick-start')).not.toThrow();
    expect(recipeSource('README.md', 'quick-start').match(API_LINE)).toHaveLength(1);
  });
});
