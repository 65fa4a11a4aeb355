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
 * DPoP (RFC 9449, `dpop` option, demo/server/dpop.ts): a login with a proof opens a session whose
 * tokens are bound to the proof's key (`token_type: DPoP`, `cnf.jkt`), the refresh token included;
 * the API then verifies a proof with every request and refuses the token as Bearer.
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
import { DPOP_ALGS, createDpopVerifier, type DpopErrorCode, type DpopProofInfo } from './dpop';

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
  /**
   * DPoP (RFC 9449). `false`: no DPoP header is looked at, every token is Bearer. `'optional'`: a
   * login with a DPoP proof opens a DPoP-bound session (`token_type: DPoP`, `cnf.jkt` = the proof key's
   * thumbprint, the refresh token bound to the same key); a login without one stays Bearer.
   * `'required'`: every login and refresh needs a proof, and the API accepts no Bearer token.
   * Proofs are checked with the server's nonce (a proof without it: 400 `use_dpop_nonce` at the token
   * routes, 401 `WWW-Authenticate: DPoP error="use_dpop_nonce"` at the API, with `DPoP-Nonce`).
   * @default false
   */
  dpop?: false | 'optional' | 'required';
  /** How long a DPoP nonce lasts; the next request after that gets a new one, and the old one is refused. @default 60_000 */
  dpopNonceTtlMs?: number;
  /** Seconds a proof's `iat` may be off the server's clock. @default 60 */
  dpopIatWindowS?: number;
  /** The server's clock: token issue and expiry, refresh token expiry, the DPoP `iat` window and nonce. @default Date.now */
  now?: () => number;
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
  /** The request's DPoP proof, when it had one (or used the DPoP scheme): what it said and the verdict. */
  dpop?: RequestDpop;
}

