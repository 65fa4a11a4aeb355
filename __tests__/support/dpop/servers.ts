/**
 * The DPoP test servers for jest: authServer.mjs (oidc-provider, ESM-only, so a child process) and
 * resourceServer.mjs, both on 127.0.0.1, started with this Node (`process.execPath`) and stopped
 * by `stop()` (their stdin closes; each also exits on its own after `lifetimeSeconds`).
 *
 * `login(keyPair)` signs in without a browser through the real authorization code flow with PKCE:
 * GET /auth → the dev interactions' login and consent forms (POSTed as a browser would, cookies
 * kept in a small jar) → the redirect with `?code` → POST /token with a DPoP proof of `keyPair`
 * (and the nonce the server asks for), so the refresh token is bound to that key.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { dpopProof } from './proof';

export interface DpopServersOptions {
  /** Access token lifetime. @default 5 */
  accessTokenTtlSeconds?: number;
  /** @default 86400 */
  refreshTokenTtlSeconds?: number;
  /** The resource server rotates its nonce after every N protected requests (the previous stays valid until the next). @default 0: only `rotateNonce()` */
  rsNonceEvery?: number;
  /** The resource server's accepted `iat` distance. @default 60 */
  rsIatWindowSeconds?: number;
  /** Seconds added to the resource server's clock (for `iat` and the access token's `exp`). @default 0 */
  rsClockOffsetSeconds?: number;
  /** The client's redirect URIs (the first is used by `login`). @default ['http://127.0.0.1/callback'] */
  redirectUris?: string[];
  /** Both servers exit on their own after this long. @default 120 */
  lifetimeSeconds?: number;
}

/** The token endpoint's answer, plus the last `DPoP-Nonce` it sent. */
export interface TokenResponse {
  access_token: string;
  refresh_token: string;
  token_type: string;
  expires_in: number;
  scope: string;
  /** The authorization server's nonce to use next: the answer's `DPoP-Nonce`, else the one the exchange used. */
  dpopNonce: string | null;
}

/** What the resource server saw of one protected request (GET /control/log). */
export interface RsLogEntry {
  at: string;
  method: string;
  path: string;
  /** The Authorization scheme as sent, `null` without the header. */
  scheme: string | null;
  jti: string | null;
  /** The proof's nonce. */
  nonce: string | null;
  nonceOk: boolean;
  /** `null` where the check did not get that far. */
  athOk: boolean | null;
  jktOk: boolean | null;
  iat?: number;
  sub?: string | null;
  status: number;
  /** `ok`, `no_token`, `not_found`, `invalid_request` or the 401's error code. */
  outcome: string;
  description?: string;
}

export interface DpopServers {
  issuer: string;
  tokenEndpoint: string;
  clientId: string;
  redirectUri: string;
  /** The access tokens' `aud`. */
  audience: string;
  /** `GET` and `POST` here: http://127.0.0.1:PORT/api/items */
  resourceUrl: string;
  /** http://127.0.0.1:PORT of the resource server. */
  resourceOrigin: string;
  /** The code flow, then the code exchange with a proof of `keyPair` (nonce retry included). */
  login(keyPair: CryptoKeyPair): Promise<TokenResponse>;
  /** The code flow up to the code, for a client that makes the exchange itself (a browser page with its own key). */
  authorize(): Promise<{ code: string; codeVerifier: string }>;
  /** Every protected request the resource server saw since the start or `clearLog()`. */
  log(): Promise<RsLogEntry[]>;
  clearLog(): Promise<void>;
  /** The resource server's new nonce; the old one is refused from now on. */
  rotateNonce(): Promise<string>;
  /** The resource server's current nonce. */
  rsNonce(): Promise<string>;
  /** Moves the resource server's clock (for `iat` and `exp`) by `seconds` from real time. */
  setRsClockOffset(seconds: number): Promise<void>;
  stop(): Promise<void>;
}

/** This folder: `__dirname` under jest (CommonJS); from the repository root elsewhere (tsx, ESM). */
const HERE = typeof __dirname === 'string' ? __dirname : join(process.cwd(), '__tests__', 'support', 'dpop');

interface Child {
  process: ChildProcessWithoutNullStreams;
  ready: Record<string, unknown>;
}

