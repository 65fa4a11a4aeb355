/**
 * The scenarios, as functions both `run.ts` and the smoke test call: each prepares the server (fresh
 * login, then expire / revoke / slow down), drives one client, and reads what the server saw. No
 * figure here is assumed; the ideal row is derived from the scenario's shape, not measured.
 */
import type { BenchServer, ServerStats } from './serverProcess';
import type { BenchClient, BenchTokens, ClientFactory } from './clients/types';
import { CONNECTIONS } from './transport';

export interface ScenarioSpec {
  /** e.g. burst-1000 */
  name: string;
  kind: 'burst' | 'during-refresh' | 'late-401' | 'refresh-revoked' | 'known-expiry';
  /** Requests per wave. */
  n: number;
}

export interface Row {
  scenario: string;
  client: string;
  refreshCalls: number;
  reuseDetections: number;
  /** API requests the server saw (refresh calls not included). */
  apiRequests: number;
  api401: number;
  ok: number;
  errors: number;
  hung: number;
  /** API requests that arrived with an access token their session had already replaced. */
  sentWithReplacedToken: number;
  /** First request sent to last request settled; the bound when something hung. */
  wallMs: number;
  /** The same number of requests, sent at once with a valid token. */
  baselineMs?: number;
  ratio?: number;
  /** CPU time of the client process (user + system) during the row, baseline excluded. */
  clientCpuMs?: number;
  /** Why the row was not run (the counts are then zero). */
  skipped?: string;
  /** The hang bound this row ran with. */
  hangBoundMs?: number;
  /** Wall ms of each run when the row is the median of several. */
  runs?: number[];
}

export interface RunOptions {
  /**
   * A request not settled this long after the row started counts as hung. With the baseline on,
   * the bound becomes at least `hangBoundMs` plus twice the baseline's wall time: the scenario sends
   * about twice the requests, and a slow server or client is not a hang.
   */
  hangBoundMs: number;
  /** Also run the valid-token baseline for the wall ratio. @default true */
  baseline?: boolean;
}

/** Extra delay on the refresh in during-refresh, so the second wave surely starts while it runs. */
const DURING_REFRESH_EXTRA_MS = 100;
/** API latency of the slow first wave in late-401: its 401s come back after the refresh landed. */
const LATE_WAVE_LATENCY_MS = 300;
/** known-expiry: the token is announced to expire this soon after login, and the burst waits past it. */
const KNOWN_EXPIRY_IN_MS = 300;
const KNOWN_EXPIRY_WAIT_MS = 500;

export const scenarioSpecs = (bursts: number[], n: number): ScenarioSpec[] => [
  ...bursts.map((size): ScenarioSpec => ({ name: `burst-${size}`, kind: 'burst', n: size })),
  { name: `during-refresh (2×${n})`, kind: 'during-refresh', n },
  // The slow wave must be in flight all at once: no larger than half the connection pool.
  { name: `late-401 (${Math.min(n, CONNECTIONS / 2)}+1)`, kind: 'late-401', n: Math.min(n, CONNECTIONS / 2) },
  { name: 'refresh-revoked (10)', kind: 'refresh-revoked', n: 10 },
  { name: `known-expiry (${n})`, kind: 'known-expiry', n },
];

/** How many requests the callers make in a scenario. */
export function requestCount(spec: ScenarioSpec): number {
  if (spec.kind === 'during-refresh') return 2 * spec.n;
  if (spec.kind === 'late-401') return spec.n + 1;
  return spec.n;
}

/** What a perfect client does: one refresh, and no request more than the scenario forces. */
export function idealRow(spec: ScenarioSpec, server: BenchServer['settings']): Row {
  const n = requestCount(spec);
  const api = server.apiLatencyMs;
  const refresh = server.refreshLatencyMs;
  const base = { scenario: spec.name, client: 'ideal', refreshCalls: 1, reuseDetections: 0, hung: 0, sentWithReplacedToken: 0 };
  switch (spec.kind) {
    case 'burst': // every request meets the expired token once, then is replayed once
      return { ...base, apiRequests: 2 * n, api401: n, ok: n, errors: 0, wallMs: 2 * api + refresh };
    case 'during-refresh': // the second wave waits for the refresh instead of spending the old token
      return { ...base, apiRequests: 3 * spec.n, api401: spec.n, ok: n, errors: 0, wallMs: 2 * api + refresh + DURING_REFRESH_EXTRA_MS };
    case 'late-401': // the late 401s are for a token already replaced: replayed, no second refresh
      return { ...base, apiRequests: 2 * n, api401: n, ok: n, errors: 0, wallMs: LATE_WAVE_LATENCY_MS + api };
    case 'refresh-revoked': // one refresh fails, every caller gets an error, nobody hangs
      return { ...base, apiRequests: n, api401: n, ok: 0, errors: n, wallMs: api + refresh };
    case 'known-expiry': // refresh first, send each request once with the new token
      return { ...base, apiRequests: n, api401: 0, ok: n, errors: 0, wallMs: refresh + api };
  }
}

const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

/** Polls the server until `ready(stats)` or `timeoutMs`; answers whether it got ready. */
async function until(server: BenchServer, ready: (stats: ServerStats) => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (ready(await server.stats())) return true;
    await sleep(2);
  }
  return false;
}

interface Outcome {
  ok: number;
  errors: number;
  hung: number;
  wallMs: number;
}

/**
 * Tracks requests: each settles as ok or error, or is hung at the bound. Resolves when all settled
 * or the bound passed, whichever first; a hung client never stalls the run.
 */
