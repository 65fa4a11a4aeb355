/**
 * @internal The claims of a JWT: its second part, base64url-encoded JSON, decoded. Not verified:
 * only what the client may read for itself (`exp`, `iat`, `sub`). `undefined` for anything that is
 * not a JWT with an object payload: an opaque token, a bad base64 length, JSON that does not parse,
 * a payload of `null` or a number.
 *
 * Base64url with or without padding (`atob` accepts both, and the `+`/`/` of plain base64 too).
 * UTF-8 is decoded by percent-escaping the bytes for `decodeURIComponent`, not with `TextDecoder`:
 * Hermes (React Native before 0.85) has `atob` but no `TextDecoder`. Bytes that are not UTF-8 are
 * read as Latin-1, as jwt-decode does, so the numeric claims of such a token still count.
 */
export function jwtClaims(token: string): Record<string, unknown> | undefined {
  try {
    let text = atob(token.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/'));
    try {
      text = decodeURIComponent(text.replace(/[%\x80-\xff]/g, (c) => '%' + c.charCodeAt(0).toString(16)));
    } catch {
      // not UTF-8: keep the bytes as Latin-1
    }
    const claims: unknown = JSON.parse(text);
    return typeof claims === 'object' && claims !== null ? (claims as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
