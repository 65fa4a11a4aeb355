/**
 * A fault-injecting HTTP proxy on 127.0.0.1, in front of a real server on 127.0.0.1 (the demo auth
 * server). Every fault happens for real, on a real socket: the connection is dropped before the
 * request reaches the server, reset after the server processed it (a refresh token rotated, the
 * client never hears), the answer is delayed, or it is replaced by what a captive portal, a broken
 * proxy or an overloaded gateway sends.
 *
 * Faults are armed per route (a path or a RegExp) for the next N requests, or until `heal()`.
 * Bounded: loopback only, at most `maxRequests` requests, and it closes itself after `lifetimeMs`
 * even if a test forgets to (the timer does not keep the process alive).
 *
 * @example
 * const proxy = await startFaultProxy(server.url);
 * proxy.inject({ kind: 'reset-after-response' }, { path: '/auth/refresh', times: 1 });
 * // the client talks to proxy.url instead of server.url
 */
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type Fault =
  /** Close the client's connection before anything is forwarded: the server never sees the request. */
  | { kind: 'drop' }
  /** Forward, let the server process it and answer, then reset the client's connection (TCP RST) instead of answering. */
  | { kind: 'reset-after-response' }
  /** Forward after `ms`; the server decides when the request reaches it. */
  | { kind: 'delay-request'; ms: number }
  /** Forward at once (the server decides on arrival), hold the answer back for `ms`. */
  | { kind: 'delay-response'; ms: number }
  /** Accept, never forward, never answer, until the client gives up or the proxy closes. */
  | { kind: 'hang' }
  /** Answer `200 text/html` like a captive portal or a login wall; never forward. */
  | { kind: 'html' }
  /** Answer `200 application/json` whose body is not JSON; never forward. */
  | { kind: 'garbage' }
  /** Forward, then send the server's status and headers but only half its body, and cut the connection. */
  | { kind: 'truncate' }
  /** Answer `status` (503 by default) with a small JSON error from "the gateway"; never forward. */
  | { kind: 'status'; status?: number; body?: string; contentType?: string };

export interface FaultRule {
  fault: Fault;
  /** Which requests: a path (exact, query ignored) or a RegExp tested on the path. Every path when omitted. */
  path?: string | RegExp;
  /** Only this method. Every method when omitted. */
  method?: string;
  /** How many matching requests it applies to; `Infinity` (the default) until `heal()`. */
  times?: number;
}

export interface ProxiedRequest {
  method: string;
  path: string;
  /** The fault applied, or 'pass' when the request went through untouched. */
  fault: Fault['kind'] | 'pass';
  /** Whether the upstream server received the request. */
  forwarded: boolean;
  /** The upstream server's status, when it answered. */
  upstreamStatus?: number;
  /** The client's side of it is over: answered, cut, or given up by the client. */
  settled: boolean;
  /** The bearer token it carried, if any (tests only: to tell whose session a request ran in). */
  bearer?: string;
}

export interface FaultProxy {
  /** `http://127.0.0.1:<port>`: point the client here instead of at the server. */
  readonly url: string;
  /** Arms a fault; later rules are checked after earlier ones. Returns a function that removes it. */
  inject(fault: Fault, where?: Omit<FaultRule, 'fault'>): () => void;
  /** Every request dropped: the network is down (the server sees nothing). Same as `inject({ kind: 'drop' })`. */
  offline(where?: Omit<FaultRule, 'fault' | 'times'>): () => void;
  /** Removes every armed fault. */
  heal(): void;
  /** What the proxy saw, oldest first. */
  readonly requests: readonly ProxiedRequest[];
  /** The requests to `path` (exact path). */
  count(path: string, filter?: (request: ProxiedRequest) => boolean): number;
  /** Resolves once `n` requests to `path` have settled (answered or cut); bounded by `timeoutMs`. */
  waitFor(path: string, n?: number, timeoutMs?: number): Promise<void>;
  /** Whether it has closed (by `close()` or at the end of its lifetime). */
  readonly closed: boolean;
  /** Stops listening, cuts every connection and every pending delay. Idempotent. */
  close(): Promise<void>;
}

export interface FaultProxyOptions {
  /** The proxy refuses any request past this many (answers 503 and logs nothing upstream). @default 5_000 */
  maxRequests?: number;
  /** The proxy closes itself after this long. @default 60_000 */
  lifetimeMs?: number;
}

const LOOPBACK = /^http:\/\/127\.0\.0\.1:\d+$/;

const CAPTIVE_PORTAL =
  '<!DOCTYPE html><html><head><title>Sign in to Wi-Fi</title></head><body><h1>Welcome to CafeNet</h1>' +
  '<form method="post" action="/portal/accept"><button>Accept the terms and connect</button></form></body></html>';

