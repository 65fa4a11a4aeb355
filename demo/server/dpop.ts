/**
 * The demo server's DPoP (RFC 9449) checks, with jose: one proof per request, verified as §4.3 says,
 * and the server's nonce (§8, §9). One nonce for the whole server: the token routes and the API are
 * one origin, and a client keeps one nonce per origin.
 *
 * A proof is checked in this order (the first failure is the answer):
 *  1. exactly one `DPoP` header;
 *  2. `typ` dpop+jwt, an asymmetric `alg`, a public `jwk` in the header (no private members), its
 *     signature with that key;
 *  3. `jti`, `htm` = the method, `htu` = this URL without query and fragment (as the client addressed
 *     it: the Host header), `iat` within ±`iatWindowS` of the server's clock;
 *  4. `jti` not seen before (remembered once the signature verified, whatever the outcome);
 *  5. `nonce` = the server's current nonce → else `use_dpop_nonce`;
 *  6. with an access token: `ath` = base64url(SHA-256(token)).
 * The caller compares the key's thumbprint (`jkt`, RFC 7638) with the token's `cnf.jkt`.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { EmbeddedJWK, calculateJwkThumbprint, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';

/** Asymmetric JWS algorithms jose verifies: `none` and HMAC can never prove possession. */
export const DPOP_ALGS = ['ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512', 'RS256', 'RS384', 'RS512', 'EdDSA'];
const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

export type DpopErrorCode = 'invalid_dpop_proof' | 'use_dpop_nonce';

/** What a verified proof said: what the server's record and the tests read. */
export interface DpopProofInfo {
  jti: string;
  htm: string;
  htu: string;
  iat: number;
  nonce: string | null;
  ath: string | null;
  /** The proof key's RFC 7638 thumbprint. */
  jkt: string;
}

export type DpopCheck =
  { ok: true; proof: DpopProofInfo } | { ok: false; error: DpopErrorCode; description: string; proof?: Partial<DpopProofInfo> };

export interface DpopVerifierOptions {
  now: () => number;
  /** @default 60 */
  iatWindowS?: number;
  /** The nonce is replaced after this long (checked on arrival); the old one is refused at once. */
  nonceTtlMs: number;
}

export interface DpopVerifier {
  /** The current nonce (rotated first if its time is up). */
  nonce(): string;
  rotateNonce(): string;
  /**
   * Checks the request's proof; `accessToken` for a resource request (its `ath`). Does not compare
   * the key with a token's binding: `proof.jkt` is for the caller to compare with `cnf.jkt`.
   */
  verify(req: IncomingMessage, accessToken?: string): Promise<DpopCheck>;
}

export const accessTokenHash = (token: string): string => createHash('sha256').update(token).digest('base64url');

function parseUrl(text: string): URL | null {
  try {
    return new URL(text);
  } catch {
    return null;
  }
}

class Refusal extends Error {
  constructor(
    readonly error: DpopErrorCode,
    description: string,
  ) {
    super(description);
  }
}

export function createDpopVerifier({ now, iatWindowS = 60, nonceTtlMs }: DpopVerifierOptions): DpopVerifier {
  const newNonce = () => randomBytes(16).toString('base64url');
  let current = newNonce();
  let issuedAt = now();
  const rotateNonce = () => {
    current = newNonce();
    issuedAt = now();
    return current;
  };
  const nonce = () => (now() - issuedAt >= nonceTtlMs ? rotateNonce() : current);

  /** Seen jtis, with when they may be forgotten (a proof that old fails the iat window anyway). */
  const seen = new Map<string, number>();
  const firstUse = (jti: string) => {
    const at = now();
    for (const [old, until] of seen) if (until < at) seen.delete(old);
    if (seen.has(jti)) return false;
    seen.set(jti, at + (2 * iatWindowS + 60) * 1000);
    return true;
  };

  async function verify(req: IncomingMessage, accessToken?: string): Promise<DpopCheck> {
    const info: Partial<DpopProofInfo> = {};
    try {
      const headers = req.headersDistinct.dpop;
      const [only, ...more] = headers ?? [];
      if (only === undefined) throw new Refusal('invalid_dpop_proof', 'no DPoP proof');
      if (more.length > 0 || only.includes(',')) throw new Refusal('invalid_dpop_proof', 'more than one DPoP proof');
      const proof = only.trim();
      let header: ReturnType<typeof decodeProtectedHeader>;
      try {
        header = decodeProtectedHeader(proof);
      } catch {
        throw new Refusal('invalid_dpop_proof', 'the DPoP proof is not a JWS');
      }
      if (header.typ !== 'dpop+jwt') throw new Refusal('invalid_dpop_proof', 'typ is not dpop+jwt');
      if (!DPOP_ALGS.includes(header.alg ?? '')) throw new Refusal('invalid_dpop_proof', `alg ${String(header.alg)} is not allowed`);
      const jwk = header.jwk;
      if (!jwk || typeof jwk !== 'object') throw new Refusal('invalid_dpop_proof', 'no jwk in the header');
      if (PRIVATE_JWK_MEMBERS.some((member) => member in jwk)) throw new Refusal('invalid_dpop_proof', 'the jwk has private members');

      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: DPOP_ALGS, currentDate: new Date(now()) }));
      } catch (cause) {
        throw new Refusal('invalid_dpop_proof', `bad signature or claims (${(cause as { code?: string }).code ?? String(cause)})`);
      }
      const claims = payload as JWTPayload & { htm?: unknown; htu?: unknown; nonce?: unknown; ath?: unknown };
      if (typeof claims.jti !== 'string' || claims.jti === '') throw new Refusal('invalid_dpop_proof', 'no jti');
      info.jti = claims.jti;
      info.nonce = typeof claims.nonce === 'string' ? claims.nonce : null;
      if (claims.htm !== req.method) throw new Refusal('invalid_dpop_proof', 'htm does not match the method');
      info.htm = req.method;
      const htu = typeof claims.htu === 'string' ? parseUrl(claims.htu) : null;
      if (!htu) throw new Refusal('invalid_dpop_proof', 'htu is not a URL');
      info.htu = claims.htu as string;
      const expected = new URL(req.url ?? '/', `http://${req.headers.host ?? '127.0.0.1'}`);
      for (const target of [htu, expected]) {
        target.search = '';
        target.hash = '';
      }
      if (htu.href !== expected.href) throw new Refusal('invalid_dpop_proof', `htu ${htu.href} is not ${expected.href}`);
      if (typeof claims.iat !== 'number') throw new Refusal('invalid_dpop_proof', 'no iat');
      info.iat = claims.iat;
      if (Math.abs(claims.iat - now() / 1000) > iatWindowS) throw new Refusal('invalid_dpop_proof', 'iat is outside the accepted window');
      if (!firstUse(claims.jti)) throw new Refusal('invalid_dpop_proof', 'the proof jti was used before');
      if (info.nonce !== nonce()) throw new Refusal('use_dpop_nonce', info.nonce ? 'stale nonce' : 'a nonce is required');
      info.ath = typeof claims.ath === 'string' ? claims.ath : null;
      if (accessToken !== undefined && info.ath !== accessTokenHash(accessToken))
        throw new Refusal('invalid_dpop_proof', 'ath does not match the access token');
      info.jkt = await calculateJwkThumbprint(jwk);
      return { ok: true, proof: info as DpopProofInfo };
    } catch (refusal) {
      if (!(refusal instanceof Refusal)) throw refusal;
      return { ok: false, error: refusal.error, description: refusal.message, proof: info };
    }
  }

  return { nonce, rotateNonce, verify };
}
