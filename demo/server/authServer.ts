/**
 * A real auth + API server for the demo, the integration tests and the benchmarks: signed JWT access
 * tokens, single-use rotating refresh tokens with reuse detection, and control routes that produce the
 * situations a refresh client must survive (server-side expiry, revocation, slow or failing refreshes).
 *
 * The first-party routes serve both session models: the refresh token in the JSON body (the app keeps
 * it, e.g. in localStorage), or, for a login with `refreshTokenIn: 'cookie'`, in an HttpOnly,
 * `SameSite=Strict`, `Path=/auth` cookie that JavaScript never sees. Both rotate on every refresh,
 * with the same reuse detection.
 *
 * Every decision (401 or 200, rotate or reject) is taken when a request arrives; latency only delays
 * the answer. That is what makes a "late 401" possible: a request sent with the old token just before a
 * refresh is rejected, and the client only learns it after the refresh has already landed.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { extname, resolve, sep } from 'node:path';
import { SignJWT, decodeJwt, jwtVerify, type JWTPayload } from 'jose';

export interface DemoUser {
  username: string;
  password: string;
}

export interface AuthServerOptions {
  /** @default 0 (a free port chosen by the OS) */
  port?: number;
  /** Loopback only: the server hands out tokens for well-known demo passwords. @default '127.0.0.1' */
  host?: '127.0.0.1';
  /** @default 15_000 */
  accessTtlMs?: number;
  /** Lifetime of each refresh token from the moment it is issued. @default 600_000 */
  refreshTtlMs?: number;
  /** Delay before every /api answer (decided at arrival, sent after the delay). @default 0 */
  apiLatencyMs?: number;
  /** Delay before every refresh answer; the rotation itself happens at arrival. @default 0 */
  refreshLatencyMs?: number;
  /** Directory served for any other GET, with SPA fallback to index.html. @default undefined (none) */
  staticDir?: string;
  /** @default [{ username: 'demo', password: 'demo' }] */
  users?: DemoUser[];
  /** Reject an access token once its session has issued a newer one, even if not expired. @default true */
  onlyNewestAccessToken?: boolean;
  /** A spent refresh token presented again revokes its whole session. @default true */
  reuseDetection?: boolean;
  /** When false, /oauth/token refreshes omit refresh_token and the old one stays valid. @default true */
  oauthRotateRefreshTokens?: boolean;
  /** HS256 key, so tests can verify tokens themselves. @default 32 random bytes per server */
  jwtSecret?: string;
  /** Silence the one-line event log (logins, refreshes, logouts, reuse, controls). @default false */
  quiet?: boolean;
}

export interface RequestRecord {
  /** Arrival time, ms since the epoch. */
  at: number;
  method: string;
  path: string;
  status: number;
  /** Generation of the access token carried (API) or issued (login, refresh); null when none. */
  gen: number | null;
  /** The carried access token was older than its session's newest one. */
  replaced: boolean;
}

/** The refresh cookie: HttpOnly, `SameSite=Strict`, sent only to `/auth` (refresh and logout). */
export const REFRESH_COOKIE = 'demo_refresh';

export interface Stats {
  apiRequests: number;
  api401: number;
  apiOk: number;
  /** Calls to /auth/refresh and refresh_token grants at /oauth/token; each ends Ok or Failed. */
  refreshCalls: number;
  refreshOk: number;
  refreshFailed: number;
  /** Of the refresh calls, those that carried the refresh cookie (and no token in the body). */
  cookieRefreshCalls: number;
  reuseDetections: number;
  logins: number;
  /** API requests whose token's session had already moved to a newer generation (on arrival). */
  requestsWithReplacedToken: number;
  requestsWithoutToken: number;
  /** The last 100 auth and API requests, oldest first. */
  recent: RequestRecord[];
}

