import { buildSync } from 'esbuild';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import vm from 'node:vm';
import { LoggedOutError, NotAuthenticatedError, RetryLimitError, createTokenRefresh } from '../src';
import { msg } from '../src/message';

/**
 * Issue 17.3: production builds carry the code and a pointer to docs/errors.md, development builds
 * the full text; src/message.ts says how. A production bundle is built here the way an app's
 * bundler builds it (esbuild, minified, NODE_ENV defined) and run in a realm of its own.
 */
const ROOT = join(__dirname, '..');
const PEERS = ['rxjs', 'redux', 'redux-observable', '@reduxjs/toolkit', 'axios'];
/** The entries whose messages go through msg() (the fetch, axios and RTK Query adapters do not yet). */
const ENTRIES = [
  'src/index.ts',
  'epics/index.ts',
  'src/adapters/oauth2.ts',
  'src/adapters/fetch.ts',
  'src/adapters/axios.ts',
  'src/adapters/rtkQuery.ts',
  'src/dpop/index.ts',
];

const bundle = (entry: string, production: boolean) =>
  buildSync({
    entryPoints: [join(ROOT, entry)],
    bundle: true,
    minify: true,
    format: 'cjs',
    platform: 'neutral',
    write: false,
    external: PEERS,
    logLevel: 'error',
    ...(production ? { define: { 'process.env.NODE_ENV': '"production"' } } : {}),
  }).outputFiles[0]!.text;

/** The source files under src/ and epics/, and the development texts they guard. */
const sources = ['src', 'src/adapters', 'src/storage', 'src/dpop', 'epics'].flatMap((dir) =>
  readdirSync(join(ROOT, dir))
    .filter((name) => name.endsWith('.ts'))
    .map((name) => ({ file: `${dir}/${name}`, text: readFileSync(join(ROOT, dir, name), 'utf8') })),
);
/** The longest fixed part of each `() => process.env.NODE_ENV !== 'production' && 'text'` (the text around any `${…}`). */
const devTexts = sources.flatMap(({ file, text }) =>
  [...text.matchAll(/process\.env\.NODE_ENV !== 'production' &&\s*\(?\s*(?:[^?]*\?\s*)?(['"`])(.+?)\1/gs)].map(([, , body]) => ({
    file,
    text: body!.split(/\$\{[^}]*\}/).reduce((longest, part) => (part.length > longest.length ? part : longest), ''),
  })),
);

const SHORT = (code: string, detail?: string) =>
  `[redux-observable-token-refresh] ${code}${detail ? ` (${detail})` : ''}: see docs/errors.md#${code.toLowerCase()}`;

describe('a production bundle', () => {
  test.each(ENTRIES)('%s holds none of the development texts, and no process.env', (entry) => {
    expect(devTexts.length).toBeGreaterThan(30); // the pattern finds the sites
    const production = bundle(entry, true);
    const development = bundle(entry, false);
    const inDevelopment = devTexts.filter(({ text }) => text.length >= 10 && development.includes(text));
    expect(inDevelopment.length).toBeGreaterThan(entry === 'src/index.ts' ? 15 : 3); // this entry has texts to lose
    expect(inDevelopment.filter(({ text }) => production.includes(text))).toEqual([]);
    expect(production).not.toMatch(/process\.env/);
  });

  test('the main entry holds none of the known messages, guarded or not', () => {
    const production = bundle('src/index.ts', true);
    const known = [
      'No access token: log in',
      'has ended (logout or another login)',
      'auth.epic is not running',
      'Could not refresh the access token now',
      'ms (refreshTimeoutMs)',
      'Still an auth error after',
      'the user must log in again',
      'a number >= 0',
      'Tokens must be { accessToken',
      'refresh() gave no tokens',
      'a bug in your refresh function',
      'pass an options object',
    ];
    const development = bundle('src/index.ts', false);
    expect(known.filter((text) => development.includes(text))).toEqual(known);
    expect(known.filter((text) => production.includes(text))).toEqual([]);
  });

  test('its errors carry the code and the pointer, and their classes, names and codes are unchanged', () => {
    const module = { exports: {} as Record<string, unknown> };
    const realm = vm.createContext({
      module,
      exports: module.exports,
      require: createRequire(__filename),
      console,
      setTimeout,
      clearTimeout,
    });
    vm.runInContext(bundle('src/index.ts', true), realm);
    const pkg = module.exports as typeof import('../src');
    const notAuthenticated = new pkg.NotAuthenticatedError();
    expect(notAuthenticated).toMatchObject({
      name: 'NotAuthenticatedError',
      code: 'NOT_AUTHENTICATED',
      message: SHORT('NOT_AUTHENTICATED'),
    });
    expect(pkg.isAuthRefreshError(notAuthenticated)).toBe(true);
    expect(new pkg.LoggedOutError().message).toBe(SHORT('LOGGED_OUT'));
    expect(new pkg.EpicNotRunningError().message).toBe(SHORT('EPIC_NOT_RUNNING'));
    expect(new pkg.RefreshUnavailableError(new Error('offline'))).toMatchObject({
      code: 'REFRESH_UNAVAILABLE',
      message: SHORT('REFRESH_UNAVAILABLE'),
    });
    expect(new pkg.RetryLimitError(1, null, true)).toMatchObject({ retries: 1, replaced: true, message: SHORT('RETRY_LIMIT') });
    expect(new pkg.RefreshTimeoutError(5000)).toMatchObject({
      timeoutMs: 5000,
      code: 'REFRESH_TIMEOUT',
      message: SHORT('REFRESH_TIMEOUT'),
    });
    expect(pkg.serializeError(Object.assign(new pkg.TokenRefreshError('x'), { status: 400 })).message).toBe(
      SHORT('REFRESH_FAILED', 'HTTP 400'),
    );

    const refresh = () => Promise.resolve({ accessToken: 'a' });
    const thrown = (run: () => unknown) => {
      try {
        run();
      } catch (error) {
        return error as TypeError & { code?: string };
      }
      throw new Error('did not throw');
    };
    // A TypeError's realm is the bundle's: compare by name.
    const badOption = thrown(() => pkg.createTokenRefresh({ refresh, maxRetries: '1' as never }));
    expect(badOption).toMatchObject({
      name: 'TypeError',
      code: 'INVALID_OPTION',
      message: SHORT('INVALID_OPTION', 'createTokenRefresh: option "maxRetries"'),
    });
    expect(thrown(() => pkg.createTokenRefresh(undefined as never))).toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: SHORT('INVALID_ARGUMENT', 'createTokenRefresh'),
    });
    expect(thrown(() => pkg.createTokenRefresh({ refresh }).setTokens({ accessToken: 'a', expiresAt: 'soon' }))).toMatchObject({
      code: 'INVALID_TOKENS',
      message: SHORT('INVALID_TOKENS', 'expiresAt'),
    });
  });
});

