/** @internal What a removed credential reads. */
export const REDACTED = '[redacted]';

const secretHeader = /^(proxy-)?authorization$|^cookie$/i;

interface Carrier {
  cause?: unknown;
  response?: unknown;
  config?: { headers?: Record<string, unknown>; data?: unknown; auth?: unknown };
}

/**
 * Removes the credentials an axios error carries, in place, and returns the same error, so that
 * printing or reporting it shows no token. An `AxiosError` keeps the whole request:
 * `config.headers.Authorization` (the access token), `config.data` (a refresh call's body: the
 * refresh token, a client secret), `config.auth`, and `request`, whose Node `ClientRequest` holds
 * the raw headers; `util.inspect`, `JSON.stringify` (axios' own `toJSON`) and error trackers print
 * all of it. This replaces the `Authorization`, `Proxy-Authorization` and `Cookie` headers,
 * `config.data` and `config.auth` with `'[redacted]'`, and makes `request` non-enumerable (it stays
 * readable: `error.request && !error.response` still means "no answer"). The status, the URL and the
 * server's answer (`response.data`) stay. It walks the `cause` chain, so an error of this package
 * whose `cause` is an `AxiosError` is redacted too; anything else is left as it is.
 *
 * The core does not call it (an app without axios does not download it): `attachAxios` applies it
 * to the refresh call made through the attached instance and to what it rejects with after a 401,
 * and `oauth2RefreshGrant` to its `fetchFn`'s failure. A `refresh` function or a request in
 * `auth.authorized()` that calls axios directly applies it itself, where its promise rejects, once
 * axios is done with the request (a retry interceptor re-sends `error.config`): the error then
 * becomes the `cause` of this package's errors without the request's secrets.
 *
 * @example
 * ```ts
 * import axios from 'axios';
 * import { createTokenRefresh, redactSecrets } from 'redux-observable-token-refresh';
 *
 * const auth = createTokenRefresh({
 *   refresh: (refreshToken, { signal }) =>
 *     axios
 *       .post('https://api.example.com/auth/refresh', { refreshToken }, { signal })
 *       .then((response) => response.data, (error: unknown) => Promise.reject(redactSecrets(error))),
 * });
 * ```
 */
export function redactSecrets<E>(error: E): E {
  // Eight links deep at most: a cause chain that loops ends too.
  for (let link = error as Carrier | undefined, depth = 0; isObject(link) && depth < 8; link = link.cause as Carrier | undefined, depth++) {
    for (const owner of [link, link.response as Carrier | undefined]) {
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
  return error;
}

function isObject<T>(value: T): value is T & object {
  return typeof value === 'object' && value !== null;
}