class Tracker {
  private readonly started = performance.now();
  private ok = 0;
  private errors = 0;
  private total = 0;
  private lastSettled = this.started;
  private wake: (() => void) | undefined;

  track(request: Promise<unknown>): void {
    this.total++;
    request.then(
      () => this.settled('ok'),
      () => this.settled('error'),
    );
  }

  private settled(how: 'ok' | 'error'): void {
    if (how === 'ok') this.ok++;
    else this.errors++;
    this.lastSettled = performance.now();
    if (this.ok + this.errors === this.total) this.wake?.();
  }

  async done(boundMs: number): Promise<Outcome> {
    const remaining = boundMs - (performance.now() - this.started);
    if (this.ok + this.errors < this.total && remaining > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.wake = () => (clearTimeout(timer), resolve());
      });
    }
    const hung = this.total - this.ok - this.errors;
    return { ok: this.ok, errors: this.errors, hung, wallMs: hung ? boundMs : this.lastSettled - this.started };
  }
}

let requestSerial = 0;
const nextPath = () => `/api/echo?i=${requestSerial++}`;

function wave(client: BenchClient, tracker: Tracker, n: number): void {
  for (let i = 0; i < n; i++) tracker.track(client.request(nextPath()));
}

async function freshClient(server: BenchServer, factory: ClientFactory, expiresAt?: number): Promise<BenchClient> {
  await server.quiesce();
  await server.reset();
  const login = await server.login();
  const tokens: BenchTokens = { accessToken: login.accessToken, refreshToken: login.refreshToken };
  if (expiresAt !== undefined) tokens.expiresAt = expiresAt;
  return factory.create({ baseUrl: server.url, tokens });
}

/** The same number of requests with a valid token: what the scenario costs without any refresh. */
async function baselineMs(server: BenchServer, factory: ClientFactory, n: number, hangBoundMs: number): Promise<number | undefined> {
  const client = await freshClient(server, factory);
  try {
    const tracker = new Tracker();
    wave(client, tracker, n);
    const outcome = await tracker.done(hangBoundMs);
    return outcome.hung || outcome.errors ? undefined : outcome.wallMs;
  } finally {
    await client.dispose();
  }
}

/** Runs one scenario for one client on a freshly reset server and a fresh login. */
export async function runScenario(server: BenchServer, factory: ClientFactory, spec: ScenarioSpec, options: RunOptions): Promise<Row> {
  const baseline =
    options.baseline === false
      ? undefined
      : await baselineMs(server, factory, requestCount(spec), options.hangBoundMs + 2 * requestCount(spec));
  const hangBoundMs = options.hangBoundMs + 2 * (baseline ?? 0);

  const knownExpiry = spec.kind === 'known-expiry';
  const cpu = process.cpuUsage();
  const client = await freshClient(server, factory, knownExpiry ? Date.now() + KNOWN_EXPIRY_IN_MS : undefined);
  let outcome: Outcome;
  let stats: ServerStats;
  try {
    if (knownExpiry) await sleep(KNOWN_EXPIRY_WAIT_MS);
    if (spec.kind === 'refresh-revoked') await server.revokeRefreshTokens();
    await server.expireAccessTokens();

    const tracker = new Tracker();
    switch (spec.kind) {
      case 'burst':
      case 'refresh-revoked':
      case 'known-expiry':
        wave(client, tracker, spec.n);
        break;
      case 'during-refresh':
        await server.slowNextRefresh(DURING_REFRESH_EXTRA_MS);
        wave(client, tracker, spec.n);
        // The second wave starts once the server has seen the refresh arrive (it answers later).
        await until(server, (s) => s.refreshCalls > 0, hangBoundMs / 2);
        wave(client, tracker, spec.n);
        break;
      case 'late-401':
        // A slow first wave with the old token; once the server has decided all of them (401), a
        // fast request triggers the refresh, which lands before the slow 401s come back.
        await server.setLatency({ apiMs: LATE_WAVE_LATENCY_MS });
        wave(client, tracker, spec.n);
        // Decided, not just arrived: the server reads the latency after checking the token.
        await until(server, (s) => s.api401 + s.apiOk >= spec.n, hangBoundMs / 2);
        await server.setLatency({ apiMs: server.settings.apiLatencyMs });
        wave(client, tracker, 1);
        break;
    }
    outcome = await tracker.done(hangBoundMs);
    stats = await server.stats();
  } finally {
    await client.dispose();
  }
  const cpuUsed = process.cpuUsage(cpu);
  return {
    scenario: spec.name,
    client: factory.name,
    refreshCalls: stats.refreshCalls,
    reuseDetections: stats.reuseDetections,
    apiRequests: stats.apiRequests,
    api401: stats.api401,
    ok: outcome.ok,
    errors: outcome.errors,
    hung: outcome.hung,
    sentWithReplacedToken: stats.requestsWithReplacedToken,
    wallMs: outcome.wallMs,
    baselineMs: baseline,
    ratio: baseline ? outcome.wallMs / baseline : undefined,
    clientCpuMs: (cpuUsed.user + cpuUsed.system) / 1000,
    hangBoundMs,
  };
}

/** A row for a client not run in a scenario, with the reason. */
export function skippedRow(spec: ScenarioSpec, factory: ClientFactory, reason: string): Row {
  return {
    scenario: spec.name,
    client: factory.name,
    refreshCalls: 0,
    reuseDetections: 0,
    apiRequests: 0,
    api401: 0,
    ok: 0,
    errors: 0,
    hung: 0,
    sentWithReplacedToken: 0,
    wallMs: 0,
    skipped: reason,
  };
}