export interface RequestDpop {
  jti: string | null;
  nonce: string | null;
  /** null when the proof was accepted; else the error answered (`use_dpop_nonce`, `invalid_dpop_proof`, `invalid_token`). */
  error: string | null;
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
  /** DPoP proofs answered with a nonce challenge (token routes and API). */
  dpopNonceChallenges: number;
  /** Requests refused for DPoP's sake otherwise: a bad proof, a bound token sent as Bearer, another key. */
  dpopRefusals: number;
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
  /** A new DPoP nonce now; proofs with the old one get a nonce challenge. Returns it (no-op and '' without DPoP). */
  rotateDpopNonce(): string;
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
  /** DPoP: the thumbprint of the key its tokens are bound to; null for a Bearer session. */
  jkt: string | null;
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
  dpop?: RequestDpop;
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
  dpopNonceChallenges: 0,
  dpopRefusals: 0,
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
    dpop = false,
    dpopNonceTtlMs = 60_000,
    dpopIatWindowS = 60,
    now = Date.now,
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
  const verifier = dpop ? createDpopVerifier({ now, iatWindowS: dpopIatWindowS, nonceTtlMs: dpopNonceTtlMs }) : null;

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
    refreshTokens.set(token, { sid, expiresAt: now() + refreshTtlMs, spent: false });
    return token;
  }

  function openSession(username: string, clientId: string | null, scope: string, jkt: string | null = null) {
    const session: Session = {
      sid: randomUUID(),
      username,
      clientId,
      scope,
      generation: 1,
      expiredThroughGen: 0,
      refreshRevoked: false,
      revoked: false,
      jkt,
    };
    sessions.set(session.sid, session);
    counters.logins++;
    log(`login ${username} (session ${session.sid.slice(0, 8)})${jkt ? `, DPoP-bound to key ${jkt.slice(0, 8)}` : ''}`);
    return { session, refreshToken: issueRefreshToken(session.sid) };
  }

  function revokeFamily(session: Session) {
    session.revoked = true;
    session.refreshRevoked = true;
  }

  /**
   * Validates and, on success, commits the rotation at once, before any await or delay. `jkt`: the
   * key of the request's DPoP proof (null without one), which must be the session's.
   */
  function redeem(token: string, clientId: string | null | undefined, rotate: boolean, scope?: string, jkt: string | null = null) {
    const fail = (error: 'invalid_grant' | 'invalid_scope' | 'invalid_dpop_proof', description: string, status?: number) => ({
      ok: false as const,
      error,
      description,
      status,
    });
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
    // A DPoP-bound refresh token is only good with a proof of its key, and nothing is spent otherwise.
    if (session.jkt !== null && jkt === null) {
      counters.dpopRefusals++;
      return fail('invalid_dpop_proof', 'this refresh token is DPoP-bound: send a proof', 400);
    }
    if (session.jkt !== jkt) {
      counters.dpopRefusals++;
      return fail(
        'invalid_grant',
        session.jkt === null ? 'this refresh token is not DPoP-bound' : 'the proof key is not the key this refresh token is bound to',
        400,
      );
    }
    if (record.expiresAt <= now()) return fail('invalid_grant', 'refresh token expired');
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
    const issuedAt = now();
    const tokenType = session.jkt === null ? 'Bearer' : 'DPoP';
    const accessToken = await new SignJWT(
      session.jkt === null ? { sid: session.sid, gen } : { sid: session.sid, gen, cnf: { jkt: session.jkt } },
    )
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(session.username)
      .setIssuedAt(Math.floor(issuedAt / 1000))
      .setExpirationTime(Math.ceil((issuedAt + accessTtlMs) / 1000))
      .setJti(randomUUID())
      .sign(secret);
    const expiresIn = Math.max(1, Math.round(accessTtlMs / 1000));
    if (inCookie) {
      const headers: Record<string, string> = refreshToken
        ? { 'Set-Cookie': refreshCookie(refreshToken, Math.round(refreshTtlMs / 1000)) }
        : {};
      return { status: 200, body: { accessToken, expiresIn, tokenType }, headers, gen };
    }
    const body = oauth
      ? { access_token: accessToken, token_type: tokenType, expires_in: expiresIn, refresh_token: refreshToken, scope }
      : { accessToken, refreshToken, expiresIn, tokenType };
    return { status: 200, body, gen };
  }

  async function refresh(
    token: string | undefined,
    oauth: boolean,
    clientId?: string,
    scope?: string,
    inCookie = false,
    jkt: string | null = null,
  ): Promise<Reply> {
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
    const outcome = redeem(token, clientId, oauth ? oauthRotateRefreshTokens : true, scope, jkt);
    if (!outcome.ok) {
      const reply: Reply = {
        status: outcome.status ?? (oauth ? 400 : 401),
        body: { error: outcome.error, error_description: outcome.description },
      };
      // A dead refresh cookie is removed, so the browser stops sending it.
      return done(inCookie ? { ...reply, headers: { 'Set-Cookie': refreshCookie(null, 0) } } : reply);
    }
    return done(await tokenReply(outcome.session, outcome.refreshToken, oauth, scope, inCookie), outcome.session.sid);
  }

  type Verdict = { ok: true; sub: string; sid: string; gen: number; replaced: boolean; dpop?: RequestDpop } | { ok: false; reply: Reply };

  /** A 401 with a DPoP challenge (RFC 9449 §7.1); its `DPoP-Nonce` is added by `handle`. */
  function dpopRefusal(
    error: DpopErrorCode | 'invalid_token',
    description: string,
    base: Reply = { status: 401 },
    proof?: Partial<DpopProofInfo>,
  ): Verdict {
    if (error === 'use_dpop_nonce') counters.dpopNonceChallenges++;
    else counters.dpopRefusals++;
    return {
      ok: false,
      reply: {
        ...base,
        status: 401,
        body: { error, error_description: description },
        headers: {
          'WWW-Authenticate': `DPoP error="${error}", error_description="${description.replace(/"/g, "'")}", algs="${DPOP_ALGS.join(' ')}"`,
        },
        dpop: { jti: proof?.jti ?? null, nonce: proof?.nonce ?? null, error },
      },
    };
  }

  /**
   * An API request's `Authorization` (and, with the DPoP scheme, its proof): Bearer as ever for a
   * Bearer token; a DPoP-bound token only with the DPoP scheme and a proof of its key.
   */
  async function authorize(req: IncomingMessage, arrivedAt: number): Promise<Verdict> {
    const header = req.headers.authorization;
    const dpopToken = verifier ? /^DPoP\s+(\S+)$/i.exec(header ?? '')?.[1] : undefined;
    if (dpopToken === undefined) {
      const verdict = await authenticate(header, arrivedAt);
      const bound = verdict.ok ? sessions.get(verdict.sid)?.jkt : boundKey(header);
      if (verifier && header && (bound || dpop === 'required'))
        return dpopRefusal(
          'invalid_token',
          'a DPoP-bound token needs the DPoP scheme and a proof',
          verdict.ok ? { status: 401, gen: verdict.gen, replaced: verdict.replaced } : verdict.reply,
        );
      if (!verdict.ok && dpop === 'required' && !header)
        verdict.reply.headers = { 'WWW-Authenticate': `DPoP algs="${DPOP_ALGS.join(' ')}"` };
      return verdict;
    }
    const check = await verifier!.verify(req, dpopToken);
    if (!check.ok) return dpopRefusal(check.error, check.description, undefined, check.proof);
    const { proof } = check;
    const record: RequestDpop = { jti: proof.jti, nonce: proof.nonce, error: null };
    const verdict = await authenticate(`Bearer ${dpopToken}`, arrivedAt);
    if (!verdict.ok) {
      const description = (verdict.reply.body as { error_description?: string }).error_description ?? 'invalid token';
      return dpopRefusal('invalid_token', description, verdict.reply, proof);
    }
    const jkt = sessions.get(verdict.sid)?.jkt ?? null;
    const seen = { status: 401, gen: verdict.gen, replaced: verdict.replaced };
    if (jkt === null) return dpopRefusal('invalid_token', 'the token is not DPoP-bound: send it as Bearer', seen, proof);
    if (jkt !== proof.jkt) return dpopRefusal('invalid_dpop_proof', 'the proof key is not the key the token is bound to', seen, proof);
    return { ...verdict, dpop: record };
  }

  /** The `cnf.jkt` a token claims, unverified: enough to refuse it as Bearer, never to accept it. */
  function boundKey(header: string | undefined): string | undefined {
    const token = /^\S+\s+(\S+)$/.exec(header ?? '')?.[1];
    try {
      const cnf = token ? (decodeJwt(token).cnf as { jkt?: unknown } | undefined) : undefined;
      return typeof cnf?.jkt === 'string' ? cnf.jkt : undefined;
    } catch {
      return undefined;
    }
  }

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

  /**
   * The DPoP proof of a login or refresh (RFC 9449 §5): `jkt` null without one (when none is
   * required); a refused proof is a 400 with the OAuth error, `use_dpop_nonce` for a missing or old
   * nonce (`handle` adds the `DPoP-Nonce` to use).
   */
  async function tokenRouteProof(req: IncomingMessage): Promise<{ jkt: string | null; dpop?: RequestDpop } | { reply: Reply }> {
    if (!verifier) return { jkt: null };
    if (req.headers.dpop === undefined) {
      if (dpop !== 'required') return { jkt: null };
      counters.dpopRefusals++;
      return { reply: { status: 400, body: { error: 'invalid_dpop_proof', error_description: 'a DPoP proof is required' } } };
    }
    const check = await verifier.verify(req);
    if (!check.ok) {
      if (check.error === 'use_dpop_nonce') counters.dpopNonceChallenges++;
      else counters.dpopRefusals++;
      log(`DPoP proof refused at ${req.url}: ${check.error} (${check.description})`);
      return {
        reply: {
          status: 400,
          body: { error: check.error, error_description: check.description },
          dpop: { jti: check.proof?.jti ?? null, nonce: check.proof?.nonce ?? null, error: check.error },
        },
      };
    }
    return { jkt: check.proof.jkt, dpop: { jti: check.proof.jti, nonce: check.proof.nonce, error: null } };
  }

  /** `reply` with the proof's record (the recent list shows which proof it answered). */
  const withProof = (reply: Reply, dpop: RequestDpop | undefined): Reply => {
    if (!dpop) return reply;
    const refused = reply.status >= 400 ? ((reply.body as { error?: string } | undefined)?.error ?? String(reply.status)) : null;
    return { ...reply, dpop: { ...dpop, error: refused } };
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
    const proof = grant === 'refresh_token' || grant === 'password' ? await tokenRouteProof(req) : { jkt: null };
    if ('reply' in proof) return proof.reply;
    if (grant === 'refresh_token')
      return withProof(await refresh(text(form.get('refresh_token')), true, client.id, scope, false, proof.jkt), proof.dpop);
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
    const opened = openSession(user.username, client.id, scope ?? SCOPES.join(' '), proof.jkt);
    return withProof(await tokenReply(opened.session, opened.refreshToken, true), proof.dpop);
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
    rotateDpopNonce() {
      if (!verifier) return '';
      log('control: new DPoP nonce; proofs with the old one get a nonce challenge');
      return verifier.rotateNonce();
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
    // With a DPoP proof (dpop option): a session whose tokens are bound to the proof's key.
    'POST /auth/login': async (req) => {
      const body = await readJson(req);
      const proof = await tokenRouteProof(req);
      if ('reply' in proof) return proof.reply;
      const user = findUser(body.username, body.password);
      if (!user)
        return withProof(
          { status: 401, body: { error: 'invalid_credentials', error_description: 'wrong username or password' } },
          proof.dpop,
        );
      if (body.refreshTokenIn !== undefined && body.refreshTokenIn !== 'body' && body.refreshTokenIn !== 'cookie') {
        throw badRequest("refreshTokenIn must be 'body' or 'cookie'");
      }
      const opened = openSession(user.username, null, SCOPES.join(' '), proof.jkt);
      if (body.refreshTokenIn === 'cookie') log(`  refresh token in an HttpOnly cookie (${REFRESH_COOKIE}, Path=/auth)`);
      return withProof(
        await tokenReply(opened.session, opened.refreshToken, false, undefined, body.refreshTokenIn === 'cookie'),
        proof.dpop,
      );
    },
    // The refresh token comes in the JSON body, or else in the cookie; the answer goes back the same way.
    // A nonce challenge is answered before the refresh is counted: the retry that follows is the call.
    'POST /auth/refresh': async (req) => {
      const fromBody = text((await readJson(req)).refreshToken);
      const proof = await tokenRouteProof(req);
      if ('reply' in proof) return proof.reply;
      const fromCookie = fromBody ? undefined : readCookie(req, REFRESH_COOKIE);
      return withProof(await refresh(fromBody ?? fromCookie, false, undefined, undefined, fromCookie !== undefined, proof.jkt), proof.dpop);
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
    'POST /control/rotate-nonce': () => acknowledge(() => control.rotateDpopNonce()),
    'POST /control/reset': () => acknowledge(reset),
    'POST /control/reset-stats': () => acknowledge(() => control.resetStats()),
    'GET /stats': () => ({ status: 200, body: stats() }),
  };
  for (const [path, answer] of Object.entries(apiRoutes)) {
    routes[`GET ${path}`] = async (req, url) => {
      const arrivedAt = now();
      counters.apiRequests++;
      const verdict = await authorize(req, arrivedAt);
      const delayMs = latency.apiMs;
      if (!verdict.ok) {
        counters.api401++;
        return { ...verdict.reply, delayMs };
      }
      counters.apiOk++;
      return { status: 200, body: await answer(verdict, url), gen: verdict.gen, replaced: verdict.replaced, delayMs, dpop: verdict.dpop };
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
    const arrivedAt = now();
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
        ...(reply.dpop ? { dpop: reply.dpop } : {}),
      });
      if (recent.length > RECENT_LIMIT) recent.shift();
    }
    // Every answer to a DPoP request says the nonce to use next (RFC 9449 §8), on the server's clock.
    if (verifier && (req.headers.dpop !== undefined || /^DPoP\s/i.test(req.headers.authorization ?? '')))
      reply = { ...reply, headers: { ...reply.headers, 'DPoP-Nonce': verifier.nonce(), Date: new Date(now()).toUTCString() } };
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
