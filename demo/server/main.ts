/**
 * `tsx demo/server/main.ts [--port 5173] [--access-ttl 15] [--refresh-ttl 600] [--dpop optional|required|off]`
 * (or PORT, ACCESS_TTL, REFRESH_TTL, DPOP): the demo's API and the built demo app on one origin, so the
 * browser needs no proxy and no CORS.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startAuthServer } from './authServer';
import { DEMO_ACCESS_TTL_S, DEMO_DPOP, DEMO_REFRESH_TTL_S, demoServerOptions } from './config';

const { values } = parseArgs({
  options: { port: { type: 'string' }, 'access-ttl': { type: 'string' }, 'refresh-ttl': { type: 'string' }, dpop: { type: 'string' } },
});

function numberSetting(name: string, raw: string | undefined, fallback: number, max: number): number {
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0 || value > max) {
    console.error(`Invalid ${name} '${raw}': expected a number from 0 to ${max}.`);
    process.exit(2);
  }
  return value;
}

const port = numberSetting('port', values.port ?? process.env.PORT, 5173, 65_535);
const accessTtl = numberSetting('access TTL (seconds)', values['access-ttl'] ?? process.env.ACCESS_TTL, DEMO_ACCESS_TTL_S, 86_400);
const refreshTtl = numberSetting(
  'refresh TTL (seconds)',
  values['refresh-ttl'] ?? process.env.REFRESH_TTL,
  DEMO_REFRESH_TTL_S,
  30 * 86_400,
);

const dpopSetting: string = values.dpop ?? process.env.DPOP ?? DEMO_DPOP;
if (!['optional', 'required', 'off'].includes(dpopSetting)) {
  console.error(`Invalid DPoP setting '${dpopSetting}': expected optional, required or off.`);
  process.exit(2);
}
const dpop = dpopSetting === 'off' ? false : (dpopSetting as 'optional' | 'required');

const distDir = fileURLToPath(new URL('../dist', import.meta.url));
const hasDist = existsSync(join(distDir, 'index.html'));

const server = await startAuthServer({
  ...demoServerOptions({ accessTtlS: accessTtl, refreshTtlS: refreshTtl, dpop }),
  port: Math.trunc(port),
  staticDir: hasDist ? distDir : undefined,
});

console.log(`Demo server listening on ${server.url}`);
console.log(`  log in as demo / demo; access tokens live ${accessTtl} s, refresh tokens ${refreshTtl} s`);
console.log(
  dpop === false
    ? '  DPoP: off (Bearer tokens only)'
    : `  DPoP: ${dpop}; open ${server.url}/?dpop=1 (or tick DPoP on the sign-in page) for tokens bound to a key in the browser`,
);
console.log(`  OAuth clients: demo-app (public), demo-confidential / demo-secret; stats at ${server.url}/stats`);
console.log('  Press Ctrl-C to stop.');
if (!hasDist) {
  console.log(`  No demo build at ${distDir}: serving the API only. Build it with \`npx vite build\` in demo/ (or \`npm run demo\`).`);
}

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping the demo server`);
    void server.close().then(() => process.exit(0));
  });
}
