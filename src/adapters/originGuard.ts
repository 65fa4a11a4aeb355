import { typeError } from '../message';

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
   * The app's own origin, for code without `location` (Node, tests): the default allowed origin,
   * and what relative URLs resolve against where there is no `document` or `location`. In a page,
   * relative URLs resolve against `document.baseURI`, as the browser resolves them.
   * @default globalThis.location?.origin
   */
  baseOrigin?: string;
}

/**
 * @internal Returns `allowed(url)`. Origins are normalized once here, so the per-request check is
 * one `URL` parse and one Set lookup. A URL that cannot be resolved is not allowed: when in doubt,
 * the token stays home.
 *
 * A relative URL is resolved the way the transport will resolve it, not against our idea of "home":
 * in a page against `document.baseURI`, which an injected `<base href>` changes (the browser sends
 * the request there, so the check must look there too), in a worker against `location.href`, and
 * elsewhere against `baseOrigin`. The default allowed origin is the app's own (`baseOrigin`, else
 * `location.origin`), never the base URL, so a `<base href>` cannot allow itself.
 *
 * `defaults`: the origins an adapter allows when `allowedOrigins` is not given (RTK Query: the
 * origin of an absolute `baseUrl`). With `lenient`, having no origin at all denies every URL
 * instead of throwing (server-side rendering of an app whose API is relative).
 */
export function createOriginGuard(
  adapter: string,
  { allowedOrigins, baseOrigin }: OriginOptions,
  { defaults, lenient = false }: { defaults?: readonly string[]; lenient?: boolean } = {},
): (url: string | URL) => boolean {
  const ownOrigin = baseOrigin === undefined ? ownLocationOrigin() : toOrigin(adapter, 'baseOrigin', baseOrigin);
  if (allowedOrigins !== undefined && !Array.isArray(allowedOrigins)) {
    throw typeError(
      'INVALID_OPTION',
      () =>
        process.env.NODE_ENV !== 'production' &&
        `${adapter}: option "allowedOrigins" must be an array of origins, e.g. ['https://api.example.com'].`,
      `${adapter}: option "allowedOrigins"`,
    );
  }
  const origins =
    allowedOrigins?.map((origin) => toOrigin(adapter, 'allowedOrigins', origin)) ?? defaults ?? (ownOrigin ? [ownOrigin] : undefined);
  if (!origins && !lenient) {
    throw typeError(
      'INVALID_OPTION',
      () =>
        process.env.NODE_ENV !== 'production' &&
        `${adapter}: option "allowedOrigins" is required where there is no location.origin (Node, workers): pass the origins your API is on, e.g. ['https://api.example.com'], or set "baseOrigin".`,
      `${adapter}: option "allowedOrigins"`,
    );
  }
  const allowed = new Set(origins);
  return (url) => {
    try {
      return allowed.has(new URL(url, transportBase() ?? ownOrigin).origin);
    } catch {
      return false; // relative URL with no base to resolve it against
    }
  };
}

/** What `fetch` and XHR resolve a relative URL against, read at each request: it can change. */
function transportBase(): string | undefined {
  const g = globalThis as { document?: { baseURI?: unknown }; location?: { href?: unknown } };
  const base = g.document ? g.document.baseURI : g.location?.href;
  return typeof base === 'string' ? base : undefined;
}

/** @internal The origin of an absolute URL, or undefined for a relative one. */
export function originOf(url: unknown): string | undefined {
  try {
    const origin = new URL(String(url)).origin;
    return origin === 'null' ? undefined : origin;
  } catch {
    return undefined;
  }
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
  if (
    typeof value !== 'string' ||
    !url ||
    url.origin === 'null' ||
    (url.pathname !== '/' && url.pathname !== '') ||
    url.search ||
    url.hash
  ) {
    throw typeError(
      'INVALID_OPTION',
      () =>
        process.env.NODE_ENV !== 'production' &&
        `${adapter}: option "${option}" must hold origins like 'https://api.example.com' (scheme, host and port; no path), got ${JSON.stringify(value)}.`,
      `${adapter}: option "${option}"`,
    );
  }
  return url.origin;
}