export async function startFaultProxy(
  upstream: string,
  { maxRequests = 5_000, lifetimeMs = 60_000 }: FaultProxyOptions = {},
): Promise<FaultProxy> {
  const base = upstream.replace(/\/$/, '');
  if (!LOOPBACK.test(base))
    throw new TypeError(
      `startFaultProxy: upstream must be http://127.0.0.1:<port> (got ${upstream}); this proxy is for tests on loopback only.`,
    );
  const target = new URL(base);

  const rules: Array<FaultRule & { left: number }> = [];
  const requests: ProxiedRequest[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const settledListeners = new Set<() => void>();
  let closed = false;

  const later = (ms: number, task: () => void) => {
    const timer = setTimeout(() => (timers.delete(timer), task()), ms);
    timers.add(timer);
  };

  function take(method: string, path: string): Fault | null {
    for (const rule of rules) {
      if (rule.left <= 0) continue;
      if (rule.method && rule.method.toUpperCase() !== method) continue;
      if (rule.path !== undefined && !(typeof rule.path === 'string' ? rule.path === path : rule.path.test(path))) continue;
      rule.left--;
      return rule.fault;
    }
    return null;
  }

  const settled = () => settledListeners.forEach((listener) => listener());

  /** Forwards `req` with its body; calls back with the complete upstream answer, or null if upstream failed. */
  function forward(
    req: IncomingMessage,
    body: Buffer,
    record: ProxiedRequest,
    done: (answer: { status: number; headers: IncomingMessage['headers']; body: Buffer } | null) => void,
  ) {
    if (closed) return done(null);
    record.forwarded = true;
    const headers = { ...req.headers, host: target.host, connection: 'close' };
    const outgoing = httpRequest({ host: '127.0.0.1', port: Number(target.port), method: req.method, path: req.url, headers }, (answer) => {
      const chunks: Buffer[] = [];
      answer.on('data', (chunk: Buffer) => chunks.push(chunk));
      answer.on('end', () => {
        record.upstreamStatus = answer.statusCode ?? 0;
        done({ status: answer.statusCode ?? 502, headers: answer.headers, body: Buffer.concat(chunks) });
      });
      answer.on('error', () => done(null));
    });
    outgoing.on('error', () => done(null));
    outgoing.end(body);
  }

  function reply(res: ServerResponse, status: number, contentType: string, body: string | Buffer) {
    if (res.destroyed || res.writableEnded) return;
    res
      .writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' })
      .end(body);
  }

  function handle(req: IncomingMessage, res: ServerResponse, body: Buffer) {
    const method = req.method ?? 'GET';
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    if (requests.length >= maxRequests) {
      reply(res, 503, 'text/plain', 'fault proxy: request budget spent');
      return;
    }
    const fault = take(method, path);
    const record: ProxiedRequest = { method, path, fault: fault?.kind ?? 'pass', forwarded: false, settled: false };
    const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (bearer) record.bearer = bearer;
    requests.push(record);
    res.on('close', () => ((record.settled = true), settled()));

    const passThrough = (answer: Parameters<Parameters<typeof forward>[3]>[0]) => {
      if (!answer) return req.socket.destroy();
      if (res.destroyed) return;
      const { connection: _c, 'keep-alive': _k, 'transfer-encoding': _t, ...headers } = answer.headers;
      res.writeHead(answer.status, { ...headers, 'content-length': String(answer.body.length) }).end(answer.body);
    };

    switch (fault?.kind) {
      case undefined:
        return forward(req, body, record, passThrough);
      case 'drop':
        return req.socket.destroy();
      case 'reset-after-response':
        // The server has processed the request (and, for a refresh, rotated the token) and answered
        // the proxy; the client's connection is reset instead of receiving the answer.
        return forward(req, body, record, () => req.socket.resetAndDestroy());
      case 'delay-request':
        return later(fault.ms, () => forward(req, body, record, passThrough));
      case 'delay-response':
        return forward(req, body, record, (answer) => later(fault.ms, () => passThrough(answer)));
      case 'hang':
        return; // the socket stays open; close() or the client ends it
      case 'html':
        return reply(res, 200, 'text/html; charset=utf-8', CAPTIVE_PORTAL);
      case 'garbage':
        return reply(res, 200, 'application/json', '{"accessToken": "eyJhbGciOi\u0000\u0001<<garbage');
      case 'truncate':
        return forward(req, body, record, (answer) => {
          if (!answer || res.destroyed) return req.socket.destroy();
          const half = answer.body.subarray(0, Math.max(1, Math.floor(answer.body.length / 2)));
          res.writeHead(answer.status, {
            'Content-Type': String(answer.headers['content-type'] ?? 'application/json'),
            'Content-Length': String(answer.body.length),
          });
          res.write(half, () => req.socket.destroy());
        });
      case 'status':
        return reply(
          res,
          fault.status ?? 503,
          fault.contentType ?? 'application/json',
          fault.body ?? JSON.stringify({ error: 'service_unavailable' }),
        );
    }
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => handle(req, res, Buffer.concat(chunks)));
  });
  // One request per connection: a dropped or reset connection takes exactly one request with it.
  server.keepAliveTimeout = 1;
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((ready, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => (server.off('error', fail), ready()));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    if (closing) return closing;
    closed = true;
    closing = new Promise<void>((done) => server.close(() => done()));
    for (const timer of timers) clearTimeout(timer);
    timers.clear();
    for (const socket of sockets) socket.destroy();
    clearTimeout(lifetime);
    return closing;
  };
  const lifetime = setTimeout(() => void close(), lifetimeMs);
  lifetime.unref();

  const inject = (fault: Fault, where: Omit<FaultRule, 'fault'> = {}) => {
    const rule = { fault, ...where, left: where.times ?? Infinity };
    rules.push(rule);
    return () => void rules.splice(rules.indexOf(rule) >>> 0, 1);
  };

  const count = (path: string, filter: (request: ProxiedRequest) => boolean = () => true) =>
    requests.filter((r) => r.path === path && filter(r)).length;

  return {
    url,
    inject,
    offline: (where = {}) => inject({ kind: 'drop' }, where),
    heal: () => void rules.splice(0),
    requests,
    count,
    waitFor(path, n = 1, timeoutMs = 5_000) {
      return new Promise<void>((resolve, reject) => {
        const done = () => count(path, (r) => r.settled) >= n;
        const check = () => {
          if (!done()) return;
          settledListeners.delete(check);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(
          () => (
            settledListeners.delete(check),
            reject(new Error(`fault proxy: ${count(path, (r) => r.settled)} of ${n} requests to ${path} settled within ${timeoutMs} ms`))
          ),
          timeoutMs,
        );
        settledListeners.add(check);
        check();
      });
    },
    get closed() {
      return closed;
    },
    close,
  };
}
