/**
 * A tiny app for the tab tests of issue 15 (__tests__/e2e/tabs.test.ts), bundled by esbuild and
 * served by the demo's auth server from the same origin as the API, so the refresh cookie works.
 *
 * The URL picks the session model and when the page asks for the session:
 * - `mode=cookie|storage`: the refresh token in the server's HttpOnly cookie, or in localStorage;
 * - `restore=same-tick|before|before-epic|none`: `auth.restore()` at start with the startup
 *   requests fired in the same tick after it; the requests first and `restore()` 30 ms later; the
 *   requests dispatched before `epicMiddleware.run(auth.epic)` (then `restore()`); or no call;
 * - `fire=1`: at start, one request through each adapter (RTK Query, authFetch, axios).
 *
 * Everything the tests read goes to `window.__app`: the package's actions (type and payload; the
 * tests check that no token is in them), every change of the store's status and `ended`, each
 * request's outcome and whether each attempt carried `Authorization`. Never a token.
 */
import axios from 'axios';
import { configureStore, type Middleware, type UnknownAction } from '@reduxjs/toolkit';
import { createApi, fetchBaseQuery } from '@reduxjs/toolkit/query';
import { createEpicMiddleware } from 'redux-observable';
import { createTokenRefresh, localStorageStorage, type Tokens } from '../../../src/index';
import { authBaseQuery } from '../../../src/adapters/rtkQuery';
import { authFetch } from '../../../src/adapters/fetch';
import { attachAxios } from '../../../src/adapters/axios';
import { cookieSession } from '../../../src/cookie';

type Via = 'rtk' | 'fetch' | 'axios';
interface Outcome {
  via: Via;
  tag: string;
  ok: boolean;
  status: number | string | null;
  error: string | null;
  sub: string | null;
  at: number;
}
interface Sent {
  via: Via;
  url: string;
  auth: boolean;
  at: number;
}

const params = new URLSearchParams(location.search);
const mode: 'cookie' | 'storage' = params.get('mode') === 'storage' ? 'storage' : 'cookie';
const restoreAt = params.get('restore') ?? 'same-tick';
const fire = params.get('fire') === '1';
export const TOKEN_KEY = 'e2e-tabs/tokens';
const t0 = performance.now();
const now = () => Math.round(performance.now() - t0);

class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly status: number,
    readonly error: string | undefined,
  ) {
    super(`HTTP ${status}${error ? ` ${error}` : ''}`);
  }
}

async function post<T>(path: string, body: unknown, signal?: AbortSignal): Promise<T> {
  const response = await fetch(path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body ?? {}),
    signal,
  });
  if (!response.ok) {
    const data = (await response.json().catch(() => null)) as { error?: string } | null;
    throw new HttpError(response.status, data?.error);
  }
  return (response.status === 204 ? undefined : await response.json()) as T;
}

interface TokenResponse {
  accessToken: string;
  refreshToken?: string;
}
const toTokens = ({ accessToken, refreshToken }: TokenResponse): Tokens =>
  mode === 'cookie' ? { accessToken } : { accessToken, refreshToken };

const storage = localStorageStorage(TOKEN_KEY);
const auth =
  mode === 'cookie'
    ? createTokenRefresh({
        session: cookieSession(),
        refresh: (_none, { signal }) => post<TokenResponse>('/auth/refresh', {}, signal).then(toTokens),
      })
    : createTokenRefresh({
        storage,
        refresh: (refreshToken, { signal }) => post<TokenResponse>('/auth/refresh', { refreshToken }, signal).then(toTokens),
      });

// What left, and whether it carried a token: every attempt, replays included.
const sent: Sent[] = [];
const hasAuthorization = (input: unknown, init?: RequestInit) =>
  (typeof input === 'object' && input !== null && 'headers' in input && (input as Request).headers.has('authorization')) ||
  (init?.headers !== undefined && new Headers(init.headers).has('authorization'));