export interface AuthServerControl {
  /** Reject every access token issued so far as expired; their `exp` claims stay as clients saw them. */
  expireAccessTokens(): void;
  /** Refresh tokens of every session stop working; access tokens stay valid until they expire. */
  revokeRefreshTokens(): void;
  /** Delay the answer to the next refresh call by `ms` (on top of the refresh latency). */
  slowNextRefresh(ms: number): void;
  /** Answer the next `times` refresh calls with `status` and `{ error: 'server_error' }`. */
  failNextRefresh(status?: number, times?: number): void;
  setLatency(latency: { apiMs?: number; refreshMs?: number }): void;
  /** Zero the counters and the recent list only; injected faults, latency and sessions stay. */
  resetStats(): void;
}

export interface AuthServer {
  url: string;
  port: number;
  /** Stops listening, drops keep-alive sockets and pending delays, and resolves promptly. */
  close(): Promise<void>;
  stats(): Stats;
  /** Zeroes the stats and clears injected faults and latency back to the options. Sessions survive. */
  reset(): void;
  control: AuthServerControl;
}

interface Session {
  sid: string;
  username: string;
  /** OAuth client the session was opened by; null for the first-party /auth routes. */
  clientId: string | null;
  scope: string;
  generation: number;
  /** Access tokens up to this generation were expired by the control route. */
  expiredThroughGen: number;
  refreshRevoked: boolean;
  revoked: boolean;
}

interface RefreshRecord {
  sid: string;
  expiresAt: number;
  spent: boolean;
}

/** What a route decided on arrival; the router records it, waits `delayMs`, then sends it. */
interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  delayMs?: number;
  gen?: number | null;
  replaced?: boolean;
}

type Counters = Omit<Stats, 'recent'>;
/** `handle` awaits it inside its try, so a handler may answer at once or later, and throw either way. */
type Handler = (req: IncomingMessage, url: URL) => Reply | Promise<Reply>;

const OAUTH_CLIENTS: ReadonlyArray<{ id: string; secret?: string }> = [
  { id: 'demo-app' },
  { id: 'demo-confidential', secret: 'demo-secret' },
];
const SCOPES = ['profile', 'items'];
const ITEMS = ['Apples', 'Bread', 'Coffee', 'Dates', 'Eggs'].map((name, i) => ({ id: i + 1, name }));
const MAX_BODY_BYTES = 64 * 1024;
const RECENT_LIMIT = 100;
const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.map': 'application/json',
  '.txt': 'text/plain',
  '.woff2': 'font/woff2',
};

class HttpError extends Error {
  constructor(readonly reply: Reply) {
    super(`HTTP ${reply.status}`);
  }
}

const zeroCounters = (): Counters => ({
  apiRequests: 0,
  api401: 0,
  apiOk: 0,
  refreshCalls: 0,
  refreshOk: 0,
  refreshFailed: 0,
  cookieRefreshCalls: 0,
  reuseDetections: 0,
  logins: 0,
  requestsWithReplacedToken: 0,
  requestsWithoutToken: 0,
});

const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

const badRequest = (description: string): HttpError =>
  new HttpError({ status: 400, body: { error: 'invalid_request', error_description: description } });

function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES)
      throw new HttpError({ status: 413, body: { error: 'invalid_request', error_description: 'body too large' } });
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const raw = await readBody(req);
  if (raw.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw badRequest('body is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw badRequest('body must be a JSON object');
  return parsed as Record<string, unknown>;
}

/** RFC 6749 §2.3.1: Basic credentials are form-urlencoded before base64. */
function parseBasic(header: string | undefined): { id: string; secret: string } | null | 'malformed' {
  const encoded = /^Basic\s+(\S+)$/i.exec(header ?? '')?.[1];
  if (!encoded) return null;
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return 'malformed';
  const formDecode = (part: string) => decodeURIComponent(part.replace(/\+/g, ' '));
  try {
    return { id: formDecode(decoded.slice(0, colon)), secret: formDecode(decoded.slice(colon + 1)) };
  } catch {
    return 'malformed';
  }
}

function readCookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return text(decodeURIComponent(part.slice(eq + 1).trim()));
  }
  return undefined;
}

