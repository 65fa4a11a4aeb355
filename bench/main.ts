/**
 * The whole benchmark: sizes, in-process costs, then every scenario against the demo server in its
 * own process, a row per client and the ideal row. Prints the tables and writes results.md and
 * results.json next to this file. `--quick` runs small sizes only (a minute or so).
 */
import { execSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { clients } from './clients/index';
import { measureMemory, measureOverhead, measureRelease, measureSeedRelease, type ReleaseResult } from './costs';
import { budgetTable, deviations, memoryTable, overheadTable, releaseTable, scenarioTable, sizeTable, table } from './report';
import { idealRow, requestCount, runScenario, scenarioSpecs, skippedRow, type Row, type ScenarioSpec } from './scenarios';
import { startServerProcess, type ServerSettings } from './serverProcess';
import { measureBudgets, measureSizes } from './size';
import { CONNECTIONS } from './transport';

const quick = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1';
const root = fileURLToPath(new URL('..', import.meta.url));
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

const settings: ServerSettings = { apiLatencyMs: 10, refreshLatencyMs: 50 };
const bursts = quick ? [1, 10, 100] : [1, 10, 100, 1_000, 10_000];
const waveSize = quick ? 10 : 100;
const releaseSizes = quick ? [1_000, 10_000] : [1_000, 10_000, 100_000];
/** The seed pattern's release grows faster than linearly; 100,000 would take minutes. */
const seedReleaseSizes = [1_000, 10_000];
const HANG_MS = 10_000;
/** Runs per client at burst-1000, the size the wall-time target is judged at. */
const REPEATS = quick ? 1 : 3;
/** A burst is skipped for a client whose projected CPU time for it exceeds this (see skipReason). */
const CPU_BUDGET_MS = 20_000;

/**
 * 10 s plus what the scenario needs at best with CONNECTIONS sockets; runScenario adds twice the
 * valid-token baseline, so only a real hang counts, not a slow server.
 */
function hangBound(spec: ScenarioSpec): number {
  const waves = Math.ceil(requestCount(spec) / CONNECTIONS);
  return HANG_MS + 2 * waves * settings.apiLatencyMs + settings.refreshLatencyMs + 400;
}

/**
 * Bursts grow tenfold; a client whose work grows faster than linearly (a cache copied per action, a
 * Subject with one subscriber per waiting request) can burn minutes of synchronous CPU that no
 * hang bound can interrupt. So a burst is skipped, with the reason printed, for a client that hung
 * at the previous size, or whose CPU time projected from the two previous sizes exceeds the budget.
 */
function skipReason(spec: ScenarioSpec, client: string): string | undefined {
  if (spec.kind !== 'burst') return undefined;
  const previous = rows
    .filter((row) => row.client === client && row.scenario.startsWith('burst-') && !row.skipped)
    .map((row) => ({ row, n: Number(row.scenario.slice('burst-'.length)) }))
    .filter(({ n }) => n < spec.n)
    .sort((a, b) => a.n - b.n);
  const last = previous.at(-1);
  const before = previous.at(-2);
  if (!last) return undefined;
  if (last.row.hung > 0) return `hung at ${last.row.scenario}`;
  // The largest burst is the expensive one: only clients that ended the previous size correctly run it.
  if (spec.n === Math.max(...bursts) && last.row.errors > 0) return `${last.row.errors} errors at ${last.row.scenario}`;
  if (!before || !last.row.clientCpuMs || !before.row.clientCpuMs) return undefined;
  const exponent = Math.min(2, Math.max(1, Math.log(last.row.clientCpuMs / before.row.clientCpuMs) / Math.log(last.n / before.n)));
  const projected = last.row.clientCpuMs * (spec.n / last.n) ** exponent;
  if (projected > CPU_BUDGET_MS) {
    return `projected client CPU ${(projected / 1000).toFixed(0)} s (${(last.row.clientCpuMs / 1000).toFixed(1)} s at ${last.row.scenario}, growth n^${exponent.toFixed(1)})`;
  }
  return undefined;
}

const rows: Row[] = [];
const started = Date.now();
const log = (line: string) => console.log(line);
const out: string[] = [];
const section = (title: string, body: string) => {
  log(`\n## ${title}\n\n${body}`);
  out.push(`## ${title}\n\n${body}\n`);
};

const machine = {
  nproc: Number(execSync('nproc').toString().trim()),
  cpu: cpus()[0]?.model ?? 'unknown',
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  node: process.version,
  date: new Date().toISOString(),
  /** 1-minute load average at the start and the end: other work on the machine moves wall times. */
  loadAverage: { start: Number(loadavg()[0]!.toFixed(2)), end: 0 },
  commit: (() => {
    try {
      return execSync('git rev-parse --short HEAD', { cwd: root }).toString().trim();
    } catch {
      return 'unknown';
    }
  })(),
};
log(`machine: ${machine.nproc} cores, ${machine.cpu}, ${machine.memoryGiB} GiB, node ${machine.node}, ${machine.date}`);

// 1. Size
const sizes = await measureSizes(root);
section('Size (esbuild, ESM, minified, gzip -9; peers external)', sizeTable(sizes));
const budgets = measureBudgets(root);
section('Size per import set (what an app that imports these pays; budgets in .size-limit.cjs)', budgetTable(budgets));

// 2. In-process costs
const overhead = await measureOverhead(quick ? 300 : 1_000);
section('Per-request overhead (synchronous fake transport, tinybench, 100 requests per iteration)', overheadTable(overhead));

// Warm the JIT on the release path first, then keep the median of a few runs per size.
for (let i = 0; i < 3; i++) measureRelease(1_000);
const median = (runs: ReleaseResult[]) => runs.sort((a, b) => a.ms - b.ms)[Math.floor(runs.length / 2)]!;
const release: ReleaseResult[] = [];
for (const size of releaseSizes) release.push(median(Array.from({ length: size >= 100_000 ? 3 : 5 }, () => measureRelease(size))));
measureSeedRelease(1_000);
for (const size of seedReleaseSizes) release.push(median(Array.from({ length: 3 }, () => measureSeedRelease(size))));
section('Queue release: calls waiting on one refresh, released when it lands (synchronous refresh and transport)', releaseTable(release));

const memory = measureMemory(100, 1_000);
section('Memory: 100,000 calls across 100 refresh cycles (each call meets a 401 and waits), after global.gc()', memoryTable(memory));

// 3. Scenarios against the server process
const server = await startServerProcess(here('./server.ts'), settings);
const specs = scenarioSpecs(bursts, waveSize);
try {
  // One unrecorded round per client, big enough to warm the JIT on its path: otherwise whoever runs
  // first pays for compilation in its first large row.
  for (const client of clients)
    await runScenario(server, client, { name: 'warm-up', kind: 'burst', n: 200 }, { hangBoundMs: 5_000, baseline: false });
  for (const [index, spec] of specs.entries()) {
    // Rotate who goes first, so drift over the run (GC, the machine's other load) is not always on one client.
    const order = clients.map((_, i) => clients[(i + index) % clients.length]!);
    // burst-1000 decides the wall-time target: median of REPEATS interleaved runs per client.
    const repeats = spec.kind === 'burst' && spec.n === 1_000 ? REPEATS : 1;
    const runs = new Map<string, Row[]>();
    for (let repeat = 0; repeat < repeats; repeat++) {
      for (const client of order) {
        const done = runs.get(client.name) ?? [];
        if (done.some((row) => row.skipped || row.hung > 0)) continue; // a hang costs the bound again for nothing
        const reason = skipReason(spec, client.name);
        let row: Row;
        if (reason) {
          row = skippedRow(spec, client, reason);
        } else {
          try {
            row = await runScenario(server, client, spec, { hangBoundMs: hangBound(spec) });
          } catch (error) {
            // One broken row (a crash in a client, a server overload) must not lose the rest of the run.
            row = skippedRow(spec, client, `failed: ${(error as Error).message}`);
          }
        }
        runs.set(client.name, [...done, row]);
        log(
          `  ${spec.name} · ${client.name}: ${row.skipped ? `skipped (${row.skipped})` : `${row.refreshCalls} refresh, ${row.ok} ok, ${row.errors} errors, ${row.hung} hung, ${row.wallMs.toFixed(0)} ms`}`,
        );
      }
    }
    const specRows = clients.map((client) => {
      const all = runs.get(client.name)!;
      const sorted = [...all].sort((a, b) => a.wallMs - b.wallMs);
      return {
        ...sorted[Math.floor((sorted.length - 1) / 2)]!,
        runs: all.length > 1 ? all.map((row) => Math.round(row.wallMs)) : undefined,
      };
    });
    rows.push(...specRows);
    section(
      `${spec.name}${repeats > 1 ? ` (median wall of ${repeats} interleaved runs per client; its counts shown)` : ''}`,
      scenarioTable(spec, specRows, settings),
    );
  }
} finally {
  await server.close();
}

// 4. Targets for this package, judged on this run's figures
const own = clients[0]!.name;
/** This package's rows: the main client and its transport / adapter variants. */
const ownNames = clients.filter((client) => client.name.startsWith(own)).map((client) => client.name);
const targets: Array<{ target: string; met: boolean; detail: string }> = [];
for (const name of ownNames) {
  const misses = specs.flatMap((spec) => {
    const row = rows.find((r) => r.scenario === spec.name && r.client === name)!;
    if (row.skipped) return [`${spec.name}: skipped (${row.skipped})`];
    const ideal = idealRow(spec, settings);
    const off = deviations(row, ideal);
    return off.length ? [`${spec.name}: ${off.map((key) => `${key} ${row[key]} (ideal ${ideal[key]})`).join(', ')}`] : [];
  });
  targets.push({
    target: `ideal counts in every scenario (${name})`,
    met: misses.length === 0,
    detail: misses.length ? misses.join('; ') : 'all scenarios',
  });
}

const thousand = specs.find((spec) => spec.kind === 'burst' && spec.n === 1_000) ?? specs.filter((spec) => spec.kind === 'burst').at(-1)!;
const burstRows = rows.filter((row) => row.scenario === thousand.name);
const correctPeers = burstRows.filter(
  (row) => !ownNames.includes(row.client) && !row.skipped && row.ok === thousand.n && row.errors === 0 && row.hung === 0,
);
const fastestPeer = correctPeers.sort((a, b) => a.wallMs - b.wallMs)[0];
for (const row of burstRows.filter((r) => ownNames.includes(r.client))) {
  targets.push({
    target: `wall time at ${thousand.name} no slower than the fastest peer that ends correctly (${row.client})`,
    met: !fastestPeer || row.wallMs <= fastestPeer.wallMs,
    detail: fastestPeer
      ? `${ms(row.wallMs)} ms vs ${fastestPeer.client} ${ms(fastestPeer.wallMs)} ms (${(row.wallMs / fastestPeer.wallMs).toFixed(2)}×)`
      : 'no peer ended correctly',
  });
}

const ownRelease = release.filter((r) => r.client === own);
const perCall = ownRelease.map((r) => r.usPerCall);
const linear = Math.max(...perCall) / Math.min(...perCall) <= 2 && ownRelease.at(-1)!.usPerCall <= 2 * ownRelease[0]!.usPerCall;
targets.push({
  target: 'linear queue release',
  met: linear,
  detail: ownRelease.map((r) => `${r.size.toLocaleString('en')}: ${r.usPerCall.toFixed(2)} µs/call`).join(', '),
});

const mainSize = sizes[0]!;
targets.push({
  target: 'main entry ≤ 2 kB min+gzip',
  met: mainSize.gzipBytes <= 2_048,
  detail: `${mainSize.gzipBytes.toLocaleString('en')} B min+gzip (${mainSize.entry}, peers external)`,
});
section(
  'Targets for this package (judged on this run)',
  table(
    ['target', 'met', 'measured'],
    targets.map((t) => [t.target, t.met ? 'yes' : 'no', t.detail]),
  ),
);

function ms(value: number): string {
  return value.toFixed(0);
}

// 5. Files
machine.loadAverage.end = Number(loadavg()[0]!.toFixed(2));
const minutes = ((Date.now() - started) / 60_000).toFixed(1);
const header = [
  '# Benchmark results',
  '',
  `Machine: ${machine.nproc} cores (\`nproc\`), ${machine.cpu}, ${machine.memoryGiB} GiB; Node ${machine.node}; ${machine.date}; commit ${machine.commit}; the run took ${minutes} min; 1-minute load average ${machine.loadAverage.start} at the start, ${machine.loadAverage.end} at the end (other work on the machine stretches wall times; counts are unaffected).`,
  '',
  `Rerun: \`npm run bench\` from the repository root (after \`npm ci\`)${quick ? '; this was a `--quick` run' : ''}.`,
  '',
  `Setup: the demo auth server (demo/server/authServer.ts) in its own process on 127.0.0.1, API latency ${settings.apiLatencyMs} ms, refresh latency ${settings.refreshLatencyMs} ms, rotating single-use refresh tokens with reuse detection (the family is revoked), only the newest access token accepted. Every client gets ${CONNECTIONS} keep-alive connections (undici Agent \`connections: ${CONNECTIONS}\` for fetch, http.Agent \`maxSockets: ${CONNECTIONS}\` for axios). Each row starts from a server reset and a new login; the access token is then expired server-side (the client only learns it from a 401, except in known-expiry). A request not settled within 10 s plus the scenario's latency floor plus twice the valid-token baseline counts as hung; the row then stops and cancels it. At burst sizes above 1,000 a client is skipped (with the reason printed) if it hung or failed requests at the previous size, or if its client CPU time projected from the two previous sizes exceeds 20 s: synchronous work cannot be interrupted by a time bound. "wall vs valid token" divides by the same number of requests sent at once with a valid token, measured just before. Production mode (NODE_ENV=production) for every client.`,
  '',
  'Clients:',
  '',
  ...clients.map((client) => `- **${client.name}**: ${client.setup}`),
  '',
  'Scenarios: burst-N (N concurrent requests with the expired token); during-refresh (a second wave starts once the server has received the refresh call, which answers 100 ms late); late-401 (a first wave of at most 32 requests, half the connection pool so that all are in flight at once, at 300 ms API latency, all decided 401 on arrival, then one fast request triggers the refresh, which lands before the slow 401s come back); refresh-revoked (refresh tokens revoked, 10 requests); known-expiry (the client is told the token expires 300 ms after login, the burst starts at 500 ms).',
  '',
];
writeFileSync(here('./results.md'), `${header.join('\n')}\n${out.join('\n')}`);
writeFileSync(
  here('./results.json'),
  `${JSON.stringify({ machine, quick, settings, connections: CONNECTIONS, sizes, budgets, overhead, release, memory, scenarios: specs.map((spec) => ({ ...spec, ideal: idealRow(spec, settings), hangBoundMs: hangBound(spec), rows: rows.filter((row) => row.scenario === spec.name) })), targets }, null, 2)}\n`,
);
log(`\nwrote bench/results.md and bench/results.json (${minutes} min)`);
