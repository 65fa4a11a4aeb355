/**
 * A resource server for the DPoP (RFC 9449) tests that checks every request as §7.1 and §4.3 say,
 * with jose, and logs what it saw so tests can assert on it. A child process like authServer.mjs:
 * 127.0.0.1 only, one JSON line on stdout (`{"url":"http://127.0.0.1:PORT", ...}`), exits when
 * its stdin closes or after --lifetime seconds.
 *
 * Access tokens are validated as JWTs (RFC 9068) against the issuer's JWKS: authServer.mjs issues
 * JWT access tokens for this resource (resource indicators). Chosen over introspection because the
 * check is local (no round trip per request, no client credentials for the RS), the token's own
 * `exp` is what makes it expire (on this server's clock, which a test can move), and `cnf.jkt` is
 * in the token itself.
 *
 * Checks, in this order (the first that fails answers 401 with `WWW-Authenticate` and is logged):
 *  1. `Authorization: DPoP <token>`: none → `DPoP algs="…"` (no error); any other scheme, Bearer
 *     included (every token here is DPoP-bound) → `invalid_token`;
 *  2. exactly one `DPoP` header → else `invalid_dpop_proof`;
 *  3. the proof: `typ` dpop+jwt, an asymmetric `alg`, a public `jwk` (no private members), its
 *     signature with that key, `jti`, `htm` = method, `htu` = this URL without query and fragment
 *     (as the client addressed it: Host header), `iat` within ±--iat-window s of this server's clock
 *     → else `invalid_dpop_proof`;
 *  4. `jti` never seen before (each verified proof's jti is remembered, whatever the outcome)
 *     → else `invalid_dpop_proof`;
 *  5. `nonce` = the current nonce (or the previous one, after a rotation with grace) → else
 *     `use_dpop_nonce`, the answer's `DPoP-Nonce` being the one to use;
 *  6. the access token: signature (issuer's JWKS), `typ` at+jwt, `iss`, `aud`, `exp` on this
 *     server's clock → else `invalid_token`;
 *  7. `ath` = base64url(SHA-256(token)) → else `invalid_dpop_proof`;
 *  8. the proof key's JWK thumbprint (RFC 7638) = the token's `cnf.jkt` → else `invalid_dpop_proof`.
 * Every response (errors and preflights included) carries the current `DPoP-Nonce`.
 *
 * Endpoints: GET /api/items, POST /api/items (JSON), both protected; controls (not protected, not
 * logged): GET /control/log, DELETE /control/log, POST /control/rotate-nonce[?grace=1] → {nonce}
 * (without grace the old nonce is refused at once),
 * GET /control/nonce → {nonce}, POST /control/clock {offsetSeconds} → moves this server's clock.
 *
 * Options (`--name=value` or the environment variable in brackets):
 *   --issuer       the authorization server (DPOP_ISSUER, required)
 *   --audience     expected `aud` (DPOP_AUDIENCE, default as authServer.mjs)
 *   --nonce-every  rotate the nonce after every N protected requests, the previous one accepted until
 *                  the next rotation (DPOP_RS_NONCE_EVERY, default 0: only on demand)
 *   --iat-window   seconds (DPOP_RS_IAT_WINDOW, default 60)
 *   --clock-offset seconds added to this server's clock (DPOP_RS_CLOCK_OFFSET, default 0)
 *   --port         (DPOP_RS_PORT, default 0)
 *   --lifetime     seconds before it exits on its own (DPOP_RS_LIFETIME, default 120)
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { EmbeddedJWK, calculateJwkThumbprint, createRemoteJWKSet, decodeProtectedHeader, errors, jwtVerify } from 'jose';

function option(name, envName, fallback) {
  const prefix = `--${name}=`;
  const arg = process.argv.slice(2).find((a) => a.startsWith(prefix));
  if (arg) return arg.slice(prefix.length);
  return process.env[envName] || fallback;
}

const issuer = option('issuer', 'DPOP_ISSUER', '');
if (!issuer) throw new Error('resourceServer.mjs: --issuer (or DPOP_ISSUER) is required');
const audience = option('audience', 'DPOP_AUDIENCE', 'urn:redux-observable-token-refresh:dpop-test-api');
const nonceEvery = Number(option('nonce-every', 'DPOP_RS_NONCE_EVERY', '0'));
const iatWindow = Number(option('iat-window', 'DPOP_RS_IAT_WINDOW', '60'));
let clockOffset = Number(option('clock-offset', 'DPOP_RS_CLOCK_OFFSET', '0'));
const port = Number(option('port', 'DPOP_RS_PORT', '0'));
const lifetimeSeconds = Number(option('lifetime', 'DPOP_RS_LIFETIME', '120'));

/** Asymmetric JWS algorithms jose verifies: `none` and HMAC can never prove possession. */
const PROOF_ALGS = ['ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512', 'RS256', 'RS384', 'RS512', 'EdDSA', 'Ed25519'];
const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