const recordingFetch = (via: Via) => (input: RequestInfo | URL, init?: RequestInit) => {
  sent.push({
    via,
    url: typeof input === 'object' && 'url' in input ? input.url : String(input),
    auth: hasAuthorization(input, init),
    at: now(),
  });
  return fetch(input, init);
};

const api = createApi({
  reducerPath: 'api',
  baseQuery: authBaseQuery(auth, { fetchBaseQuery, baseUrl: '/api', fetchFn: recordingFetch('rtk') }),
  endpoints: (build) => ({ echo: build.query<{ sub: string }, string>({ query: (tag) => `echo?tag=${encodeURIComponent(tag)}` }) }),
});
const apiFetch = authFetch(auth, { fetchFn: recordingFetch('fetch') });
const http = axios.create({ baseURL: '/api' });
const defaultAdapter = axios.getAdapter(axios.defaults.adapter);
http.defaults.adapter = (config) => {
  const headers = config.headers as { get?: (name: string) => unknown; Authorization?: unknown } | undefined;
  sent.push({ via: 'axios', url: String(config.url), auth: Boolean(headers?.get?.('Authorization') ?? headers?.Authorization), at: now() });
  return defaultAdapter(config);
};
attachAxios(auth, http);

// The package's actions as the store saw them, and every change of status or `ended`.
const actions: Array<{ type: string; payload: unknown; at: number; status: string }> = [];
const statuses: Array<{ status: string; ended: unknown; at: number }> = [];
const recorder: Middleware = (store) => (next) => (action) => {
  const result = next(action);
  const { type, payload } = action as UnknownAction & { payload?: unknown };
  if (typeof type === 'string' && type.startsWith(`${auth.reducerPath}/`)) {
    actions.push({
      type: type.slice(auth.reducerPath.length + 1),
      payload: payload === undefined ? null : JSON.parse(JSON.stringify(payload)),
      at: now(),
      status: auth.selectState(store.getState()).status,
    });
  }
  return result;
};
const epicMiddleware = createEpicMiddleware<UnknownAction, UnknownAction, unknown>();
const store = configureStore({
  reducer: { [auth.reducerPath]: auth.reducer, [api.reducerPath]: api.reducer },
  middleware: (getDefault) =>
    getDefault({ serializableCheck: false, immutableCheck: false }).concat(recorder, api.middleware, epicMiddleware),
});
interface State {
  tokenRefresh: { status: string; ended?: unknown; expiresAt: number | null };
}
const authState = () => (store.getState() as unknown as State).tokenRefresh;
let last = '';
const watch = () => {
  const { status, ended } = authState();
  const key = JSON.stringify([status, ended ?? null]);
  if (key !== last) {
    statuses.push({ status, ended: ended === undefined ? null : (JSON.parse(JSON.stringify(ended)) as unknown), at: now() });
    last = key;
  }
};
watch();
store.subscribe(watch);

let seq = 0;
const errorName = (error: unknown): string => {
  const e = error as { name?: unknown; data?: { name?: unknown } } | null;
  return String(e?.data?.name ?? e?.name ?? error);
};

/** One request through `via`; its outcome as the app sees it. */
async function call(via: Via, label = 'call'): Promise<Outcome> {
  const tag = `${label}-${via}-${++seq}`;
  const done = (ok: boolean, status: number | string | null, error: string | null, sub: string | null = null): Outcome => ({
    via,
    tag,
    ok,
    status,
    error,
    sub,
    at: now(),
  });
  try {
    if (via === 'rtk') {
      const result = await store.dispatch(api.endpoints.echo.initiate(tag, { subscribe: false, forceRefetch: true }));
      if (result.error) {
        const error = result.error as { status?: number | string; data?: { name?: string } };
        return done(
          false,
          error.status ?? null,
          error.data?.name ?? (typeof error.status === 'number' ? `HTTP ${error.status}` : String(error.status)),
        );
      }
      return done(true, 200, null, result.data?.sub ?? null);
    }
    if (via === 'fetch') {
      const response = await apiFetch(`/api/echo?tag=${tag}`);
      const body = (await response.json().catch(() => null)) as { sub?: string } | null;
      return response.ok ? done(true, response.status, null, body?.sub ?? null) : done(false, response.status, `HTTP ${response.status}`);
    }
    const response = await http.get<{ sub: string }>(`/echo?tag=${tag}`);
    return done(true, response.status, null, response.data?.sub ?? null);
  } catch (error) {
    const status = (error as { response?: { status?: number } })?.response?.status ?? null;
    return done(false, status, status !== null ? `HTTP ${status}` : errorName(error));
  }
}