/** Starts `script` with `args` and resolves with its first stdout line, parsed. */
function startChild(script: string, args: string[]): Promise<Child> {
  const child = spawn(process.execPath, [join(HERE, script), ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  return new Promise((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${script} did not start in 10 s: ${stderr}`));
    }, 10_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited (${code}) before it was ready: ${stderr}`));
    });
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const newline = stdout.indexOf('\n');
      if (newline < 0) return;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      try {
        resolve({ process: child, ready: JSON.parse(stdout.slice(0, newline)) as Record<string, unknown> });
      } catch (error) {
        child.kill('SIGKILL');
        reject(error);
      }
    });
  });
}

function stopChild({ process: child }: Child): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 2_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.stdin.end();
  });
}

export interface TokenRequestResult {
  status: number;
  body: Record<string, unknown>;
  /** The answer's `DPoP-Nonce` header (oidc-provider omits it when the proof carried its current nonce). */
  nonce: string | null;
  /** The nonce the proof carried. */
  sentNonce: string | null;
  headers: Headers;
}

/** One POST to the token endpoint with a fresh proof of `keyPair` (no retry). */
export async function tokenRequest(
  tokenEndpoint: string,
  keyPair: CryptoKeyPair,
  params: Record<string, string>,
  nonce?: string,
): Promise<TokenRequestResult> {
  const response = await fetch(tokenEndpoint, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-www-form-urlencoded',
      DPoP: await dpopProof(keyPair, { htm: 'POST', htu: tokenEndpoint, nonce }),
    },
    body: new URLSearchParams(params),
  });
  const body = (await response.json()) as Record<string, unknown>;
  return { status: response.status, body, nonce: response.headers.get('DPoP-Nonce'), sentNonce: nonce ?? null, headers: response.headers };
}

/** `tokenRequest`, retried once with the server's nonce when it answers `use_dpop_nonce`. */
export async function tokenRequestWithNonce(
  tokenEndpoint: string,
  keyPair: CryptoKeyPair,
  params: Record<string, string>,
  nonce?: string,
): Promise<TokenRequestResult> {
  const first = await tokenRequest(tokenEndpoint, keyPair, params, nonce);
  if (first.body.error !== 'use_dpop_nonce' || !first.nonce) return first;
  return tokenRequest(tokenEndpoint, keyPair, params, first.nonce);
}

/** Cookies by name, as a browser keeps them for one host (paths ignored: names are unique per step). */
class CookieJar {
  private readonly cookies = new Map<string, string>();

