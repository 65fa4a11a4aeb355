/**
 * @internal Removes credentials from the errors this package carries as `cause`, in place, before
 * anyone can log them. An `AxiosError` keeps the whole request: `config.headers.Authorization` (the
 * access token this package added), `config.data` (the refresh call's body: the refresh token, a
 * client secret), `config.auth`, and `request`, whose Node `ClientRequest` holds the raw headers.
 * `util.inspect`, `JSON.stringify` (axios' own `toJSON`) and error trackers print all of it.
 *
 * What stays: status, response headers and body (`response.data`), the URL and method, so a cause
 * is still worth reading. `request` stays readable (`error.request && !error.response` still means
 * "no answer") but is made non-enumerable, so printers skip it. Walks the `cause` chain.
 */
export const REDACTED = '[redacted]';

const secretHeaders = new Set(['authorization', 'proxy-authorization', 'cookie']);

export function redactSecrets(value: unknown): void {
  const seen = new Set<unknown>();
  for (let error = value, depth = 0; isObject(error) && !seen.has(error) && depth < 8; error = (error as { cause?: unknown }).cause, depth++) {
    seen.add(error);
    const e = error as { config?: unknown; request?: unknown; response?: { config?: unknown; request?: unknown } };
    redactConfig(e.config);
    hide(e, 'request');
    if (isObject(e.response)) {
      redactConfig(e.response.config);
      hide(e.response, 'request');
    }
  }
}

function redactConfig(config: unknown): void {
  if (!isObject(config)) return;
  const c = config as { headers?: unknown; data?: unknown; auth?: unknown };
  redactHeaders(c.headers);
  if (c.data !== undefined && c.data !== null) c.data = REDACTED;
  if (c.auth !== undefined) c.auth = REDACTED;
}

function redactHeaders(headers: unknown): void {
  if (!isObject(headers)) return;
  // AxiosHeaders and plain objects alike: own keys, matched without regard to case.
  for (const key of Object.keys(headers)) {
    if (secretHeaders.has(key.toLowerCase())) (headers as Record<string, unknown>)[key] = REDACTED;
  }
}

function hide(owner: object, key: string): void {
  const descriptor = Object.getOwnPropertyDescriptor(owner, key);
  if (descriptor?.enumerable && descriptor.configurable) Object.defineProperty(owner, key, { ...descriptor, enumerable: false });
}

function isObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null;
}