/**
 * `Secure` is left out because the demo serves plain http on 127.0.0.1; a real deployment adds it.
 * `SameSite=Strict` keeps other sites from sending it (no CSRF on /auth/refresh), `Path=/auth`
 * keeps it off every API request, `HttpOnly` keeps it from scripts (an XSS cannot read it).
 */
function refreshCookie(token: string | null, maxAgeS: number): string {
  const value = token === null ? '' : encodeURIComponent(token);
  return `${REFRESH_COOKIE}=${value}; HttpOnly; SameSite=Strict; Path=/auth; Max-Age=${token === null ? 0 : maxAgeS}`;
}

export async function startAuthServer(options: AuthServerOptions = {}): Promise<AuthServer> {
  const {
    port = 0,
    host = '127.0.0.1',
    accessTtlMs = 15_000,
    refreshTtlMs = 600_000,
    apiLatencyMs = 0,
    refreshLatencyMs = 0,
    staticDir,
    users = [{ username: 'demo', password: 'demo' }],
    onlyNewestAccessToken = true,
    reuseDetection = true,
    oauthRotateRefreshTokens = true,
    jwtSecret,
    quiet = false,
  } = options;
  if (host !== '127.0.0.1')
    throw new TypeError(`startAuthServer: host must be '127.0.0.1' (got '${String(host)}'); the demo credentials are public.`);

  // A fresh secret per server: tokens from a previous run (or another test) can never verify here.
  const secret = jwtSecret === undefined ? new Uint8Array(randomBytes(32)) : new TextEncoder().encode(jwtSecret);
  const sessions = new Map<string, Session>();
  const refreshTokens = new Map<string, RefreshRecord>();
  const pending = new Map<NodeJS.Timeout, () => void>();
  let counters = zeroCounters();
  let recent: RequestRecord[] = [];
  let latency = { apiMs: apiLatencyMs, refreshMs: refreshLatencyMs };
  let slowNextMs = 0;
  let failures = { status: 500, times: 0 };
  let closed = false;

  const log = (message: string) => {
    if (!quiet) console.log(`[auth-server] ${message}`);
  };

  // Tracked so close() can cut every delay short instead of waiting out a slow report or refresh.
  function sleep(ms: number): Promise<void> {
    if (ms <= 0 || closed) return Promise.resolve();
    return new Promise((done) => {
      const timer = setTimeout(() => {
        pending.delete(timer);
        done();
      }, ms);
      pending.set(timer, done);
    });
  }

  function issueRefreshToken(sid: string): string {
    const token = randomBytes(32).toString('base64url');
    refreshTokens.set(token, { sid, expiresAt: Date.now() + refreshTtlMs, spent: false });
    return token;
  }

  function openSession(username: string, clientId: string | null, scope: string) {
    const session: Session = {
      sid: randomUUID(),
      username,
      clientId,
      scope,
      generation: 1,
      expiredThroughGen: 0,
      refreshRevoked: false,
      revoked: false,
    };
    sessions.set(session.sid, session);
    counters.logins++;
    log(`login ${username} (session ${session.sid.slice(0, 8)})`);
    return { session, refreshToken: issueRefreshToken(session.sid) };
  }

  function revokeFamily(session: Session) {
    session.revoked = true;
    session.refreshRevoked = true;
  }

  /** Validates and, on success, commits the rotation at once, before any await or delay. */
  function redeem(token: string, clientId: string | null | undefined, rotate: boolean, scope?: string) {
    const fail = (error: 'invalid_grant' | 'invalid_scope', description: string) => ({ ok: false as const, error, description });
    const record = refreshTokens.get(token);
    const session = record && sessions.get(record.sid);
    if (!record || !session) return fail('invalid_grant', 'unknown refresh token');
    if (clientId !== undefined && session.clientId !== clientId) return fail('invalid_grant', 'refresh token was issued to another client');
    if (session.refreshRevoked) return fail('invalid_grant', 'refresh token revoked');
    if (record.spent && reuseDetection) {
      revokeFamily(session);
      counters.reuseDetections++;
      log(`refresh token reuse detected: session ${session.sid.slice(0, 8)} revoked`);
      return fail('invalid_grant', 'refresh token already used; session revoked');
    }
    if (record.spent) return fail('invalid_grant', 'refresh token already used');
    if (record.expiresAt <= Date.now()) return fail('invalid_grant', 'refresh token expired');
    if (scope !== undefined && !scope.split(' ').every((s) => session.scope.split(' ').includes(s))) {
      return fail('invalid_scope', 'scope exceeds the one originally granted');
    }
    session.generation++;
    if (!rotate) return { ok: true as const, session, refreshToken: undefined };
    record.spent = true;
    return { ok: true as const, session, refreshToken: issueRefreshToken(session.sid) };
  }

  async function tokenReply(
    session: Session,
    refreshToken: string | undefined,
    oauth: boolean,
    scope = session.scope,
    inCookie = false,
  ): Promise<Reply> {
    const gen = session.generation;
    const now = Date.now();
    const accessToken = await new SignJWT({ sid: session.sid, gen })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(session.username)
      .setIssuedAt(Math.floor(now / 1000))
      .setExpirationTime(Math.ceil((now + accessTtlMs) / 1000))
      .setJti(randomUUID())
      .sign(secret);
    const expiresIn = Math.max(1, Math.round(accessTtlMs / 1000));
    if (inCookie) {
      const headers: Record<string, string> = refreshToken
        ? { 'Set-Cookie': refreshCookie(refreshToken, Math.round(refreshTtlMs / 1000)) }
        : {};
      return { status: 200, body: { accessToken, expiresIn, tokenType: 'Bearer' }, headers, gen };
    }
    const body = oauth
      ? { access_token: accessToken, token_type: 'Bearer', expires_in: expiresIn, refresh_token: refreshToken, scope }
      : { accessToken, refreshToken, expiresIn, tokenType: 'Bearer' };
    return { status: 200, body, gen };
  }

  async function refresh(token: string | undefined, oauth: boolean, clientId?: string, scope?: string, inCookie = false): Promise<Reply> {
    counters.refreshCalls++;
    if (inCookie) counters.cookieRefreshCalls++;
    const delayMs = latency.refreshMs + slowNextMs;
    slowNextMs = 0;
    const route = oauth ? 'refresh_token grant' : inCookie ? 'refresh (cookie)' : 'refresh';
    const done = (reply: Reply, sid?: string): Reply => {
      counters[reply.status === 200 ? 'refreshOk' : 'refreshFailed']++;
      const body = reply.body as { error?: string; error_description?: string } | undefined;
      const after = delayMs > 0 ? `, answered after ${delayMs} ms` : '';
      log(
        reply.status === 200
          ? `${route} ${reply.status}: session ${sid?.slice(0, 8)} now at token gen ${reply.gen}${after}`
          : `${route} ${reply.status} ${body?.error ?? ''}: ${body?.error_description ?? ''}${after}`,
      );
      return { ...reply, delayMs };
    };
    if (failures.times > 0) {
      failures.times--;
      return done({ status: failures.status, body: { error: 'server_error', error_description: 'failure injected by failNextRefresh' } });
    }
    if (!token) {
      if (oauth) return done({ status: 400, body: { error: 'invalid_request', error_description: 'refresh token missing' } });
      // No body field and no cookie: no session to restore (a first visit, or after logout).
      return done({
        status: 401,
        body: { error: 'invalid_grant', error_description: 'no refresh token: neither a refreshToken field nor the refresh cookie' },
      });
    }
    const outcome = redeem(token, clientId, oauth ? oauthRotateRefreshTokens : true, scope);
    if (!outcome.ok) {
      const reply: Reply = { status: oauth ? 400 : 401, body: { error: outcome.error, error_description: outcome.description } };
      // A dead refresh cookie is removed, so the browser stops sending it.
      return done(inCookie ? { ...reply, headers: { 'Set-Cookie': refreshCookie(null, 0) } } : reply);
    }
    return done(await tokenReply(outcome.session, outcome.refreshToken, oauth, scope, inCookie), outcome.session.sid);
  }

  type Verdict = { ok: true; sub: string; sid: string; gen: number; replaced: boolean } | { ok: false; reply: Reply };

  async function authenticate(header: string | undefined, arrivedAt: number): Promise<Verdict> {
    const token = /^Bearer\s+(\S+)$/i.exec(header ?? '')?.[1];
    if (!token) {
      counters.requestsWithoutToken++;
      return {
        ok: false,
        reply: {
          status: 401,
          headers: { 'WWW-Authenticate': 'Bearer' },
          body: { error: 'unauthorized', error_description: 'missing bearer token' },
        },
      };
    }
    let claims: JWTPayload = {};
    try {
      claims = decodeJwt(token);
    } catch {
      // garbage: jwtVerify below rejects it with the same message as a forged token
    }
    const sub = claims.sub ?? '';
    const sid = typeof claims.sid === 'string' ? claims.sid : '';
    const gen = typeof claims.gen === 'number' ? claims.gen : null;
    // Snapshot now: a refresh landing while the signature is checked must not change this answer.
    const session = sessions.get(sid);
    const seen = session && { ...session };
    const replaced = seen !== undefined && gen !== null && gen < seen.generation;
    const reject = (description: string): Verdict => ({
      ok: false,
      reply: {
        status: 401,
        gen,
        replaced,
        body: { error: 'invalid_token', error_description: description },
        headers: { 'WWW-Authenticate': `Bearer error="invalid_token", error_description="${description}"` },
      },
    });
    const failure = await jwtVerify(token, secret, { algorithms: ['HS256'], currentDate: new Date(arrivedAt) }).then(
      () => null,
      (error: { code?: string }) => error.code ?? 'ERR_JWT_INVALID',
    );
    // jose checks the signature before the claims, so an expired token is still an authentic one.
    if (failure !== null && failure !== 'ERR_JWT_EXPIRED') return reject('token is malformed or its signature is invalid');
    if (replaced) counters.requestsWithReplacedToken++;
    if (!seen || gen === null) return reject('unknown session');
    if (seen.revoked) return reject('session revoked');
    if (failure !== null || gen <= seen.expiredThroughGen) return reject('token expired');
    if (replaced && onlyNewestAccessToken) return reject('token superseded by a newer one');
    return { ok: true, sub, sid, gen, replaced };
  }

  // Each answers with a body, or a promise of one.
  const apiRoutes: Record<string, (who: { sub: string; sid: string; gen: number }, url: URL) => unknown> = {
    '/api/profile': ({ sub }) => ({ username: sub, name: sub === 'demo' ? 'Demo User' : sub, email: `${sub}@example.test` }),
    '/api/items': () => ({ items: ITEMS }),
    '/api/report': async (_who, url) => {
      const ms = Math.min(Math.max(Number(url.searchParams.get('ms') ?? 1500) || 0, 0), 60_000);
      await sleep(ms);
      return { generatedAt: new Date().toISOString(), tookMs: ms, rows: ITEMS.map((item) => ({ ...item, count: item.id * 7 })) };
    },
    '/api/heartbeat': () => ({ ok: true }),
    '/api/echo': ({ sub, gen, sid }) => ({ sub, gen, sid }),
  };

  function findUser(username: unknown, password: unknown): DemoUser | undefined {
    if (typeof username !== 'string' || typeof password !== 'string') return undefined;
    return users.find((user) => user.username === username && safeEqual(user.password, password));
  }

  function oauthError(status: number, error: string, description: string): Reply {
    const headers: Record<string, string> = status === 401 ? { 'WWW-Authenticate': 'Basic realm="demo-oauth", charset="UTF-8"' } : {};
    return { status, headers, body: { error, error_description: description } };
  }

  async function oauthToken(req: IncomingMessage): Promise<Reply> {
    if (!/^application\/x-www-form-urlencoded\b/i.test(req.headers['content-type'] ?? '')) {
      return oauthError(400, 'invalid_request', 'send the body as application/x-www-form-urlencoded');
    }
    const form = new URLSearchParams(await readBody(req));
    const keys = [...form.keys()];
    if (new Set(keys).size !== keys.length) return oauthError(400, 'invalid_request', 'a parameter is repeated');
    const basic = parseBasic(req.headers.authorization);
    if (basic === 'malformed') return oauthError(401, 'invalid_client', 'malformed Basic credentials');
    if (basic && form.has('client_secret')) return oauthError(400, 'invalid_request', 'use one client authentication method, not two');
    if (basic && form.has('client_id') && form.get('client_id') !== basic.id)
      return oauthError(401, 'invalid_client', 'client_id differs from Basic credentials');
    const clientId = basic?.id ?? form.get('client_id') ?? '';
    const clientSecret = basic?.secret ?? form.get('client_secret') ?? '';
    const client = OAUTH_CLIENTS.find((candidate) => candidate.id === clientId);
    if (!client) return oauthError(401, 'invalid_client', clientId ? 'unknown client' : 'client_id missing');
    if (!safeEqual(client.secret ?? '', clientSecret)) return oauthError(401, 'invalid_client', 'client authentication failed');

    const grant = form.get('grant_type');
    const scope = form.get('scope') ?? undefined;
    if (grant === 'refresh_token') return refresh(text(form.get('refresh_token')), true, client.id, scope);
    if (grant !== 'password') {
      return grant
        ? oauthError(400, 'unsupported_grant_type', `grant_type '${grant}' is not supported`)
        : oauthError(400, 'invalid_request', 'grant_type missing');
    }
    const username = text(form.get('username'));
    const password = text(form.get('password'));
    if (!username || !password) return oauthError(400, 'invalid_request', 'username and password are required');
    if (scope !== undefined && !scope.split(' ').every((s) => SCOPES.includes(s)))
      return oauthError(400, 'invalid_scope', `known scopes: ${SCOPES.join(' ')}`);
    const user = findUser(username, password);
    if (!user) return oauthError(400, 'invalid_grant', 'wrong username or password');
    const opened = openSession(user.username, client.id, scope ?? SCOPES.join(' '));
    return tokenReply(opened.session, opened.refreshToken, true);
  }

  const control: AuthServerControl = {
    expireAccessTokens() {
      for (const session of sessions.values()) session.expiredThroughGen = session.generation;
      log('control: every issued access token is now expired');
    },
    revokeRefreshTokens() {
      for (const session of sessions.values()) session.refreshRevoked = true;
      log('control: every refresh token is now revoked');
    },
    slowNextRefresh(ms) {
      slowNextMs = Math.max(0, ms);
      log(`control: next refresh answers after ${ms} ms`);
    },
    failNextRefresh(status = 500, times = 1) {
      failures = { status, times };
      log(`control: next ${times} refresh call(s) fail with ${status}`);
    },
    setLatency({ apiMs = latency.apiMs, refreshMs = latency.refreshMs }) {
      latency = { apiMs: Math.max(0, apiMs), refreshMs: Math.max(0, refreshMs) };
    },
    resetStats() {
      counters = zeroCounters();
      recent = [];
    },
  };

  const stats = (): Stats => ({ ...counters, recent: recent.slice() });
  const reset = () => {
    counters = zeroCounters();
    recent = [];
    latency = { apiMs: apiLatencyMs, refreshMs: refreshLatencyMs };
    slowNextMs = 0;
    failures = { status: 500, times: 0 };
  };

  const bodyNumber = (body: Record<string, unknown>, key: string, fallback: number, min: number, max: number): number => {
    const value = body[key] ?? fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
      throw badRequest(`${key} must be an integer in [${min}, ${max}]`);
    return value;
  };
  const acknowledge = (act: () => void): Reply => (act(), { status: 204 });

  const routes: Record<string, Handler> = {
    'POST /auth/login': async (req) => {
      const body = await readJson(req);
      const user = findUser(body.username, body.password);
      if (!user) return { status: 401, body: { error: 'invalid_credentials', error_description: 'wrong username or password' } };
      if (body.refreshTokenIn !== undefined && body.refreshTokenIn !== 'body' && body.refreshTokenIn !== 'cookie') {
        throw badRequest("refreshTokenIn must be 'body' or 'cookie'");
      }
      const opened = openSession(user.username, null, SCOPES.join(' '));
      if (body.refreshTokenIn === 'cookie') log(`  refresh token in an HttpOnly cookie (${REFRESH_COOKIE}, Path=/auth)`);
      return tokenReply(opened.session, opened.refreshToken, false, undefined, body.refreshTokenIn === 'cookie');
    },
    // The refresh token comes in the JSON body, or else in the cookie; the answer goes back the same way.
    'POST /auth/refresh': async (req) => {
      const fromBody = text((await readJson(req)).refreshToken);
      const fromCookie = fromBody ? undefined : readCookie(req, REFRESH_COOKIE);
      return refresh(fromBody ?? fromCookie, false, undefined, undefined, fromCookie !== undefined);
    },
    'POST /auth/logout': async (req) => {
      const fromBody = text((await readJson(req)).refreshToken);
      const token = fromBody ?? readCookie(req, REFRESH_COOKIE);
      if (!token) throw badRequest('refreshToken missing (no body field, no refresh cookie)');
      const session = sessions.get(refreshTokens.get(token)?.sid ?? '');
      if (session) {
        revokeFamily(session);
        log(`logout: session ${session.sid.slice(0, 8)} revoked`);
      }
      return fromBody ? { status: 204 } : { status: 204, headers: { 'Set-Cookie': refreshCookie(null, 0) } };
    },
    'POST /oauth/token': oauthToken,
    'POST /control/expire': () => acknowledge(() => control.expireAccessTokens()),
    'POST /control/revoke': () => acknowledge(() => control.revokeRefreshTokens()),
    'POST /control/slow-refresh': async (req) => {
      const ms = bodyNumber(await readJson(req), 'ms', -1, 0, 600_000);
      return acknowledge(() => control.slowNextRefresh(ms));
    },
    'POST /control/fail-refresh': async (req) => {
      const body = await readJson(req);
      const status = bodyNumber(body, 'status', 500, 400, 599);
      const times = bodyNumber(body, 'times', 1, 1, 1_000_000);
      return acknowledge(() => control.failNextRefresh(status, times));
    },
    'POST /control/latency': async (req) => {
      const body = await readJson(req);
      const apiMs = bodyNumber(body, 'apiMs', latency.apiMs, 0, 600_000);
      const refreshMs = bodyNumber(body, 'refreshMs', latency.refreshMs, 0, 600_000);
      return acknowledge(() => control.setLatency({ apiMs, refreshMs }));
    },
    'POST /control/reset': () => acknowledge(reset),
    'POST /control/reset-stats': () => acknowledge(() => control.resetStats()),
    'GET /stats': () => ({ status: 200, body: stats() }),
  };
  for (const [path, answer] of Object.entries(apiRoutes)) {
    routes[`GET ${path}`] = async (req, url) => {
      const arrivedAt = Date.now();
      counters.apiRequests++;
      const verdict = await authenticate(req.headers.authorization, arrivedAt);
      const delayMs = latency.apiMs;
      if (!verdict.ok) {
        counters.api401++;
        return { ...verdict.reply, delayMs };
      }
      counters.apiOk++;
      return { status: 200, body: await answer(verdict, url), gen: verdict.gen, replaced: verdict.replaced, delayMs };
    };
  }

  function send(res: ServerResponse, { status, body, headers = {} }: Reply) {
    if (res.writableEnded || res.destroyed) return;
    if (body === undefined) {
      res.writeHead(status, headers).end();
      return;
    }
    const payload = JSON.stringify(body);
    res
      .writeHead(status, {
        'Content-Type': 'application/json; charset=utf-8',
        'Content-Length': Buffer.byteLength(payload),
        'Cache-Control': 'no-store',
        ...headers,
      })
      .end(payload);
  }

  async function serveStatic(res: ServerResponse, root: string, pathname: string, head: boolean) {
    const notFound = { status: 404, body: { error: 'not_found' } };
    let file: string;
    try {
      file = resolve(root, `.${decodeURIComponent(pathname)}`);
    } catch {
      return send(res, notFound);
    }
    if (file !== root && !file.startsWith(root + sep)) return send(res, notFound);
    let data = await readFile(file).catch(() => null);
    // SPA fallback: extensionless paths are client-side routes; a missing asset stays a 404.
    if (!data && !extname(file)) data = await readFile((file = resolve(root, 'index.html'))).catch(() => null);
    if (!data) return send(res, notFound);
    if (res.destroyed) return;
    res.writeHead(200, {
      'Content-Type': MIME[extname(file)] ?? 'application/octet-stream',
      'Content-Length': data.length,
      'Cache-Control': 'no-cache',
    });
    res.end(head ? undefined : data);
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const arrivedAt = Date.now();
    const method = req.method ?? 'GET';
    const route = routes[`${method} ${url.pathname}`];
    if (!route) {
      const reserved = /^\/(api|auth|oauth|control)(\/|$)|^\/stats$/.test(url.pathname);
      if (staticDir && !reserved && (method === 'GET' || method === 'HEAD'))
        return serveStatic(res, resolve(staticDir), url.pathname, method === 'HEAD');
      const known = Object.keys(routes).some((key) => key.endsWith(` ${url.pathname}`));
      return send(res, known ? { status: 405, body: { error: 'method_not_allowed' } } : { status: 404, body: { error: 'not_found' } });
    }
    let reply: Reply;
    try {
      reply = await route(req, url);
    } catch (error) {
      if (!(error instanceof HttpError)) throw error;
      reply = error.reply;
    }
    if (/^\/(api|auth|oauth)\//.test(url.pathname)) {
      recent.push({
        at: arrivedAt,
        method,
        path: url.pathname,
        status: reply.status,
        gen: reply.gen ?? null,
        replaced: reply.replaced ?? false,
      });
      if (recent.length > RECENT_LIMIT) recent.shift();
    }
    await sleep(reply.delayMs ?? 0);
    send(res, reply);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!quiet) console.error('[auth-server] unexpected error', error);
      send(res, { status: 500, body: { error: 'server_error' } });
    });
  });
  await new Promise<void>((ready, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => {
      server.off('error', fail);
      ready();
    });
  });
  const actualPort = (server.address() as AddressInfo).port;

  return {
    url: `http://${host}:${actualPort}`,
    port: actualPort,
    close: () => {
      if (closed) return Promise.resolve();
      closed = true;
      const stopped = new Promise<void>((finish) => server.close(() => finish()));
      server.closeAllConnections();
      for (const [timer, wake] of pending) {
        clearTimeout(timer);
        wake();
      }
      pending.clear();
      return stopped;
    },
    stats,
    reset,
    control,
  };
}
