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

const secretHeader = /^(proxy-)?authorization$|^cookie$/i;

interface Carrier {
  cause?: unknown;
  response?: unknown;
  config?: { headers?: Record<string, unknown>; data?: unknown; auth?: unknown };
}

export function redactSecrets(value: unknown): void {
  // Eight links deep at most: a cause chain that loops ends too.
  for (
    let error = value as Carrier | undefined, depth = 0;
    isObject(error) && depth < 8;
    error = error.cause as Carrier | undefined, depth++
  ) {
    for (const owner of [error, error.response as Carrier | undefined]) {
      if (!isObject(owner)) continue;
      const config = owner.config;
      if (isObject(config)) {
        // AxiosHeaders and plain objects alike: own keys, matched without regard to case.
        if (isObject(config.headers))
          for (const key of Object.keys(config.headers)) if (secretHeader.test(key)) config.headers[key] = REDACTED;
        if (config.data != null) config.data = REDACTED;
        if (config.auth !== undefined) config.auth = REDACTED;
      }
      const request = Object.getOwnPropertyDescriptor(owner, 'request');
      if (request?.enumerable && request.configurable) Object.defineProperty(owner, 'request', { ...request, enumerable: false });
    }
  }
}

function isObject<T>(value: T): value is T & object {
  return typeof value === 'object' && value !== null;
}