describe('development (jest runs with NODE_ENV=test)', () => {
  test("keeps today's full text, and the TypeErrors have a code", () => {
    expect(new NotAuthenticatedError().message).toBe('No access token: log in and call auth.setTokens() first; not sent.');
    expect(new LoggedOutError().message).toBe('The session this request started in has ended (logout or another login); not sent again.');
    expect(new RetryLimitError(0, null).message).toBe('Auth error; not replayed (maxRetries: 0).');
    let error: (TypeError & { code?: string }) | undefined;
    try {
      createTokenRefresh({ refresh: () => Promise.resolve({ accessToken: 'a' }), maxRetries: '1' as never });
    } catch (thrown) {
      error = thrown as TypeError;
    }
    expect(error).toBeInstanceOf(TypeError);
    expect(error).toMatchObject({ code: 'INVALID_OPTION', message: 'createTokenRefresh: option "maxRetries" must be a number >= 0.' });
  });

  test('msg(): the development text; the short form when it is false or throws (no `process`)', () => {
    expect(msg('LOGGED_OUT', () => 'full')).toBe('full');
    expect(msg('LOGGED_OUT', () => false)).toBe(SHORT('LOGGED_OUT'));
    const noProcess = () => {
      throw new ReferenceError('process is not defined');
    };
    expect(msg('INVALID_OPTION', noProcess, 'f: option "x"')).toBe(SHORT('INVALID_OPTION', 'f: option "x"'));
  });
});

test('every code a message is built with has its heading in docs/errors.md', () => {
  const used = new Set(sources.flatMap(({ text }) => [...text.matchAll(/\b(?:msg|typeError)\(\s*'([A-Z_]+)'/g)].map(([, code]) => code!)));
  const classCodes = [...readFileSync(join(ROOT, 'src/errors.ts'), 'utf8').matchAll(/readonly code = '([A-Z_]+)'/g)].map(
    ([, code]) => code!,
  );
  expect(used.size).toBeGreaterThanOrEqual(10);
  const headings = new Set([...readFileSync(join(ROOT, 'docs/errors.md'), 'utf8').matchAll(/^### ([A-Z_]+)$/gm)].map(([, code]) => code!));
  expect([...used, ...classCodes].filter((code) => !headings.has(code))).toEqual([]);
});
