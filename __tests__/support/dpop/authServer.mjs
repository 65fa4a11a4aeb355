/**
 * A real OAuth 2.0 authorization server for the DPoP (RFC 9449) tests: oidc-provider 9.13 with
 * DPoP nonces required, one public client, rotating refresh tokens and JWT access tokens for one
 * resource server (so that server can verify them with this one's JWKS, offline).
 *
 * oidc-provider is ESM-only: this file runs as a child process (started by servers.ts with
 * `process.execPath`), never inside jest. It listens on 127.0.0.1 (port 0 unless --port), prints
 * one JSON line on stdout (`{"issuer":"http://127.0.0.1:PORT", ...}`), and exits when its stdin
 * closes or after --lifetime seconds, so it never outlives the tests that started it.
 *
 * Options (`--name=value` or the environment variable in brackets):
 *   --access-ttl     access token lifetime in seconds (DPOP_ACCESS_TTL, default 5)
 *   --refresh-ttl    refresh token lifetime in seconds (DPOP_REFRESH_TTL, default 86400)
 *   --audience       the resource server's identifier, the access tokens' `aud` (DPOP_AUDIENCE)
 *   --redirect-uris  comma-separated redirect URIs of the client (DPOP_REDIRECT_URIS, default http://127.0.0.1/callback)
 *   --client-id      (DPOP_CLIENT_ID, default dpop-test-client)
 *   --port           (DPOP_AS_PORT, default 0)
 *   --lifetime       seconds before it exits on its own (DPOP_AS_LIFETIME, default 120)
 *
 * Signing in without a browser: the REAL authorization code flow with PKCE over HTTP, through
 * oidc-provider's development interactions (GET /auth → 303 /interaction/:uid, the login form →
 * POST prompt=login → 303 /auth/:uid → 303 /interaction/:uid, the consent form → POST
 * prompt=consent → 303 /auth/:uid → 303 redirect_uri?code=…). servers.ts `login` drives it with a
 * small cookie jar, then exchanges the code at /token with a DPoP proof, so the refresh token is
 * bound to that key (`jkt`). There is no test-only login endpoint here.
 *
 * What oidc-provider does that the tests rely on (lib/helpers/validate_dpop.js, lib/shared/cors.js):
 * - the DPoP proof is checked first at /token, before the code or refresh token is looked up: a
 *   proof without a nonce answers 400 {"error":"use_dpop_nonce"} with a `DPoP-Nonce` header and
 *   consumes nothing;
 * - a proof carrying a valid nonce has no `iat` window; without a nonce, `iat` must be within 300 s;
 * - nonces are HKDF values per 60 s step, five steps accepted (-2…+2 minutes): stable for a minute;
 * - the token endpoint's CORS exposes `DPoP-Nonce` and `WWW-Authenticate` when `nonceSecret` is
 *   set; this server adds `Date`, and allows any loopback origin (clientBasedCORS).
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { exportJWK, generateKeyPair } from 'jose';
import Provider, { errors } from 'oidc-provider';

function option(name, envName, fallback) {
  const prefix = `--${name}=`;
  const arg = process.argv.slice(2).find((a) => a.startsWith(prefix));
  if (arg) return arg.slice(prefix.length);
  return process.env[envName] || fallback;
}

const accessTokenTtl = Number(option('access-ttl', 'DPOP_ACCESS_TTL', '5'));
const refreshTokenTtl = Number(option('refresh-ttl', 'DPOP_REFRESH_TTL', '86400'));
const audience = option('audience', 'DPOP_AUDIENCE', 'urn:redux-observable-token-refresh:dpop-test-api');
const redirectUris = option('redirect-uris', 'DPOP_REDIRECT_URIS', 'http://127.0.0.1/callback').split(',');
const clientId = option('client-id', 'DPOP_CLIENT_ID', 'dpop-test-client');
const port = Number(option('port', 'DPOP_AS_PORT', '0'));
const lifetimeSeconds = Number(option('lifetime', 'DPOP_AS_LIFETIME', '120'));

/** The scope the resource server grants; `offline_access` is not needed (issueRefreshToken below). */
const API_SCOPE = 'api';

// The HTTP server listens first: the issuer needs the port.
const server = createServer();
await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

async function signingKey(alg) {
  const { privateKey } = await generateKeyPair(alg, { extractable: true });
  return { ...(await exportJWK(privateKey)), alg, use: 'sig', kid: `${alg.toLowerCase()}-${randomBytes(4).toString('hex')}` };
}

const isLoopbackOrigin = (origin) => {
  const url = URL.parse(origin);
  return !!url && url.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
};

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: clientId,
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: redirectUris,
      id_token_signed_response_alg: 'ES256',
    },
  ],
  // ES256 signs the access tokens (getResourceServerInfo); RS256 is oidc-provider's default for ID tokens.
  jwks: { keys: [await signingKey('ES256'), await signingKey('RS256')] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  scopes: ['openid', 'offline_access', API_SCOPE],
  pkce: { required: () => true }, // S256 is the only method oidc-provider 9 supports
  rotateRefreshToken: true,
  issueRefreshToken: () => true,
  // Refresh tokens outlive the (in-memory) login session.
  expiresWithSession: () => false,
  ttl: {
    AccessToken: accessTokenTtl,
    AuthorizationCode: 60,
    RefreshToken: refreshTokenTtl,
    Grant: refreshTokenTtl,
    Interaction: 600,
    Session: refreshTokenTtl,
  },
  // Browser tests call /token from another loopback origin (their page), not the redirect URI's.
  clientBasedCORS: (_ctx, origin) => isLoopbackOrigin(origin),
  features: {
    devInteractions: { enabled: true },
    dPoP: { enabled: true, nonceSecret: randomBytes(32), requireNonce: () => true, allowReplay: false },
    resourceIndicators: {
      enabled: true,
      // No `resource` parameter needed anywhere: every token is for the one resource server.
      defaultResource: () => audience,
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx, resourceIndicator) => {
        if (resourceIndicator !== audience) throw new errors.InvalidTarget();
        return {
          scope: API_SCOPE,
          audience,
          accessTokenTTL: accessTokenTtl,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'ES256' } },
        };
      },
    },
  },
});

// oidc-provider's CORS exposes DPoP-Nonce and WWW-Authenticate on /token; a client that compares
// its clock with the server's (iat) reads Date too.
provider.use(async (ctx, next) => {
  await next();
  const exposed = ctx.response.get('Access-Control-Expose-Headers');
  if (exposed && !/\bDate\b/i.test(exposed)) ctx.set('Access-Control-Expose-Headers', `${exposed},Date`);
});

server.on('request', provider.callback());

process.stdout.write(
  `${JSON.stringify({
    issuer,
    tokenEndpoint: `${issuer}/token`,
    authorizationEndpoint: `${issuer}/auth`,
    jwksUri: `${issuer}/jwks`,
    clientId,
    redirectUri: redirectUris[0],
    audience,
    scope: API_SCOPE,
    accessTokenTtl,
  })}\n`,
);

function exit() {
  server.closeAllConnections?.();
  process.exit(0);
}
setTimeout(exit, lifetimeSeconds * 1000);
process.stdin.on('end', exit);
process.stdin.on('close', exit);
process.stdin.resume();
