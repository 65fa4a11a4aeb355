/**
 * What status an error carries, whichever client produced it. One place, so that epics, RTK Query,
 * fetch and axios all agree on what "401" and "transient" mean.
 */
interface StatusCarrier {
  status?: unknown;
  originalStatus?: unknown;
  response?: { status?: unknown };
  code?: unknown;
  name?: unknown;
  error?: unknown;
}

/**
 * The HTTP status of an error: `AjaxError.status`, a thrown fetch `Response`, RTK Query's
 * `FetchBaseQueryError` (also its `PARSING_ERROR` with `originalStatus`), axios' `error.response.status`.
 */
export function httpStatusOf(error: unknown): number | undefined {
  const e = error as StatusCarrier;
  return typeof error === 'object' && error !== null
    ? (number(e.status) ?? number(e.originalStatus) ?? number(e.response?.status))
    : undefined;
}

const number = (value: unknown) => (typeof value === 'number' ? value : undefined);

/** @internal The detail of a message for a failure with `status`: `HTTP 400`, or none. */
export const httpDetail = (status: number | undefined): string | undefined => (status === undefined ? undefined : `HTTP ${status}`);

/**
 * The default `isAuthError`: HTTP 401 from any of the clients above.
 *
 * @example
 * // an API that says "token expired" with a body code instead of a status
 * createTokenRefresh({ refresh, isAuthError: e => isUnauthorized(e) || e?.response?.data?.code === 1002 })
 */
export function isUnauthorized(error: unknown): boolean {
  return httpStatusOf(error) === 401;
}

const networkCodes = new Set([
  'ERR_NETWORK',
  'ECONNABORTED',
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'EPIPE',
  'UND_ERR_SOCKET',
]);

/**
 * How each runtime's fetch words "no answer", or an answer cut off in its body: Chromium, undici,
 * Firefox, Safari, React Native.
 */
const networkFailure = /^(failed to fetch|fetch failed|networkerror|network error|load failed|network request failed|terminated)/i;

/**
 * The default `isSessionEnded`: the refresh endpoint's own "no" to the refresh token, the only
 * answer that ends a session. HTTP 400 (`invalid_grant` and the other OAuth errors), 401, 403, or an
 * error carrying `error: 'invalid_grant'`.
 *
 * @example
 * // a server that answers a revoked refresh token with 419
 * createTokenRefresh({ refresh, isSessionEnded: (e) => isSessionEnded(e) || httpStatusOf(e) === 419 })
 */
export function isSessionEnded(error: unknown): boolean {
  const status = httpStatusOf(error);
  return status === 400 || status === 401 || status === 403 || (error as StatusCarrier | null)?.error === 'invalid_grant';
}

/**
 * The default for refresh failures worth retrying at once: no answer (network error, timeout,
 * status 0), 408, 429, 5xx, and a body that is not JSON (a captive portal's or a proxy's page).
 * With none of those retries left the session is kept, and the refresh is tried again later.
 */
export function isTransientError(error: unknown): boolean {
  const status = httpStatusOf(error);
  if (status !== undefined) return status === 0 || status === 408 || status === 429 || status >= 500;
  const e = (error ?? {}) as StatusCarrier;
  // fetch rejects with a TypeError when the network fails; RxJS and axios name their timeouts.
  return (
    isNetworkFailure(error) ||
    error instanceof SyntaxError ||
    e.name === 'AjaxTimeoutError' ||
    e.name === 'TimeoutError' ||
    networkCodes.has(e.code as string)
  );
}

/** @internal A fetch that got no answer, as opposed to a TypeError in the code around it. */
export function isNetworkFailure(error: unknown): boolean {
  // By name, not instanceof: fetch's TypeError may come from another realm (an iframe, a test runner).
  const e = error as { name?: unknown; message?: unknown; cause?: StatusCarrier } | null;
  return e?.name === 'TypeError' && (networkFailure.test(String(e.message)) || networkCodes.has(e.cause?.code as string));
}
