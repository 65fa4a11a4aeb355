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
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as StatusCarrier;
  if (typeof e.status === 'number') return e.status;
  if (typeof e.originalStatus === 'number') return e.originalStatus;
  if (typeof e.response?.status === 'number') return e.response.status;
  return undefined;
}

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

const networkCodes = new Set(['ERR_NETWORK', 'ECONNABORTED', 'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EAI_AGAIN']);

/**
 * The default for refresh failures worth retrying: no answer (network error, timeout, status 0),
 * 408, 429 and 5xx. Everything else, `invalid_grant` above all, is final.
 */
export function isTransientError(error: unknown): boolean {
  const status = httpStatusOf(error);
  if (status !== undefined) return status === 0 || status === 408 || status === 429 || status >= 500;
  const e = (error ?? {}) as StatusCarrier;
  if (e.error === 'invalid_grant') return false;
  // fetch rejects with a TypeError when the network fails; RxJS and axios name their timeouts.
  return (
    error instanceof TypeError ||
    e.name === 'AjaxTimeoutError' ||
    e.name === 'TimeoutError' ||
    networkCodes.has(e.code as string)
  );
}
