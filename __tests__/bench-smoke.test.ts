/**
 * The benchmark's scenarios at small N against the real demo server (in its own process), for this
 * package's client only, so that `npm run bench` cannot rot. Correctness counts only, never times.
 */
import { join } from 'node:path';
import { thisPackage } from '../bench/clients/thisPackage';
import { idealRow, runScenario, scenarioSpecs, type Row, type ScenarioSpec } from '../bench/scenarios';
import { startServerProcess, type BenchServer, type ServerSettings } from '../bench/serverProcess';

jest.setTimeout(30_000);

const settings: ServerSettings = { apiLatencyMs: 5, refreshLatencyMs: 20 };
let server: BenchServer;

beforeAll(async () => {
  server = await startServerProcess(join(__dirname, '..', 'bench', 'server.ts'), settings);
});

afterAll(async () => {
  await server?.close();
});

const run = (spec: ScenarioSpec): Promise<Row> => runScenario(server, thisPackage, spec, { hangBoundMs: 5_000, baseline: false });
const specs = scenarioSpecs([1, 10], 10);
const spec = (kind: ScenarioSpec['kind'], n?: number) => specs.find((s) => s.kind === kind && (n === undefined || s.n === n))!;

/** The counts every scenario must show for this package: one refresh, no waste, nothing stuck. */
function expectIdeal(row: Row, ideal: Row) {
  expect({
    refreshCalls: row.refreshCalls,
    reuseDetections: row.reuseDetections,
    hung: row.hung,
    sentWithReplacedToken: row.sentWithReplacedToken,
    apiRequests: row.apiRequests,
    api401: row.api401,
    ok: row.ok,
    errors: row.errors,
  }).toEqual({
    refreshCalls: ideal.refreshCalls,
    reuseDetections: 0,
    hung: 0,
    sentWithReplacedToken: 0,
    apiRequests: ideal.apiRequests,
    api401: ideal.api401,
    ok: ideal.ok,
    errors: ideal.errors,
  });
}

describe('bench scenarios, this package, small N (counts only)', () => {
  test.each([1, 10])('burst-%i with an expired token: one refresh, every request replayed once, none hung', async (n) => {
    const s = spec('burst', n);
    expectIdeal(await run(s), idealRow(s, settings));
  });

  test('a second wave during the refresh waits for it instead of spending the old token', async () => {
    const s = spec('during-refresh');
    expectIdeal(await run(s), idealRow(s, settings));
  });

  test('late 401s for a token already replaced are replayed without a second refresh', async () => {
    const s = spec('late-401');
    expectIdeal(await run(s), idealRow(s, settings));
  });

  test('a revoked refresh token fails every waiting request after one refresh call, none hung', async () => {
    const s = spec('refresh-revoked');
    expectIdeal(await run(s), idealRow(s, settings));
  });

  test('a known, passed expiry refreshes first: N API requests, one refresh, no 401', async () => {
    const s = spec('known-expiry');
    const row = await run(s);
    expect(row.apiRequests).toBe(s.n);
    expect(row.refreshCalls).toBe(1);
    expectIdeal(row, idealRow(s, settings));
  });
});