  store(headers: Headers): void {
    for (const cookie of headers.getSetCookie()) {
      const [pair = '', ...attributes] = cookie.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attributes.some((a) => /^\s*expires=Thu, 01 Jan 1970/i.test(a) || /^\s*max-age=0\s*$/i.test(a));
      if (expired || !value) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  header(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }
}

/** The authorization code flow through the dev interactions, as a browser would walk it. */
async function authorizationCode(issuer: string, clientId: string, redirectUri: string, verifier: string): Promise<string> {
  const jar = new CookieJar();
  const state = randomBytes(16).toString('base64url');
  const authorize = new URL(`${issuer}/auth`);
  authorize.search = new URLSearchParams({
    client_id: clientId,
    response_type: 'code',
    redirect_uri: redirectUri,
    scope: 'api',
    state,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  }).toString();

  let next: { url: string; form?: Record<string, string> } = { url: authorize.href };
  for (let step = 0; step < 12; step++) {
    const response = await fetch(next.url, {
      redirect: 'manual',
      method: next.form ? 'POST' : 'GET',
      headers: next.form ? { Cookie: jar.header(), 'Content-Type': 'application/x-www-form-urlencoded' } : { Cookie: jar.header() },
      body: next.form ? new URLSearchParams(next.form).toString() : undefined,
    });
    jar.store(response.headers);
    const location = response.headers.get('Location');
    if (response.status >= 300 && response.status < 400 && location) {
      const target = new URL(location, next.url);
      if (target.href.startsWith(redirectUri)) {
        if (target.searchParams.get('state') !== state) throw new Error(`login: state mismatch in ${target.href}`);
        const code = target.searchParams.get('code');
        if (!code) throw new Error(`login: no code in ${target.href}`);
        return code;
      }
      await response.arrayBuffer();
      next = { url: target.href };
      continue;
    }
    const html = await response.text();
    if (response.status !== 200) throw new Error(`login: ${next.url} answered ${response.status}: ${html.slice(0, 300)}`);
    // A dev interaction page: its form posts `prompt` (login or consent) back to its action.
    const prompt = /name="prompt" value="(\w+)"/.exec(html)?.[1];
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
    if (!prompt || !action) throw new Error(`login: unexpected page at ${next.url}: ${html.slice(0, 300)}`);
    const form: Record<string, string> = prompt === 'login' ? { prompt, login: 'dpop-user', password: 'any' } : { prompt };
    next = { url: new URL(action.replaceAll('&amp;', '&'), next.url).href, form };
  }
  throw new Error('login: the authorization flow did not reach the redirect URI in 12 steps');
}

export async function startDpopServers(options: DpopServersOptions = {}): Promise<DpopServers> {
  const lifetime = String(options.lifetimeSeconds ?? 120);
  const auth = await startChild('authServer.mjs', [
    `--access-ttl=${options.accessTokenTtlSeconds ?? 5}`,
    `--refresh-ttl=${options.refreshTokenTtlSeconds ?? 86_400}`,
    `--redirect-uris=${(options.redirectUris ?? ['http://127.0.0.1/callback']).join(',')}`,
    `--lifetime=${lifetime}`,
  ]);
  const issuer = auth.ready.issuer as string;
  const audience = auth.ready.audience as string;
  let resource: Child;
  try {
    resource = await startChild('resourceServer.mjs', [
      `--issuer=${issuer}`,
      `--audience=${audience}`,
      `--nonce-every=${options.rsNonceEvery ?? 0}`,
      `--iat-window=${options.rsIatWindowSeconds ?? 60}`,
      `--clock-offset=${options.rsClockOffsetSeconds ?? 0}`,
      `--lifetime=${lifetime}`,
    ]);
  } catch (error) {
    await stopChild(auth);
    throw error;
  }
  const tokenEndpoint = auth.ready.tokenEndpoint as string;
  const clientId = auth.ready.clientId as string;
  const redirectUri = auth.ready.redirectUri as string;
  const resourceOrigin = resource.ready.url as string;

  async function control<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(`${resourceOrigin}${path}`, {
      method,
      headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}`);
    return (response.status === 204 ? undefined : await response.json()) as T;
  }

  return {
    issuer,
    tokenEndpoint,
    clientId,
    redirectUri,
    audience,
    resourceUrl: resource.ready.resourceUrl as string,
    resourceOrigin,
    async login(keyPair) {
      const verifier = randomBytes(32).toString('base64url');
      const code = await authorizationCode(issuer, clientId, redirectUri, verifier);
      const { status, body, nonce, sentNonce } = await tokenRequestWithNonce(tokenEndpoint, keyPair, {
        grant_type: 'authorization_code',
        code,
        redirect_uri: redirectUri,
        client_id: clientId,
        code_verifier: verifier,
      });
      if (status !== 200) throw new Error(`login: the code exchange answered ${status} ${JSON.stringify(body)}`);
      return { ...(body as Omit<TokenResponse, 'dpopNonce'>), dpopNonce: nonce ?? sentNonce };
    },
    async authorize() {
      const codeVerifier = randomBytes(32).toString('base64url');
      return { code: await authorizationCode(issuer, clientId, redirectUri, codeVerifier), codeVerifier };
    },
    log: () => control<RsLogEntry[]>('GET', '/control/log'),
    clearLog: () => control<undefined>('DELETE', '/control/log'),
    rotateNonce: async () => (await control<{ nonce: string }>('POST', '/control/rotate-nonce')).nonce,
    rsNonce: async () => (await control<{ nonce: string }>('GET', '/control/nonce')).nonce,
    setRsClockOffset: async (seconds) => {
      await control('POST', '/control/clock', { offsetSeconds: seconds });
    },
    stop: async () => {
      await Promise.all([stopChild(auth), stopChild(resource)]);
    },
  };
}
