/**
 * Where a token may be sent: shared by the fetch and axios adapters.
 *
 * @example
 * ```ts
 * // In the browser the app's own origin is the default; in Node, say where relative URLs go.
 * authFetch(auth, { allowedOrigins: ['https://api.example.com'], baseOrigin: 'https://app.example.com' });
 * ```
 */
export interface OriginOptions {
  /**
   * The origins (`scheme://host:port`) that receive the access token. A request anywhere else goes
   * out exactly as you wrote it: no `Authorization` added, no refresh on its 401.
   * @default [the app's own origin] (`baseOrigin`, else `location.origin`); required where neither exists
   */
  allowedOrigins?: readonly string[];
  /**
   * The origin relative URLs resolve against, for code without `location` (Node, tests, workers).
   * @default globalThis.location?.origin
   */
  baseOrigin?: string;
}

/**
 * @internal Returns `allowed(url)`. Origins are normalized once here, so the per-request check is
 * one `URL` parse and one Set lookup. A URL that cannot be resolved is not allowed: when in doubt,
 * the token stays home.
 */
export function createOriginGuard(adapter: string, { allowedOrigins, baseOrigin }: OriginOptions): (url: string | URL) => boolean {
  const ownOrigin = baseOrigin === undefined ? ownLocationOrigin() : toOrigin(adapter, 'baseOrigin', baseOrigin);
  if (allowedOrigins !== undefined && !Array.isArray(allowedOrigins)) {
    throw new TypeError(`${adapter}: option "allowedOrigins" must be an array of origins, e.g. ['https://api.example.com'].`);
  }
  const origins = allowedOrigins?.map((origin) => toOrigin(adapter, 'allowedOrigins', origin)) ?? (ownOrigin ? [ownOrigin] : undefined);
  if (!origins) {
    throw new TypeError(
      `${adapter}: option "allowedOrigins" is required where there is no location.origin (Node, workers): pass the origins your API is on, e.g. ['https://api.example.com'], or set "baseOrigin".`,
    );
  }
  const allowed = new Set(origins);
  return (url) => {
    try {
      return allowed.has(new URL(url, ownOrigin).origin);
    } catch {
      return false; // relative URL with no base to resolve it against
    }
  };
}

function ownLocationOrigin(): string | undefined {
  const origin = (globalThis as { location?: { origin?: unknown } }).location?.origin;
  return typeof origin === 'string' && origin !== 'null' ? origin : undefined;
}

function toOrigin(adapter: string, option: string, value: unknown): string {
  let url: URL | undefined;
  try {
    url = new URL(String(value));
  } catch {
    url = undefined;
  }
  // A path here is almost always a base URL pasted by mistake; refuse rather than guess.
  if (typeof value !== 'string' || !url || url.origin === 'null' || (url.pathname !== '/' && url.pathname !== '') || url.search || url.hash) {
    throw new TypeError(`${adapter}: option "${option}" must hold origins like 'https://api.example.com' (scheme, host and port; no path), got ${JSON.stringify(value)}.`);
  }
  return url.origin;
}