const VIAS: Via[] = ['rtk', 'fetch', 'axios'];
const fireAll = () => Promise.all(VIAS.map((via) => call(via, 'startup')));

const poll = { started: false, actionIndex: 0, statusIndex: 0, results: [] as Outcome[], done: false };

const app = {
  mode,
  actions,
  statuses,
  sent,
  poll,
  startup: {
    restored: null as boolean | string | null,
    outcomes: [] as Outcome[],
    done: false,
    restoreCalledAt: null as number | null,
    firedAt: null as number | null,
  },
  state: () => JSON.parse(JSON.stringify(authState())) as State['tokenRefresh'],
  getStatus: () => auth.getStatus(),
  hasToken: () => auth.getAccessToken() !== undefined,
  call,
  async login(username = 'demo', password = 'demo'): Promise<void> {
    const tokens = await post<TokenResponse>(
      '/auth/login',
      mode === 'cookie' ? { username, password, refreshTokenIn: 'cookie' } : { username, password },
    );
    auth.setTokens(toTokens(tokens));
  },
  /** `auth.refresh()` now (a tab that refreshes right after it loaded the session); true, or the error's name. */
  refresh: (): Promise<true | string> => auth.refresh().then(() => true as const, errorName),
  /** The user's logout: the tokens go first, then the server revokes the session (best effort). */
  async logout(): Promise<void> {
    const refreshToken = mode === 'storage' ? storage.get()?.refreshToken : undefined;
    auth.clearTokens();
    await post('/auth/logout', refreshToken ? { refreshToken } : {}).catch(() => undefined);
  },
  /** `n` requests, one every `everyMs`, round-robin over the three adapters, each not waiting for the one before. */
  startPoll(n: number, everyMs = 25): void {
    Object.assign(poll, { started: true, actionIndex: actions.length, statusIndex: statuses.length, results: [], done: false });
    const pending: Array<Promise<unknown>> = [];
    let i = 0;
    const timer = setInterval(() => {
      const via = VIAS[i % VIAS.length]!;
      pending.push(call(via, 'poll').then((outcome) => poll.results.push(outcome)));
      if (++i >= n) {
        clearInterval(timer);
        void Promise.all(pending).then(() => (poll.done = true));
      }
    }, everyMs);
  },
};
Object.assign(window, { __app: app });

// Start-up, in the order the URL asks for.
const restoreNow = () => {
  app.startup.restoreCalledAt = now();
  return auth.restore().then(
    (restored) => (app.startup.restored = restored),
    (error: unknown) => (app.startup.restored = `rejected: ${errorName(error)}`),
  );
};
const fireNow = () => {
  app.startup.firedAt = now();
  return fireAll();
};
let started: Array<Promise<unknown>> = [];
if (restoreAt === 'before-epic' && fire) started.push(fireNow());
epicMiddleware.run(auth.epic);
if (restoreAt === 'same-tick') started = [restoreNow(), ...(fire ? [fireNow()] : [])];
else if (restoreAt === 'before') started = [...(fire ? [fireNow()] : []), new Promise((wait) => setTimeout(wait, 30)).then(restoreNow)];
else if (restoreAt === 'before-epic') started.push(restoreNow());
else if (fire) started.push(fireNow());
void Promise.all(started).then((results) => {
  const outcomes = results.find(Array.isArray) as Outcome[] | undefined;
  app.startup.outcomes = outcomes ?? [];
  app.startup.done = true;
});
