import { EMPTY, catchError, filter, from, ignoreElements, mergeMap, tap, type Observable, type ObservableInput } from 'rxjs';
import type { AuthActions } from '../actions';
import type { TokenRefresh } from '../createTokenRefresh';
import { httpStatusOf } from '../httpErrors';
import { abortReason } from '../adapters/abort';
import { DpopError } from './error';
import { indexedDbKeys, memoryKeys, type DpopKeyStore } from './keys';
import { generateKeys, htuOf, publicJwk, sha256, signProof, thumbprintOf } from './proof';

export { DpopError, type DpopErrorCode } from './error';
export { indexedDbKeys, memoryKeys, type DpopKeyStore } from './keys';

/** Response headers as `fetch` (`Headers`), axios (`AxiosHeaders` or a plain object) or RTK Query hand them out. */
export type HeadersLike = { get(name: string): unknown } | Record<string, unknown>;

/**
 * Options of `createDpop`.
 *
 * @example
 * ```ts
 * const dpop = createDpop({ keys: indexedDbKeys({ key: 'backoffice' }), fetchFn: (input, init) => fetch(input, { ...init, credentials: 'include' }) });
 * ```
 */
export interface DpopOptions {
  /**
   * Where the key pair lives for the life of the session.
   * @default indexedDbKeys() in a browser (shared by its tabs), memoryKeys() elsewhere (Node, React Native)
   */
  keys?: DpopKeyStore;
  /**
   * The `fetch` behind `dpop.fetch`.
   * @default (...args) => globalThis.fetch(...args)
   */
  fetchFn?: (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>;
  /**
   * This machine's clock. Proofs are dated on the server's clock: the offset is learned from each
   * server's `Date` header (expose it with `Access-Control-Expose-Headers` across origins).
   * @default Date.now
   */
  now?: () => number;
}

/**
 * An axios adapter, as `axios.getAdapter()` returns it: a function of the request config, after
 * every interceptor and request transform.
 */
// A method's parameter is bivariant: axios' own adapter type (and a test double) fits.
export type AxiosAdapterLike = { adapter(config: AxiosConfigLike): Promise<{ headers?: unknown }> }['adapter'];

/** What `dpop.axiosAdapter` reads of an axios request config. */
export interface AxiosConfigLike {
  url?: string;
  baseURL?: string;
  allowAbsoluteUrls?: boolean;
  method?: string;
  headers: { get(name: string): unknown; set(name: string, value: string): unknown; delete(name: string): unknown };
  signal?: unknown;
  data?: unknown;
  /** Node's http adapter calls it before it follows a redirect (follow-redirects' options). */
  // A method: its parameters are bivariant, so axios' own (more precise) type fits.
  beforeRedirect?(this: void, options: { headers?: Record<string, unknown> }, ...details: unknown[]): void;
}

/** The session whose access token `dpop.resourceFetch` and `dpop.axiosAdapter` send as DPoP: `auth`. */
export type DpopSession = Pick<TokenRefresh<string>, 'getAccessToken'>;

/** What `dpop.axiosAdapter` reads of axios' answer, or of the `response` of its error. */
interface AxiosAnswer {
  status?: number;
  headers?: HeadersLike;
}

/** What `createDpop` returns: its fetches and adapter are the transports of the clients. */
export interface Dpop {
  /**
   * A `fetch` for the authorization server: every request it sends carries a fresh DPoP proof for
   * the URL and method called. Pass it as `fetchFn` to `oauth2RefreshGrant`, and call it for your
   * login's code exchange. It learns each server's nonce from every answer and retries once, with a
   * new proof, when a server answers with a nonce challenge (400 `use_dpop_nonce`). It rejects with
   * `DpopError` when the server refused the proof and not the grant (`DPOP_NONCE`, `DPOP_PROOF`), or
   * answered with tokens not bound to the key (`DPOP_NOT_BOUND`).
   *
   * @example
   * ```ts
   * const auth = createTokenRefresh({ refresh: oauth2RefreshGrant({ tokenEndpoint, clientId, fetchFn: dpop.fetch }) });
   * ```
   */
  fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>;
  /** `dpop.fetch` over another `fetch`. */
  wrap(fetchFn: FetchFn): FetchFn;
  /**
   * A `fetch` for the APIs of `auth`'s session: a request that carries the session's access token
   * (`Authorization: Bearer <token>`, as `authFetch` and `authBaseQuery` add it) goes as
   * `Authorization: DPoP <token>` with a fresh proof bound to it (`ath`); any other request (no
   * token, or a credential of your own for another service) is sent untouched, with no proof and
   * no public key. Pass it as `fetchFn` to `authFetch` and `authBaseQuery`; `fetchFn` sends (default:
   * createDpop's). A nonce challenge (401 `WWW-Authenticate: DPoP error="use_dpop_nonce"`) is
   * answered once inside the request: it starts no refresh and does not count against
   * `maxRetries`; one the retry did not satisfy rejects with `DpopError` `DPOP_NONCE`.
   *
   * @example
   * ```ts
   * const apiFetch = authFetch(auth, { allowedOrigins: ['https://api.example.com'], fetchFn: dpop.resourceFetch(auth) });
   * ```
   */
  resourceFetch(auth: DpopSession, fetchFn?: FetchFn): FetchFn;
  /**
   * `dpop.resourceFetch` for axios: an adapter around axios' own, which runs after every
   * interceptor and after `attachAxios` added the token, so the proof is for the URL called. A
   * redirect that Node's adapter follows goes without the proof (it was for another URL).
   * Requires axios 1.5 or later (`axios.getAdapter`).
   *
   * @example
   * ```ts
   * const api = axios.create({ baseURL: 'https://api.example.com' });
   * api.defaults.adapter = dpop.axiosAdapter(auth, axios.getAdapter(api.defaults.adapter));
   * attachAxios(auth, api);
   * ```
   */
  axiosAdapter<A extends AxiosAdapterLike>(auth: DpopSession, adapter: A): A;
  /**
   * `auth.authorized` for a request you send yourself (rxjs `ajax` in an epic): `send` gets the
   * headers of one attempt, `Authorization: DPoP <token>` and a fresh `DPoP` proof for `method` and
   * `url`. A nonce challenge is answered once with a new proof, inside the attempt: it starts no
   * refresh and does not count against `maxRetries`. Nonces and the clock are learned from every
   * answer (`AjaxResponse`, `AjaxError`, a `Response`, an axios answer or error).
   *
   * @example
   * ```ts
   * const loadItems: Epic = (action$) =>
   *   action$.pipe(
   *     ofType('items/load'),
   *     switchMap(() =>
   *       dpop.authorized(auth, { method: 'GET', url: '/api/items' }, (headers) => ajax({ url: '/api/items', headers })).pipe(
   *         map((response) => ({ type: 'items/loaded', payload: response.response })),
   *       ),
   *     ),
   *   );
   * ```
   */
  authorized<T>(
    auth: Pick<TokenRefresh<string>, 'authorized'>,
    request: { method: string; url: string | URL },
    send: (headers: { Authorization: string; DPoP: string }) => ObservableInput<T>,
  ): Observable<T>;
  /** One proof (the `DPoP` header's value) for `method` and `url`, bound to `accessToken` when given. */
  proof(method: string, url: string | URL, accessToken?: string): Promise<string>;
  /** Learns the nonce (`DPoP-Nonce`) and the clock (`Date`) of the server that answered `url`. */
  learn(url: string | URL, headers: HeadersLike | null | undefined): void;
  /**
   * Whether an answer is a nonce challenge: 401 with `WWW-Authenticate: DPoP error="use_dpop_nonce"`,
   * or 400 with the body `{"error":"use_dpop_nonce"}` (pass the parsed body). Call `learn` first.
   */
  isNonceChallenge(status: number, headers: HeadersLike | null | undefined, body?: unknown): boolean;
  /** The key's RFC 7638 thumbprint: the authorization request's `dpop_jkt`, the token's `cnf.jkt`. */
  thumbprint(): Promise<string>;
  /** Resolves once the key can be kept here; rejects with `DpopError` `DPOP_KEY_STORAGE` when it cannot. */
  ready(): Promise<void>;
  /** Deletes the key: the next proof is made with a new one. The epic below does it at the end of a session. */
  clear(): Promise<void>;
  /**
   * The epic that deletes the key when `auth`'s session ends in this tab (logout, refused or broken
   * refresh, storage cleared). Not when another user's login replaces the session: that login was
   * made with this key.
   */
  epic(auth: { actions: Pick<AuthActions, 'loggedOut'> }): (action$: Observable<unknown>) => Observable<never>;
}

type FetchFn = (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>;

/**
 * DPoP (RFC 9449): tokens a thief cannot use. Every request carries a fresh proof signed with a key
 * pair whose private half never leaves the device (a non-extractable WebCrypto key, in IndexedDB in
 * browsers, shared by the tabs), and the server binds the tokens to that key. DPoP is the clients'
 * transport, so an app without it carries none of it: `dpop.fetch` is the `fetchFn` of
 * `oauth2RefreshGrant`, `dpop.resourceFetch` that of `authFetch` and `authBaseQuery`,
 * `dpop.axiosAdapter` the adapter of an axios instance given to `attachAxios`. Add
 * `dpop.epic(auth)` to your root epic so that a logout deletes the key.
 *
 * @throws {DpopError} `DPOP_UNSUPPORTED` without WebCrypto (`crypto.subtle`: a secure context),
 *   `DPOP_KEY_STORAGE` in a browser without IndexedDB when no `keys` is given.
 * @example
 * ```ts
 * import { createDpop } from 'redux-observable-token-refresh/dpop';
 *
 * const dpop = createDpop();
 * const auth = createTokenRefresh({ refresh: oauth2RefreshGrant({ tokenEndpoint, clientId, fetchFn: dpop.fetch }) });
 * const apiFetch = authFetch(auth, { allowedOrigins: ['https://api.example.com'], fetchFn: dpop.resourceFetch(auth) });
 * const rootEpic = combineEpics(auth.epic, dpop.epic(auth));
 * ```
 */
export function createDpop(options: DpopOptions = {}): Dpop {
  const { fetchFn = (input: RequestInfo | URL, init?: RequestInit) => fetch(input, init), now = Date.now } = options;
  if (typeof crypto === 'undefined' || !crypto.subtle) {
    throw new DpopError(
      'DPOP_UNSUPPORTED',
      () =>
        process.env.NODE_ENV !== 'production' &&
        'createDpop: WebCrypto (crypto.subtle) is missing: DPoP needs a secure context (https or localhost).',
    );
  }
  const browser = typeof window !== 'undefined' && typeof document !== 'undefined';
  if (!options.keys && browser && typeof indexedDB === 'undefined') {
    throw new DpopError(
      'DPOP_KEY_STORAGE',
      () =>
        process.env.NODE_ENV !== 'production' &&
        'createDpop: IndexedDB is missing, so the DPoP key cannot be kept across reloads and tabs. Pass createDpop({ keys: memoryKeys() }) to keep it for this page only.',
    );
  }
  const store = options.keys ?? (typeof indexedDB === 'undefined' ? memoryKeys() : indexedDbKeys());

  // Key reads, writes and deletes one after the other: a login right after a logout signs with the
  // new key, never with the one being deleted.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(operation: () => Promise<T>): Promise<T> => {
    const result = queue.then(operation);
    queue = result.catch(() => undefined);
    return result;
  };
  // Read on every proof, not cached: another tab may have ended the session and made a new key.
  const keys = () => serial(async () => (await store.get()) ?? store.add(await generateKeys()));

  const nonces = new Map<string, string>();
  // `invalid_dpop_proof` from a token endpoint since its last 2xx (or the last key), per endpoint's
  // origin: some servers (Duende IdentityServer, Spring Authorization Server) say so, not
  // `invalid_grant`, for a refresh token bound to a key this app no longer has (a reload with
  // memoryKeys(), IndexedDB cleared). That refresh token never passes: the third ends the session.
  const proofRefusals = new Map<string, number>();
  // Access tokens the token endpoint bound to this key, as they came through `dpop.fetch`: with the
  // session's current one, what `resourceFetch` sends as DPoP (a token replaced while its request
  // was on the way included).
  const bound: string[] = [];
  const remember = (token: string) => {
    if (bound.includes(token)) return;
    if (bound.push(token) > 4) bound.shift();
  };
  const offsets = new Map<string, number>();

  /** One proof, and the nonce and clock offset it was made with (to tell a stale one from a fresh challenge). */
  const sign = async (method: string, url: string | URL, accessToken?: string) => {
    const target = absolute(url);
    const origin = originOf(target);
    const pair = await keys();
    const nonce = nonces.get(origin);
    const offset = offsets.get(origin) ?? 0;
    const proof = await signProof(pair, await publicJwk(pair.publicKey), {
      htm: method.toUpperCase(),
      htu: htuOf(target),
      iat: Math.floor((now() + offset) / 1000),
      nonce,
      ath: accessToken === undefined ? undefined : await sha256(accessToken),
    });
    return { proof, origin, nonce, offset };
  };

  const learn = (url: string | URL, headers: HeadersLike | null | undefined): void => {
    const origin = originOf(absolute(url));
    const nonce = header(headers, 'dpop-nonce');
    // RFC 9449 §8.1: a nonce is 1*NQCHAR; anything else is not kept, nor sent back.
    if (typeof nonce === 'string' && /^[\x21\x23-\x5B\x5D-\x7E]+$/.test(nonce)) nonces.set(origin, nonce);
    const date = Date.parse(header(headers, 'date') ?? '');
    // `Date` has whole seconds and the answer took a while: a few seconds of difference are noise.
    if (Number.isFinite(date)) offsets.set(origin, Math.abs(date - now()) > 5_000 ? date - now() : 0);
  };

  /** The error for a challenge the one retry did not answer: the proof was refused, not the token or grant. */
  const nonceRefused = () =>
    new DpopError(
      'DPOP_NONCE',
      () =>
        process.env.NODE_ENV !== 'production' &&
        'The server asked for a DPoP nonce this request could not bring: its challenge named none new, came again after the retry, or the body could not be sent twice. Nothing was refreshed and the session is kept; the next request sends the latest nonce learned.',
    );

  /** A new key: the tokens bound to the old one and the count of its refusals go with it. */
  const forget = () => {
    proofRefusals.clear();
    bound.length = 0;
    return store.delete();
  };

  /** Whether `token` is `session`'s: sent as DPoP; anything else is not this module's to sign. */
  const ours = (session: DpopSession, token: string | undefined): token is string => {
    const current = session.getAccessToken();
    if (current !== undefined) remember(current);
    return token !== undefined && bound.includes(token);
  };

  /** `dpop.fetch` (every request: no `session`) or `dpop.resourceFetch` (only `session`'s token) over `send`. */
  const wrapWith =
    (send: FetchFn, session?: DpopSession): FetchFn =>
    async (input, init) => {
      const request = isRequest(input) ? input : undefined;
      const headers = new Headers(init?.headers ?? request?.headers);
      const token = tokenIn(headers.get('authorization'));
      if (session && !ours(session, token)) return send(input, init);
      // A redirect followed by fetch would re-send this proof (for another URL, so refused) and,
      // across origins, the public key to a server that must not see it. Outside browsers, where
      // fetch shows the redirect, it is followed here: a new proof on this origin, none elsewhere.
      if (!browser && (init?.redirect ?? request?.redirect ?? 'follow') === 'follow')
        return followed(send, session, input, { ...init, redirect: 'manual' }, request);
      // eslint-disable-next-line @typescript-eslint/no-base-to-string -- a string or a URL here
      const url = absolute(request ? request.url : String(input));
      const method = init?.method ?? request?.method ?? 'GET';
      if (token !== undefined) headers.set('Authorization', `DPoP ${token}`); // never Bearer: the token is bound to the key
      const spare = request?.clone(); // for the one retry: a Request's body can be read once
      const signal = init?.signal ?? request?.signal;
      const attempt = async (first: boolean) => {
        // The key is read first: a key store that hangs must not hold a request its caller aborted.
        const made = await abortable(sign(method, url, token), signal);
        headers.set('DPoP', made.proof);
        const response = await send(first ? (request ?? input) : (spare ?? input), { ...init, headers });
        learn(response.url || url, response.headers);
        // A token endpoint's answer (a POST with no token) says in its body what a 401 says in a
        // header, whatever its Content-Type says.
        const body = token === undefined && /^POST$/i.test(method) ? await tokenAnswer(response) : undefined;
        return { response, made, body, code: challengeCode(response.status, response.headers, body) };
      };
      let answer = await attempt(true);
      if (retries(answer.code, answer.made)) {
        await answer.response.body?.cancel().catch(() => undefined); // frees the connection
        answer = await attempt(false);
      }
      const { response, code, body } = answer;
      const origin = answer.made.origin;
      const refusals = code === 'invalid_dpop_proof' && response.status === 400 ? (proofRefusals.get(origin) ?? 0) + 1 : 0;
      // Counted only where it may end a session: answers to what no token went with (a token endpoint).
      if (token === undefined && (refusals || response.ok)) proofRefusals.set(origin, refusals % 3);
      if (code === 'use_dpop_nonce' || (refusals && refusals < 3)) {
        await response.body?.cancel().catch(() => undefined);
        throw code === 'use_dpop_nonce'
          ? nonceRefused()
          : new DpopError(
              'DPOP_PROOF',
              () =>
                process.env.NODE_ENV !== 'production' &&
                "The token endpoint refused the DPoP proof (invalid_dpop_proof), not the refresh token: the session is kept. If this machine's clock is off, expose the server's Date header (Access-Control-Expose-Headers: Date) so that proofs are dated on its clock.",
            );
      }
      // The third in a row is the refresh token's refusal: the answer goes on, and ends the session.
      // Tokens the server did not bind to the key (it ignored the proof) are never used as Bearer.
      const granted = body as { access_token?: unknown; token_type?: unknown } | undefined;
      if (response.ok && typeof granted?.access_token === 'string' && !/^DPoP$/i.test(String(granted.token_type))) {
        await response.body?.cancel().catch(() => undefined);
        throw new DpopError(
          'DPOP_NOT_BOUND',
          () =>
            process.env.NODE_ENV !== 'production' &&
            'The token endpoint answered with tokens whose token_type is not DPoP: it ignored the proof and did not bind them to the key, so they are not used. Enable DPoP for this client on the authorization server.',
        );
      }
      if (response.ok && typeof granted?.access_token === 'string') remember(granted.access_token);
      return response;
    };

  /**
   * Whether an answer with the DPoP error `code` is retried, once: when it taught something the
   * proof lacked, a nonce other than the one it carried (another request may have learned it
   * first) or the server's clock.
   */
  const retries = (code: string | undefined, made: { origin: string; nonce?: string; offset: number }) =>
    (code === 'use_dpop_nonce' && nonces.get(made.origin) !== made.nonce) ||
    (code === 'invalid_dpop_proof' && (offsets.get(made.origin) ?? 0) !== made.offset);

  /** `wrapWith(send, session)` for a request whose redirects are followed here, each hop with its own proof. */
  const followed = async (
    send: FetchFn,
    session: DpopSession | undefined,
    input: RequestInfo | URL,
    init: RequestInit,
    request?: Request,
    hops = 0,
  ): Promise<Response> => {
    // A body sent again by a 307 or 308: read before it goes, from a copy (a Request's is read once).
    const body = request?.body ? await request.clone().arrayBuffer() : init.body;
    const response = await wrapWith(send, session)(input, init);
    const location = [301, 302, 303, 307, 308].includes(response.status) ? response.headers.get('location') : null;
    if (location === null || hops >= 20) return response;
    await response.body?.cancel().catch(() => undefined);
    // eslint-disable-next-line @typescript-eslint/no-base-to-string -- a string or a URL here
    const from = absolute(request ? request.url : String(input));
    const to = new URL(location, from).href;
    const method = init.method ?? request?.method ?? 'GET';
    const get = response.status === 303 ? !/^HEAD$/i.test(method) : response.status < 303 && /^POST$/i.test(method);
    const headers = new Headers(init.headers ?? request?.headers);
    if (get) for (const name of ['content-type', 'content-length', 'content-encoding', 'content-language']) headers.delete(name);
    const next: RequestInit = { ...init, method: get ? 'GET' : method, body: get ? undefined : body, headers };
    const answer =
      originOf(to) === originOf(from)
        ? await followed(send, session, to, next, undefined, hops + 1)
        : // Elsewhere: as written, without the token, the proof or the credentials fetch drops there.
          (['authorization', 'dpop', 'cookie', 'proxy-authorization'].forEach((name) => headers.delete(name)),
          await send(to, { ...next, redirect: 'follow' }));
    // As fetch says of a response it reached through a redirect.
    return answer.redirected ? answer : Object.defineProperty(answer, 'redirected', { value: true });
  };

  /**
   * An axios adapter around `adapter`: the config it gets is final (interceptors and transforms
   * ran), so the proof is for the URL called. The config keeps its identity, so attachAxios finds
   * its call by it; an error of this module carries it (without the token) for the same reason.
   */
  const axiosAdapter = <A extends AxiosAdapterLike>(session: DpopSession, adapter: A): A =>
    (async (config: AxiosConfigLike) => {
      const token = tokenIn(config.headers?.get('authorization'));
      if (!ours(session, token)) return adapter(config);
      /** Our error, carrying the config (without the token) as axios' errors do: attachAxios settles its call by it. */
      const fail = (error: Error) => {
        config.headers.delete('Authorization');
        config.headers.delete('DPoP');
        return Object.defineProperty(error, 'config', { value: config });
      };
      const signal = config.signal as AbortSignal | undefined;
      let url: string;
      try {
        url = absolute(axiosUrl(config));
      } catch (error) {
        throw fail(error as Error); // a URL that cannot be resolved here (`//host/path` in Node): nothing is sent
      }
      const redirect = config.beforeRedirect;
      // A redirect Node's adapter follows would carry this proof (made for another URL) and the public key.
      config.beforeRedirect = (options, ...details) => {
        for (const name of Object.keys(options.headers ?? {})) if (/^dpop$/i.test(name)) delete options.headers![name];
        redirect?.(options, ...details);
      };
      const attempt = async () => {
        const made = await abortable(sign(config.method ?? 'get', url, token), signal).catch((error: unknown) => {
          if (signal?.aborted) throw error; // axios answers with its CanceledError
          throw fail(
            error instanceof DpopError
              ? error
              : new DpopError(
                  'DPOP_KEY_STORAGE',
                  () => process.env.NODE_ENV !== 'production' && 'The DPoP key store failed: no proof was made, and nothing was sent.',
                  error,
                ),
          );
        });
        config.headers.set('Authorization', `DPoP ${token}`);
        config.headers.set('DPoP', made.proof);
        let answer: AxiosAnswer, outcome: { response: Awaited<ReturnType<A>> } | { error: unknown };
        try {
          const response = await (adapter(config) as Promise<Awaited<ReturnType<A>>>);
          answer = response as AxiosAnswer;
          outcome = { response };
        } catch (error) {
          const response = (error as { response?: AxiosAnswer } | null)?.response;
          if (!response) throw error;
          answer = response;
          outcome = { error };
        }
        learn(url, answer.headers);
        // Whether axios settled it as an answer or as an error (its `validateStatus`).
        return { outcome, made, code: challengeCode(answer.status ?? 0, answer.headers) };
      };
      let answer = await attempt();
      // A body that is sent once (a stream) cannot go again: the challenge is answered by the next request.
      const data = config.data as { pipe?: unknown; getReader?: unknown } | null | undefined;
      const once = typeof data?.pipe === 'function' || typeof data?.getReader === 'function';
      if (!once && retries(answer.code, answer.made)) answer = await attempt();
      if (answer.code === 'use_dpop_nonce') throw fail(nonceRefused());
      if ('error' in answer.outcome) throw answer.outcome.error;
      return answer.outcome.response;
    }) as A;

  const authorized = <T>(
    auth: Pick<TokenRefresh<string>, 'authorized'>,
    { method, url }: { method: string; url: string | URL },
    send: (headers: { Authorization: string; DPoP: string }) => ObservableInput<T>,
  ): Observable<T> =>
    auth.authorized((token) => {
      let retried = false;
      const attempt = (): Observable<T> =>
        from(sign(method, url, token)).pipe(
          mergeMap((made) =>
            from(send({ Authorization: `DPoP ${token}`, DPoP: made.proof })).pipe(
              tap((answer) => learn(url, headersOf(answer))),
              catchError((error: unknown) => {
                learn(url, headersOf(error));
                const code = challengeCode(httpStatusOf(error) ?? 0, headersOf(error), bodyOf(error));
                if (!retried && retries(code, made)) {
                  retried = true;
                  return attempt();
                }
                // A nonce challenge not answered (no new nonce, or a second one) is no verdict on the
                // token: this error, not the 401, so that `auth.authorized` starts no refresh.
                if (code === 'use_dpop_nonce') throw nonceRefused();
                throw error;
              }),
            ),
          ),
        );
      return attempt();
    });

  return {
    authorized,
    fetch: wrapWith(fetchFn),
    wrap: (send) => wrapWith(send),
    resourceFetch: (session, send = fetchFn) => wrapWith(send, session),
    axiosAdapter,
    proof: async (method, url, accessToken) => (await sign(method, url, accessToken)).proof,
    learn,
    isNonceChallenge: (status, headers, body) => challengeCode(status, headers, body) === 'use_dpop_nonce',
    thumbprint: async () => thumbprintOf(await publicJwk((await keys()).publicKey)),
    ready: () => keys().then(() => undefined),
    clear: () => serial(forget),
    epic:
      ({ actions }) =>
      (action$) =>
        action$.pipe(
          filter((action) => {
            if (!actions.loggedOut.match(action)) return false;
            // Dispatched by the app (no payload) is a logout; the tab where it ended deletes it, once.
            const end = action.payload;
            return !end || (!end.elsewhere && end.reason !== 'otherUser' && end.reason !== 'noSession');
          }),
          mergeMap(() => from(serial(forget)).pipe(catchError(() => EMPTY))),
          ignoreElements(),
        ),
  };
}

/**
 * The `error` of a DPoP answer: in `WWW-Authenticate: DPoP error="…"` of a 401 (an API, RFC 9449
 * §7.1), or in the JSON body of a 400 (a token endpoint, RFC 6749 §5.2).
 */
function challengeCode(status: number, headers: HeadersLike | null | undefined, body?: unknown): string | undefined {
  if (status === 401) {
    const challenge = header(headers, 'www-authenticate') ?? '';
    return /(?:^|[\s,])DPoP\b/i.test(challenge) ? /\berror\s*=\s*"?([\w-]+)/i.exec(challenge)?.[1] : undefined;
  }
  const error = (body as { error?: unknown } | null | undefined)?.error;
  return status === 400 && typeof error === 'string' ? error : undefined;
}

/**
 * The parsed body of a token endpoint's 400 (where it says `use_dpop_nonce`) or 2xx (the tokens),
 * read from a clone whatever its Content-Type (oauth2RefreshGrant parses any); undefined for any
 * other answer, which is returned unread.
 */
async function tokenAnswer(response: Response): Promise<unknown> {
  if (response.status !== 400 && !response.ok) return undefined;
  try {
    return JSON.parse(await response.clone().text()) as unknown;
  } catch {
    return undefined;
  }
}

/** The access token of an `Authorization: Bearer` (or `DPoP`) header. */
function tokenIn(authorization: unknown): string | undefined {
  return typeof authorization === 'string' ? /^(?:Bearer|DPoP)\s+(\S+)$/i.exec(authorization)?.[1] : undefined;
}

/** The URL axios calls for `config` (its `buildFullPath`; the query, which `htu` leaves out, aside). */
function axiosUrl({ url = '', baseURL, allowAbsoluteUrls = true }: AxiosConfigLike): string {
  const isAbsolute = /^([a-z][a-z\d+\-.]*:)?\/\//i.test(url);
  return baseURL && (!isAbsolute || !allowAbsoluteUrls)
    ? url
      ? `${baseURL.replace(/\/+$/, '')}/${url.replace(/^\/+/, '')}`
      : baseURL
    : url;
}

/** `promise`, or the abort reason of `signal` as soon as it aborts. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | null | undefined): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortReason(signal));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** The headers of any client's answer or error: `AjaxError` (its `xhr`), `AjaxResponse`, a `Response`, axios. */
function headersOf(answer: unknown): HeadersLike | undefined {
  const x = answer as {
    xhr?: { getResponseHeader?: (name: string) => string | null };
    responseHeaders?: Record<string, unknown>;
    headers?: HeadersLike;
    response?: { headers?: HeadersLike };
  } | null;
  if (typeof x !== 'object' || x === null) return undefined;
  const xhr = x.xhr;
  if (typeof xhr?.getResponseHeader === 'function') return { get: (name: string) => xhr.getResponseHeader!(name) };
  return x.responseHeaders ?? x.headers ?? x.response?.headers;
}

/** The parsed body of an error answer: axios' `response.data`, an `AjaxError`'s `response`. */
function bodyOf(error: unknown): unknown {
  const x = error as { xhr?: unknown; response?: { data?: unknown } } | null;
  return x?.xhr ? x.response : x?.response?.data;
}

/** One header's text (`name` in lower case), from any client's headers; several values joined as fetch does. */
function header(headers: HeadersLike | null | undefined, name: string): string | undefined {
  if (!headers) return undefined;
  const value =
    typeof headers.get === 'function'
      ? (headers.get as (name: string) => unknown)(name)
      : ((headers as Record<string, unknown>)[name] ?? Object.entries(headers).find(([key]) => key.toLowerCase() === name)?.[1]);
  return typeof value === 'string' ? value : Array.isArray(value) ? value.join(', ') : undefined;
}

/** A relative URL as fetch resolves it: against the page's `document.baseURI`. */
function absolute(url: string | URL): string {
  const base = (globalThis as { document?: { baseURI?: string } }).document?.baseURI;
  return new URL(String(url), base).href;
}

function originOf(url: string): string {
  return new URL(url).origin;
}

function isRequest(input: unknown): input is Request {
  const candidate = input as Partial<Request> | null;
  return typeof candidate === 'object' && candidate !== null && typeof candidate.url === 'string' && typeof candidate.clone === 'function';
}