const jwks = createRemoteJWKSet(new URL(`${issuer}/jwks`));
const nowSeconds = () => Math.floor(Date.now() / 1000) + clockOffset;

const newNonce = () => randomBytes(16).toString('base64url');
let nonce = newNonce();
let previousNonce = null;
let protectedRequests = 0;
/** `grace`: the nonce it replaces stays accepted until the next rotation. */
function rotateNonce(grace) {
  previousNonce = grace ? nonce : null;
  nonce = newNonce();
}

/** Seen jtis, with when they may be forgotten (a proof older than the iat window fails anyway). */
const seenJtis = new Map();
function firstUse(jti) {
  const now = nowSeconds();
  for (const [seen, until] of seenJtis) if (until < now) seenJtis.delete(seen);
  if (seenJtis.has(jti)) return false;
  seenJtis.set(jti, now + 2 * iatWindow + 60);
  return true;
}

const items = [{ id: 1, name: 'first' }];
const log = [];

class Rejection extends Error {
  constructor(error, description) {
    super(description);
    this.error = error;
  }
}

const sha256 = (value) => createHash('sha256').update(value).digest('base64url');

async function verifyProof(req, url) {
  const header = req.headersDistinct.dpop;
  if (!header || header.length !== 1 || header[0].includes(',')) {
    throw new Rejection('invalid_dpop_proof', header ? 'more than one DPoP proof' : 'no DPoP proof');
  }
  const proof = header[0].trim();
  let protectedHeader;
  try {
    protectedHeader = decodeProtectedHeader(proof);
  } catch {
    throw new Rejection('invalid_dpop_proof', 'the DPoP proof is not a JWS');
  }
  if (protectedHeader.typ !== 'dpop+jwt') throw new Rejection('invalid_dpop_proof', 'typ is not dpop+jwt');
  if (!PROOF_ALGS.includes(protectedHeader.alg)) throw new Rejection('invalid_dpop_proof', `alg ${protectedHeader.alg} is not allowed`);
  const { jwk } = protectedHeader;
  if (!jwk || typeof jwk !== 'object') throw new Rejection('invalid_dpop_proof', 'no jwk in the header');
  if (PRIVATE_JWK_MEMBERS.some((member) => member in jwk)) throw new Rejection('invalid_dpop_proof', 'the jwk has private members');

  let payload;
  try {
    ({ payload } = await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: PROOF_ALGS }));
  } catch (cause) {
    throw new Rejection('invalid_dpop_proof', `bad signature or claims (${cause.code ?? cause.message})`);
  }
  if (typeof payload.jti !== 'string' || !payload.jti) throw new Rejection('invalid_dpop_proof', 'no jti');
  if (payload.htm !== req.method) throw new Rejection('invalid_dpop_proof', 'htm does not match the method');
  const htu = typeof payload.htu === 'string' ? URL.parse(payload.htu) : null;
  if (!htu) throw new Rejection('invalid_dpop_proof', 'htu is not a URL');
  const expected = new URL(url);
  for (const target of [htu, expected]) {
    target.search = '';
    target.hash = '';
  }
  if (htu.href !== expected.href) throw new Rejection('invalid_dpop_proof', `htu ${htu.href} is not ${expected.href}`);
  if (typeof payload.iat !== 'number') throw new Rejection('invalid_dpop_proof', 'no iat');
  if (Math.abs(payload.iat - nowSeconds()) > iatWindow) throw new Rejection('invalid_dpop_proof', 'iat is outside the accepted window');
  return { payload, jwk };
}

async function verifyAccessToken(token) {
  try {
    const { payload } = await jwtVerify(token, jwks, {
      issuer,
      audience,
      typ: 'at+jwt',
      currentDate: new Date(nowSeconds() * 1000),
    });
    return payload;
  } catch (cause) {
    if (cause instanceof errors.JWTExpired) throw new Rejection('invalid_token', 'the access token expired');
    throw new Rejection('invalid_token', `the access token is not valid (${cause.code ?? cause.message})`);
  }
}

/** Runs checks 1–8; fills `entry` as it goes. */
async function authorize(req, url, entry) {
  const authorization = req.headers.authorization ?? '';
  const [scheme, token, ...rest] = authorization.split(' ');
  entry.scheme = authorization ? scheme : null;
  if (!authorization) throw new Rejection(null, 'no Authorization header');
  if (scheme.toLowerCase() !== 'dpop') throw new Rejection('invalid_token', `the ${scheme} scheme is not accepted for a DPoP-bound token`);
  if (!token || rest.length) throw new Rejection('invalid_token', 'malformed Authorization header');

  const { payload: proof, jwk } = await verifyProof(req, url);
  entry.jti = proof.jti;
  entry.nonce = proof.nonce ?? null;
  entry.iat = proof.iat;
  if (!firstUse(proof.jti)) throw new Rejection('invalid_dpop_proof', 'the proof jti was used before');
  if (!proof.nonce || (proof.nonce !== nonce && proof.nonce !== previousNonce)) {
    throw new Rejection('use_dpop_nonce', proof.nonce ? 'stale nonce' : 'a nonce is required');
  }
  entry.nonceOk = true;

  const claims = await verifyAccessToken(token);
  entry.sub = claims.sub ?? null;
  entry.athOk = proof.ath === sha256(token);
  if (!entry.athOk) throw new Rejection('invalid_dpop_proof', 'ath does not match the access token');
  const thumbprint = await calculateJwkThumbprint(jwk);
  entry.jktOk = claims.cnf?.jkt === thumbprint;
  if (!entry.jktOk) throw new Rejection('invalid_dpop_proof', 'the proof key is not the key the token is bound to');
  return claims;
}

