/**
 * The benchmark summary of docs/benchmarks.md, made from bench/results.json so that no figure is typed by hand:
 * `npx tsx bench/summary.ts` prints it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

interface Row {
  client: string;
  refreshCalls?: number;
  reuseDetections?: number;
  hung?: number;
  errors?: number;
  ok?: number;
  sentWithReplacedToken?: number;
  apiRequests?: number;
  api401?: number;
  wallMs?: number;
  skipped?: string;
  skip?: string;
}
interface Scenario {
  name: string;
  ideal: Row;
  rows: Row[];
}

const results = JSON.parse(readFileSync(join(import.meta.dirname, 'results.json'), 'utf8')) as {
  machine: Record<string, unknown>;
  scenarios: Scenario[];
  sizes: Array<{ entry: string; gzipBytes: number }>;
};

const keys = ['refreshCalls', 'reuseDetections', 'hung', 'errors', 'ok', 'sentWithReplacedToken', 'apiRequests', 'api401'] as const;
const isIdeal = (row: Row, ideal: Row) => keys.every((key) => row[key] === ideal[key]);
const shown = ['burst-1000', 'during-refresh', 'late-401', 'refresh-revoked', 'known-expiry'];
const scenarios = results.scenarios.filter((s) => shown.some((name) => s.name.startsWith(name)));
const clients = scenarios[0]!.rows.map((row) => row.client);

const cell = (scenario: Scenario, client: string): string => {
  const row = scenario.rows.find((r) => r.client === client);
  if (!row || row.skipped !== undefined || row.skip !== undefined) return 'skipped';
  const faults = [
    row.refreshCalls !== scenario.ideal.refreshCalls && `${row.refreshCalls} refreshes`,
    row.reuseDetections && `${row.reuseDetections} reuse`,
    row.hung && `${row.hung} hung`,
    row.errors !== scenario.ideal.errors && `${row.errors} errors`,
    row.sentWithReplacedToken && `${row.sentWithReplacedToken} old-token`,
    row.apiRequests !== scenario.ideal.apiRequests && `${row.apiRequests} sent`,
  ].filter(Boolean);
  const ok = isIdeal(row, scenario.ideal);
  const wall = scenario.name.startsWith('burst') && row.wallMs !== undefined ? ` ${Math.round(row.wallMs)} ms` : '';
  return (ok ? '✔' : `✘ ${faults.join(', ') || 'counts differ'}`) + wall;
};

const { date, nproc, cpu, node } = results.machine as { date?: string; nproc?: number; cpu?: string; node?: string };
console.log(
  `Latest run: ${date?.slice(0, 10)}, ${nproc} cores (${cpu}), Node ${node}. ✔ = the ideal counts (one refresh, nothing hung, no reuse detection, nothing sent with a replaced token, no extra request); ✘ says what differed.\n`,
);
console.log(`| client | ${scenarios.map((s) => s.name).join(' | ')} |`);
console.log(`|---|${scenarios.map(() => '---').join('|')}|`);
for (const client of clients) console.log(`| ${client} | ${scenarios.map((s) => cell(s, client)).join(' | ')} |`);
const main = results.sizes[0];
if (main)
  console.log(
    `\nMain entry: ${main.gzipBytes.toLocaleString('en')} B min+gzip (${main.entry}); the full tables, costs and sizes are in bench/results.md.`,
  );
