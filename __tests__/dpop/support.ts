/** Reading DPoP proofs in tests: decode, and verify the signature with the key the proof names. */

export interface DecodedProof {
  header: { typ: string; alg: string; jwk: JsonWebKey & Record<string, unknown> };
  payload: { jti: string; htm: string; htu: string; iat: number; nonce?: string; ath?: string };
}

const fromBase64url = (part: string) => Buffer.from(part, 'base64url');

export function decodeProof(proof: string): DecodedProof {
  const [header = '', payload = ''] = proof.split('.');
  return {
    header: JSON.parse(fromBase64url(header).toString('utf8')) as DecodedProof['header'],
    payload: JSON.parse(fromBase64url(payload).toString('utf8')) as DecodedProof['payload'],
  };
}

/** Whether the proof's signature verifies with the public key in its own header (what a server checks first). */
export async function verifyProof(proof: string): Promise<boolean> {
  const [header = '', payload = '', signature = ''] = proof.split('.');
  const { jwk } = decodeProof(proof).header;
  const key = await crypto.subtle.importKey('jwk', jwk, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify']);
  return crypto.subtle.verify(
    { name: 'ECDSA', hash: 'SHA-256' },
    key,
    fromBase64url(signature),
    new TextEncoder().encode(`${header}.${payload}`),
  );
}

/** RFC 9449 §4.2 `ath`: base64url(SHA-256(access token)). */
export async function athOf(token: string): Promise<string> {
  return Buffer.from(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(token))).toString('base64url');
}

/** RFC 7638 thumbprint of an EC public JWK. */
export async function thumbprint(jwk: JsonWebKey): Promise<string> {
  const canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
  return Buffer.from(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(canonical))).toString('base64url');
}

/** One request as a fake `fetch` saw it. */
export interface Seen {
  url: string;
  method: string;
  authorization: string | null;
  proof: DecodedProof | undefined;
  raw: string | null;
  body: string | undefined;
  headers: Headers;
}

/**
 * A fake `fetch` that records what it is sent and answers with `answer(seen, index)`: for the retry
 * logic, where a script says exactly when a server challenges. Real servers are in dpopServers.
 */
export function scriptedFetch(answer: (seen: Seen, index: number) => Response) {
  const seen: Seen[] = [];
  const fetchFn = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init);
    const raw = request.headers.get('dpop');
    const entry: Seen = {
      url: request.url,
      method: request.method,
      authorization: request.headers.get('authorization'),
      proof: raw ? decodeProof(raw) : undefined,
      raw,
      body: request.body ? await request.text() : undefined,
      headers: request.headers,
    };
    seen.push(entry);
    return answer(entry, seen.length - 1);
  };
  return { fetchFn, seen };
}

export const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
