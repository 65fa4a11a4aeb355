/**
 * A DPoP proof (RFC 9449 §4) made with jose, independent of the package's own dpop module, so the
 * test servers can be checked, and the module tested, against something written separately.
 */
import { SignJWT, exportJWK } from 'jose';
import { createHash, randomUUID } from 'node:crypto';

/** A non-extractable ES256 key pair, as a browser app makes one (its public key is always exportable). */
export function generateDpopKeyPair(): Promise<CryptoKeyPair> {
  return crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
}

/** base64url(SHA-256(access token)): the proof's `ath`. */
export function accessTokenHash(accessToken: string): string {
  return createHash('sha256').update(accessToken).digest('base64url');
}

export interface ProofClaims {
  /** The request's method. */
  htm: string;
  /** The request's URL (query and fragment are sent as given: servers ignore them). */
  htu: string;
  /** The server's last `DPoP-Nonce`. */
  nonce?: string;
  /** For a resource request: adds `ath`. */
  accessToken?: string;
  /** @default a random UUID */
  jti?: string;
  /** Seconds since the epoch. @default now */
  iat?: number;
  /** Replaces `ath` as it is (a wrong one for a negative test). */
  ath?: string;
}

/** A signed `dpop+jwt` with the public key of `keyPair` in its header. */
export async function dpopProof(keyPair: CryptoKeyPair, claims: ProofClaims): Promise<string> {
  const jwk = await exportJWK(keyPair.publicKey);
  const payload: Record<string, unknown> = { htm: claims.htm, htu: claims.htu, jti: claims.jti ?? randomUUID() };
  if (claims.nonce !== undefined) payload.nonce = claims.nonce;
  const ath = claims.ath ?? (claims.accessToken === undefined ? undefined : accessTokenHash(claims.accessToken));
  if (ath !== undefined) payload.ath = ath;
  return new SignJWT(payload)
    .setProtectedHeader({ typ: 'dpop+jwt', alg: 'ES256', jwk: { kty: jwk.kty!, crv: jwk.crv!, x: jwk.x!, y: jwk.y! } })
    .setIssuedAt(claims.iat ?? Math.floor(Date.now() / 1000))
    .sign(keyPair.privateKey);
}
