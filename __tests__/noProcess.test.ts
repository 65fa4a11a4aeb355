import { buildSync } from 'esbuild';
import { createRequire } from 'node:module';
import vm from 'node:vm';

/**
 * Issue 9.5: an ES module loaded without a bundler (a browser import map, Deno) has no `process`.
 * The package's own code runs here in a realm without `process` and without `document`; its peers
 * are the real ones, loaded outside.
 */
test('createTokenRefresh works where `process` does not exist, in cookie mode too, and shares nothing between instances', async () => {
  const { outputFiles } = buildSync({
    stdin: {
      contents: "export * from './src/index';\nexport { cookieSession } from './src/cookie';",
      resolveDir: `${__dirname}/..`,
      loader: 'ts',
    },
    bundle: true,
    format: 'cjs',
    platform: 'neutral',
    write: false,
    external: ['rxjs', 'redux', 'redux-observable', '@reduxjs/toolkit'],
    logLevel: 'error',
  });
  const code = outputFiles[0]!.text;
  expect(code).toMatch(/process\.env\.NODE_ENV/); // the guards are there, not defined away
  const requireOutside = createRequire(__filename);
  const module = { exports: {} as Record<string, unknown> };
  const realm = vm.createContext({
    module,
    exports: module.exports,
    require: requireOutside,
    console,
    setTimeout,
    clearTimeout,
    AbortController,
    queueMicrotask,
  });
  vm.runInContext(code, realm);
  expect(vm.runInContext('typeof process', realm)).toBe('undefined');
  const pkg = module.exports as typeof import('../src') & typeof import('../src/cookie');
  const a = pkg.createTokenRefresh({ session: pkg.cookieSession(), refresh: async () => ({ accessToken: 'from-cookie' }) });
  const b = pkg.createTokenRefresh({ session: pkg.cookieSession(), refresh: async () => ({ accessToken: 'other' }) });
  a.setTokens({ accessToken: 'user-a' });
  expect(a.getStatus()).toBe('authenticated');
  expect(b.getAccessToken()).toBeUndefined();
  expect(() => pkg.createTokenRefresh({ refresh: async () => ({ accessToken: 'x' }), maxRetries: '1' as never })).toThrow(/maxRetries/);
  // Issue 17.3: without `process` the messages are the production ones, never a ReferenceError.
  expect(() => pkg.createTokenRefresh({ refresh: async () => ({ accessToken: 'x' }), maxRetries: '1' as never })).toThrow(
    '[redux-observable-token-refresh] INVALID_OPTION (createTokenRefresh: option "maxRetries"): see docs/errors.md#invalid_option',
  );
  expect(new pkg.NotAuthenticatedError().message).toBe(
    '[redux-observable-token-refresh] NOT_AUTHENTICATED: see docs/errors.md#not_authenticated',
  );
  expect(() => a.setTokens({ accessToken: 'x', expiresAt: 'soon' })).toThrow('INVALID_TOKENS (expiresAt)');
});
