/**
 * The DPoP proof itself (RFC 9449 §4): a JWT signed with the session's key, for one request. Pure
 * WebCrypto, no dependency: ES256 signatures from `crypto.subtle.sign` already have the JWS form
 * (r ‖ s, 64 bytes).
 */

/** The public half of an ES256 key as a JWK: only the members RFC 7638 hashes, never `d`. */
export interface PublicJwk {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
}

const encoder = new TextEncoder();

/** @internal base64url without padding, of bytes or of a string's UTF-8. */
export function base64url(input: ArrayBuffer | Uint8Array | string): string {
  const bytes = typeof input === 'string' ? encoder.encode(input) : new Uint8Array(input);
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
}

/** @internal SHA-256 of a string's UTF-8, base64url: `ath` of an access token, the JWK thumbprint. */
export async function sha256(text: string): Promise<string> {
  return base64url(await crypto.subtle.digest('SHA-256', encoder.encode(text)));
}

/** @internal The public key as a JWK with only its required members, in the order RFC 7638 hashes them. */
export async function publicJwk(publicKey: CryptoKey): Promise<PublicJwk> {
  const { crv, kty, x, y } = await crypto.subtle.exportKey('jwk', publicKey);
  return { crv, kty, x, y } as PublicJwk;
}

/** @internal RFC 7638 thumbprint: what a server puts in the token's `cnf.jkt`, and `dpop_jkt` at login. */
export function thumbprintOf(jwk: PublicJwk): Promise<string> {
  return sha256(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }));
}

/**
 * @internal `htu` (RFC 9449 §4.2): the URL called, without query and fragment. `new URL` normalises
 * what servers normalise too (case of scheme and host, default port, dot segments).
 */
export function htuOf(url: string): string {
  const parsed = new URL(url);
  return parsed.origin + parsed.pathname;
}

/** @internal What one proof says. */
export interface ProofClaims {
  htm: string;
  htu: string;
  /** Seconds since the epoch, on the server's clock as far as it is known. */
  iat: number;
  nonce?: string;
  ath?: string;
}

/** @internal Signs one proof with `keys`; a fresh `jti` (128 random bits) every time. */
export async function signProof(keys: CryptoKeyPair, jwk: PublicJwk, claims: ProofClaims): Promise<string> {
  const header = { typ: 'dpop+jwt', alg: 'ES256', jwk };
  const payload = { jti: base64url(crypto.getRandomValues(new Uint8Array(16))), ...claims };
  const input = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(payload))}`;
  const signature = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, keys.privateKey, encoder.encode(input));
  return `${input}.${base64url(signature)}`;
}

/** @internal A new ES256 key pair whose private half can sign but never be exported. */
export function generateKeys(): Promise<CryptoKeyPair> {
  return crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
}
