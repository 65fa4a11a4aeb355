/**
 * Size budgets per import set (min+gzip), checked by `npm test` on the built package (dist/), with
 * the peers (rxjs, redux, redux-observable, RTK, axios) external as in an app, and production builds
 * (bundlers drop the development checks and messages).
 *
 * Issue 17 ("One small core") sets the targets: createTokenRefresh <= 3,072 B; + localStorageStorage
 * <= 4,096 B; + authFetch <= 5,120 B; + localStorageStorage + authBaseQuery <= 5,632 B. They are not
 * reached: tab sync, cookie sessions and cause redaction are modules now (their lines below), but the
 * core itself (the session machine, its shell, the refresh runner, the errors) is about 6.6 kB. Each
 * limit is today's size plus a little, so that nothing grows unnoticed; they come down with the core.
 *
 * DPoP is the clients' transport (dpop.fetch, dpop.resourceFetch, dpop.axiosAdapter), not an option of
 * the adapters: an app that does not import /dpop gains 0 B.
 */
const production = (config) => ({
  ...config,
  platform: 'browser',
  logLevel: 'error',
  define: { ...config.define, 'process.env.NODE_ENV': '"production"' },
});
const line = (name, path, imports, limit) => ({ name, path, import: imports, limit, gzip: true, modifyEsbuildConfig: production });

module.exports = [
  line('createTokenRefresh', 'dist/index.js', '{ createTokenRefresh }', '6750 B'),
  line('createTokenRefresh + localStorageStorage (quick start)', 'dist/index.js', '{ createTokenRefresh, localStorageStorage }', '7740 B'),
  line('createTokenRefresh + asyncStorage', 'dist/index.js', '{ createTokenRefresh, asyncStorage }', '6850 B'),
  line(
    'createTokenRefresh + authFetch',
    ['dist/index.js', 'dist/fetch.js'],
    { 'dist/index.js': '{ createTokenRefresh }', 'dist/fetch.js': '{ authFetch }' },
    '7790 B',
  ),
  line(
    'createTokenRefresh + localStorageStorage + authBaseQuery',
    ['dist/index.js', 'dist/rtk-query.js'],
    { 'dist/index.js': '{ createTokenRefresh, localStorageStorage }', 'dist/rtk-query.js': '{ authBaseQuery }' },
    '9100 B',
  ),
  line(
    'createTokenRefresh + attachAxios',
    ['dist/index.js', 'dist/axios.js'],
    { 'dist/index.js': '{ createTokenRefresh }', 'dist/axios.js': '{ attachAxios }' },
    '8380 B',
  ),
  line(
    'createTokenRefresh + oauth2RefreshGrant',
    ['dist/index.js', 'dist/oauth2.js'],
    { 'dist/index.js': '{ createTokenRefresh }', 'dist/oauth2.js': '{ oauth2RefreshGrant }' },
    '8590 B',
  ),
  // The opt-in modules, each with the core, so that the price of each is the difference to the first line.
  line(
    'createTokenRefresh + syncTabs + memoryStorage (tab sync)',
    'dist/index.js',
    '{ createTokenRefresh, syncTabs, memoryStorage }',
    '7800 B',
  ),
  line(
    'createTokenRefresh + cookieSession (cookie sessions)',
    ['dist/index.js', 'dist/cookie.js'],
    { 'dist/index.js': '{ createTokenRefresh }', 'dist/cookie.js': '{ cookieSession }' },
    '7840 B',
  ),
  line('createTokenRefresh + redactSecrets (cause redaction)', 'dist/index.js', '{ createTokenRefresh, redactSecrets }', '6990 B'),
  // DPoP: what an app that imports /dpop pays, with the refresh grant and a client.
  line(
    'createTokenRefresh + oauth2RefreshGrant + authFetch + createDpop (DPoP)',
    ['dist/index.js', 'dist/oauth2.js', 'dist/fetch.js', 'dist/dpop.js'],
    {
      'dist/index.js': '{ createTokenRefresh }',
      'dist/oauth2.js': '{ oauth2RefreshGrant }',
      'dist/fetch.js': '{ authFetch }',
      'dist/dpop.js': '{ createDpop }',
    },
    '12870 B',
  ),
  line(
    'createTokenRefresh + oauth2RefreshGrant + attachAxios + createDpop (DPoP)',
    ['dist/index.js', 'dist/oauth2.js', 'dist/axios.js', 'dist/dpop.js'],
    {
      'dist/index.js': '{ createTokenRefresh }',
      'dist/oauth2.js': '{ oauth2RefreshGrant }',
      'dist/axios.js': '{ attachAxios }',
      'dist/dpop.js': '{ createDpop }',
    },
    '13310 B',
  ),
  line(
    'epics: createScheduledRefreshEpic + createHeartbeatEpic',
    'dist/epics.js',
    '{ createScheduledRefreshEpic, createHeartbeatEpic }',
    '1400 B',
  ),
];