function send(res, status, body, headers = {}) {
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Cache-Control': 'no-store',
    'DPoP-Nonce': nonce,
    'Access-Control-Allow-Origin': '*',
    'Access-Control-Expose-Headers': 'DPoP-Nonce, WWW-Authenticate, Date',
    ...headers,
  });
  res.end(body === undefined ? undefined : JSON.stringify(body));
}

async function readJson(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text) return {};
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

async function handleApi(req, res, url) {
  const entry = {
    at: new Date().toISOString(),
    method: req.method,
    path: url.pathname,
    scheme: null,
    jti: null,
    nonce: null,
    nonceOk: false,
    athOk: null,
    jktOk: null,
    status: 0,
    outcome: 'ok',
  };
  log.push(entry);
  protectedRequests += 1;
  try {
    if (!(url.pathname === '/api/items' && (req.method === 'GET' || req.method === 'POST'))) {
      entry.status = 404;
      entry.outcome = 'not_found';
      return send(res, 404, { error: 'not_found' });
    }
    const claims = await authorize(req, url, entry);
    if (req.method === 'GET') {
      entry.status = 200;
      return send(res, 200, { items, sub: claims.sub });
    }
    const body = await readJson(req);
    if (!body || typeof body !== 'object') {
      entry.status = 400;
      entry.outcome = 'invalid_request';
      return send(res, 400, { error: 'invalid_request', error_description: 'the body is not JSON' });
    }
    const item = { ...body, id: items.length + 1 };
    items.push(item);
    entry.status = 201;
    return send(res, 201, { item });
  } catch (rejection) {
    if (!(rejection instanceof Rejection)) throw rejection;
    entry.status = 401;
    entry.outcome = rejection.error ?? 'no_token';
    entry.description = rejection.message;
    const challenge = rejection.error
      ? `DPoP error="${rejection.error}", error_description="${rejection.message.replaceAll('"', "'")}", algs="${PROOF_ALGS.join(' ')}"`
      : `DPoP algs="${PROOF_ALGS.join(' ')}"`;
    return send(
      res,
      401,
      { error: rejection.error ?? 'invalid_request', error_description: rejection.message },
      { 'WWW-Authenticate': challenge },
    );
  } finally {
    // --nonce-every N: after every Nth protected request (its answer sent), the nonce rotates; the
    // previous one stays accepted until the next rotation.
    if (nonceEvery > 0 && protectedRequests % nonceEvery === 0) rotateNonce(true);
  }
}

async function handleControl(req, res, url) {
  const route = `${req.method} ${url.pathname}`;
  switch (route) {
    case 'GET /control/log':
      return send(res, 200, log);
    case 'DELETE /control/log':
      log.length = 0;
      return send(res, 204);
    case 'POST /control/rotate-nonce':
      rotateNonce(url.searchParams.get('grace') === '1');
      return send(res, 200, { nonce });
    case 'GET /control/nonce':
      return send(res, 200, { nonce });
    case 'POST /control/clock': {
      const body = await readJson(req);
      if (!body || typeof body.offsetSeconds !== 'number') return send(res, 400, { error: 'invalid_request' });
      clockOffset = body.offsetSeconds;
      return send(res, 200, { offsetSeconds: clockOffset });
    }
    default:
      return send(res, 404, { error: 'not_found' });
  }
}

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', `http://${req.headers.host ?? `127.0.0.1:${server.address().port}`}`);
  if (req.method === 'OPTIONS') {
    return send(res, 204, undefined, {
      'Access-Control-Allow-Methods': 'GET, POST, DELETE, OPTIONS',
      'Access-Control-Allow-Headers': 'Authorization, DPoP, Content-Type',
      'Access-Control-Max-Age': '600',
    });
  }
  const handler = url.pathname.startsWith('/control/') ? handleControl : handleApi;
  handler(req, res, url).catch((error) => {
    if (!res.headersSent) send(res, 500, { error: 'server_error', error_description: String(error) });
    else res.destroy();
  });
});
await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${server.address().port}`;

process.stdout.write(`${JSON.stringify({ url: base, resourceUrl: `${base}/api/items`, issuer, audience })}\n`);

function exit() {
  server.closeAllConnections?.();
  process.exit(0);
}
setTimeout(exit, lifetimeSeconds * 1000);
process.stdin.on('end', exit);
process.stdin.on('close', exit);
process.stdin.resume();
