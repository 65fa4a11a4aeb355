/**
 * The parent's handle on bench/server.ts: forks it under tsx, then drives it over HTTP on a pool of
 * its own (control traffic never takes a connection from the client under test).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { Agent, request } from 'undici';

export interface ServerSettings {
  apiLatencyMs: number;
  refreshLatencyMs: number;
  /** Long enough that no row outlives its tokens by the clock: expiry in a row comes from /control/expire. */
  accessTtlMs?: number;
}

/** The subset of the demo server's `Stats` the tables use. */
export interface ServerStats {
  apiRequests: number;
  api401: number;
  apiOk: number;
  refreshCalls: number;
  refreshOk: number;
  refreshFailed: number;
  reuseDetections: number;
  requestsWithReplacedToken: number;
  requestsWithoutToken: number;
}

export interface LoginTokens {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
}

export interface BenchServer {
  readonly url: string;
  readonly settings: ServerSettings;
  stats(): Promise<ServerStats>;
  /**
   * Waits until the server has seen no new request for `quietMs` (at most `maxMs`): a row that
   * hung leaves requests the server is still working through, which must not land in the next row.
   */
  quiesce(quietMs?: number, maxMs?: number): Promise<void>;
  /** Zero the counters, clear injected faults, latency back to `settings`. */
  reset(): Promise<void>;
  login(): Promise<LoginTokens>;
  expireAccessTokens(): Promise<void>;
  revokeRefreshTokens(): Promise<void>;
  slowNextRefresh(ms: number): Promise<void>;
  setLatency(latency: { apiMs?: number; refreshMs?: number }): Promise<void>;
  close(): Promise<void>;
}

/**
 * @param script absolute path of bench/server.ts (callers know it: `import.meta.url` in ESM,
 * `__dirname` under jest's CJS transform).
 */
export async function startServerProcess(script: string, settings: ServerSettings): Promise<BenchServer> {
  const options = {
    apiLatencyMs: settings.apiLatencyMs,
    refreshLatencyMs: settings.refreshLatencyMs,
    accessTtlMs: settings.accessTtlMs ?? 600_000,
    onlyNewestAccessToken: true,
    reuseDetection: true,
  };
  const child: ChildProcess = fork(script, [JSON.stringify(options)], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('bench server did not start within 30 s')), 30_000);
    child.once('message', (message) => {
      clearTimeout(timer);
      resolve((message as { url: string }).url);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`bench server exited with code ${code} before listening`));
    });
  });
  const control = new Agent({ connections: 4 });

  /**
   * Control calls are retried on a dropped socket: the server may close an idle keep-alive socket
   * just as a call goes out on it. Every control call is safe to repeat.
   */
  async function call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await callOnce<T>(method, path, body);
      } catch (error) {
        const code = (error as { code?: string }).code ?? '';
        if (attempt >= 3 || !/^(UND_ERR_SOCKET|ECONNRESET|EPIPE|UND_ERR_CLOSED)$/.test(code)) throw error;
      }
    }
  }

  async function callOnce<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const response = await request(`${url}${path}`, {
      method,
      dispatcher: control,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.body.text();
    if (response.statusCode >= 400) throw new Error(`${method} ${path}: HTTP ${response.statusCode} ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  return {
    url,
    settings,
    stats: () => call<ServerStats>('GET', '/stats'),
    async quiesce(quietMs = 100, maxMs = 15_000) {
      const seen = (stats: ServerStats) => stats.apiRequests + stats.refreshCalls;
      const deadline = performance.now() + maxMs;
      let last = seen(await call<ServerStats>('GET', '/stats'));
      while (performance.now() < deadline) {
        await new Promise((done) => setTimeout(done, quietMs));
        const now = seen(await call<ServerStats>('GET', '/stats'));
        if (now === last) return;
        last = now;
      }
    },
    reset: () => call('POST', '/control/reset'),
    login: () => call<LoginTokens>('POST', '/auth/login', { username: 'demo', password: 'demo' }),
    expireAccessTokens: () => call('POST', '/control/expire'),
    revokeRefreshTokens: () => call('POST', '/control/revoke'),
    slowNextRefresh: (ms) => call('POST', '/control/slow-refresh', { ms }),
    setLatency: (latency) => call('POST', '/control/latency', latency),
    close: async () => {
      await control.close().catch(() => undefined);
      if (child.exitCode !== null) return;
      const exited = new Promise<void>((done) => child.once('exit', () => done()));
      child.disconnect();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
