/**
 * RTK Query next to the epics: a real `createApi` whose base query is
 * `authBaseQuery(auth, { fetchBaseQuery, baseUrl: '/api' })` (fetchBaseQuery's options), on the same `auth` as every epic. A
 * 401 here joins the one refresh the epics (and the fetch widget) share, and the query is replayed
 * with the new token: there is no `baseQueryWithReauth` of its own.
 *
 * `reportCalls` and `reportAttempts` are the demo's instrumentation only: they put each call and
 * each attempt in the activity panel, around the adapter and as its `fetchFn`. An app writes
 * `baseQuery: authBaseQuery(auth, { fetchBaseQuery, baseUrl: '/api' })` and nothing else (with
 * `fetchFn: dpop.resourceFetch(auth)` in DPoP mode; here `dpop.resourceFetch(auth, reportAttempts)`).
 */
import { createSlice } from '@reduxjs/toolkit';
import {
  createApi,
  fetchBaseQuery,
  type BaseQueryFn,
  type FetchArgs,
  type FetchBaseQueryError,
  type FetchBaseQueryMeta,
} from '@reduxjs/toolkit/query/react';
import { useEffect } from 'react';
import { useSelector } from 'react-redux';
import type { UnknownAction } from 'redux';
import type { Epic } from 'redux-observable';
import { authBaseQuery } from 'redux-observable-token-refresh/rtk-query';
import { filter, map } from 'rxjs';
import { auth, dpop, isNonceChallenge, resourceFetchOver, traceDpop } from '../auth';
import { clock } from '../features/activity';
import { mustWait } from '../features/requests';
import { loginRequested } from '../features/signIn';
import {
  clientCallStarted,
  clientFailed,
  clientRejected,
  clientSent,
  clientSucceeded,
  createSignal,
  describeAttempts,
  genOf,
  loadFromEveryClient,
  type Attempts,
} from '../features/clients';
import type { DemoPanel } from '../panel';

type FetchQuery = BaseQueryFn<string | FetchArgs, unknown, FetchBaseQueryError, object, FetchBaseQueryMeta>;

/**
 * Each call's number and attempts so far, keyed by the call's number, which `reportCalls` puts in
 * an `X-Demo-Call` header: the adapter adds the token inside fetchBaseQuery, so an attempt is seen
 * at its `fetchFn`, as the `Request` that leaves.
 */
const calls = new Map<string, { call: string; attempts: number; challenged: boolean; dispatch: (action: UnknownAction) => unknown }>();

const pathOf = (args: string | FetchArgs) => `/api/${typeof args === 'string' ? args : args.url}`;

const describeError = (error: FetchBaseQueryError): { name: string; message: string } =>
  typeof error.status === 'number'
    ? {
        name: `HTTP ${error.status}`,
        message: (error.data as { error_description?: string } | undefined)?.error_description ?? `HTTP ${error.status}`,
      }
    : { name: (error.data as { name?: string } | undefined)?.name ?? error.status, message: error.error };

/** Around the adapter: one call, from the hook's trigger to the result the hook gets. */
const reportCalls =
  (baseQuery: FetchQuery): FetchQuery =>
  async (args, api, extraOptions) => {
    const waiting = mustWait(auth.selectState(api.getState() as never).status);
    const started = clientCallStarted('rtk-query', api.endpoint, pathOf(args), waiting);
    const { call } = started.payload;
    calls.set(call, { call, attempts: 0, challenged: false, dispatch: api.dispatch });
    api.dispatch(started);
    const tagged =
      typeof args === 'string'
        ? { url: args, headers: { 'X-Demo-Call': call } }
        : { ...args, headers: { ...(args.headers as Record<string, string>), 'X-Demo-Call': call } };
    const result = await Promise.resolve(baseQuery(tagged, api, extraOptions)).finally(() => calls.delete(call));
    api.dispatch(result.error ? clientFailed({ call, error: describeError(result.error) }) : clientSucceeded({ call }));
    return result;
  };

/**
 * The adapter's `fetchFn`: each attempt it sends, with the token generation it carries, and its 401.
 * In DPoP mode it runs under `dpop.resourceFetch(auth, …)`: the proof is in `init.headers` (put there with
 * `Authorization: DPoP`), and the retry that answers a nonce challenge is the same attempt, not a replay.
 */
const reportAttempts = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
  const request = input as Request;
  const current = calls.get(request.headers.get('X-Demo-Call') ?? '');
  if (!current) return fetch(input, init);
  if (!current.challenged) current.dispatch(clientSent({ call: current.call, attempt: ++current.attempts, gen: genOf(request.headers) }));
  current.challenged = false;
  const attempt = current.attempts;
  const response = await fetch(input, init);
  await traceDpop('RTK Query', init?.headers ?? request.headers, response);
  if (isNonceChallenge(response.status, response.headers)) {
    current.challenged = true;
    return response;
  }
  if (!response.ok) {
    const body = (await response
      .clone()
      .json()
      .catch(() => undefined)) as { error_description?: string } | undefined;
    current.dispatch(
      clientRejected({
        call: current.call,
        attempt,
        status: response.status,
        message: body?.error_description ?? `HTTP ${response.status}`,
      }),
    );
  }
  return response;
};

interface Profile {
  username: string;
  name: string;
  email: string;
}
interface ItemList {
  items: Array<{ id: number; name: string }>;
}

export const api = createApi({
  reducerPath: 'rtkQueryApi',
  baseQuery: reportCalls(authBaseQuery(auth, { fetchBaseQuery, baseUrl: '/api', fetchFn: resourceFetchOver(reportAttempts) })),
  endpoints: (build) => ({
    profile: build.query<Profile, void>({ query: () => 'profile' }),
    items: build.query<ItemList, void>({ query: () => 'items' }),
  }),
});

type EndpointName = 'profile' | 'items';
type CallState = 'waiting' | 'in-flight' | 'ok' | 'failed';
interface CallEntry extends Attempts {
  call: string;
  state: CallState;
}
interface RtkCallsState {
  latest: Partial<Record<EndpointName, CallEntry>>;
}

const isEndpoint = (key: string): key is EndpointName => key === 'profile' || key === 'items';

/** The latest call of each endpoint, attempt by attempt, for the tiles ("401 with gen 1, replayed with gen 2"). */
const initialRtkCalls: RtkCallsState = { latest: {} };
const rtkCallsSlice = createSlice({
  name: 'rtkQueryCalls',
  initialState: initialRtkCalls,
  reducers: {},
  extraReducers: (builder) => {
    const update = (state: RtkCallsState, call: string, change: (entry: CallEntry) => void) => {
      const entry = Object.values(state.latest).find((candidate) => candidate.call === call);
      if (entry) change(entry);
    };
    builder
      .addCase(clientCallStarted, (state, { payload }) => {
        if (payload.client !== 'rtk-query' || !isEndpoint(payload.key)) return;
        state.latest[payload.key] = {
          call: payload.call,
          state: payload.waiting ? 'waiting' : 'in-flight',
          gens: [],
          unauthorized: 0,
          waited: payload.waiting,
        };
      })
      .addCase(clientSent, (state, { payload }) =>
        update(state, payload.call, (entry) => {
          entry.state = 'in-flight';
          entry.gens.push(payload.gen);
        }),
      )
      .addCase(clientRejected, (state, { payload }) =>
        update(state, payload.call, (entry) => {
          if (payload.status !== 401) return;
          entry.unauthorized++;
          entry.state = 'waiting';
        }),
      )
      .addCase(clientSucceeded, (state, { payload }) => update(state, payload.call, (entry) => void (entry.state = 'ok')))
      .addCase(clientFailed, (state, { payload }) => update(state, payload.call, (entry) => void (entry.state = 'failed')))
      // A refresh that starts before a call was sent holds it back, as one started during it.
      .addCase(auth.actions.refreshRequested, (state) => {
        for (const entry of Object.values(state.latest)) {
          if (entry.state === 'in-flight' && entry.gens.length === 0) {
            entry.state = 'waiting';
            entry.waited = true;
          }
        }
      })
      .addCase(loginRequested, () => ({ latest: {} }))
      .addCase(auth.actions.loggedOut, () => ({ latest: {} }));
  },
});

/**
 * A session that ends takes its cached data with it: the next user must not see this one's profile.
 * (Tokens taken over from another tab of the same session keep it.)
 */
const resetOnSessionEndEpic: Epic<UnknownAction, UnknownAction> = (action$) =>
  action$.pipe(
    filter((action) => auth.actions.loggedOut.match(action) || auth.actions.refreshFailed.match(action) || loginRequested.match(action)),
    map(() => api.util.resetApiState()),
  );

/** The header's "Refetch" button and the panel's body share no state: a signal joins them. */
const refetch = createSignal();

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each endpoint's summary takes that endpoint's data type; the tile passes the data of the same endpoint.
const ENDPOINTS: Record<EndpointName, { label: string; path: string; summarize: (data: any) => string }> = {
  profile: { label: 'Profile', path: '/api/profile', summarize: (data: Profile) => `${data.name} · ${data.email}` },
  items: {
    label: 'Items',
    path: '/api/items',
    summarize: (data: ItemList) => `${data.items.length} items: ${data.items.map((item) => item.name).join(', ')}`,
  },
};

const badgeLabel: Record<CallState | 'idle', string> = {
  idle: 'Not loaded',
  waiting: 'Waiting for token',
  'in-flight': 'Loading…',
  ok: 'Loaded',
  failed: 'Failed',
};

type QueryResult = ReturnType<typeof api.useLazyProfileQuery>[1] | ReturnType<typeof api.useLazyItemsQuery>[1];

function Tile({ endpoint, result }: { endpoint: EndpointName; result: QueryResult }) {
  const entry = useSelector((state: { rtkQueryCalls: RtkCallsState }) => state.rtkQueryCalls.latest[endpoint]);
  const { label, path, summarize } = ENDPOINTS[endpoint];
  // RTK types this `any` on the union of the two hooks' results; it is the time of the last answer.
  const fulfilledAt = result.fulfilledTimeStamp as number | undefined;
  // The hook says whether a request runs and what it returned; the attempts say whether it waits.
  const state: CallState | 'idle' = result.isFetching
    ? entry?.state === 'waiting'
      ? 'waiting'
      : 'in-flight'
    : result.isSuccess
      ? 'ok'
      : result.isError
        ? 'failed'
        : 'idle';
  const error = result.error as FetchBaseQueryError | undefined;
  return (
    <article className={`tile tile-${state}`} data-testid={`rtk-${endpoint}`} data-state={state}>
      <header>
        <h3>{label}</h3>
        <span className={`badge badge-${state}`}>{badgeLabel[state]}</span>
      </header>
      <code className="path">
        useLazy{endpoint[0]!.toUpperCase() + endpoint.slice(1)}Query() → GET {path}
      </code>
      <p className="tile-body">
        {result.data !== undefined
          ? summarize(result.data)
          : error
            ? describeError(error).message
            : state === 'idle'
              ? 'Press “Refetch”.'
              : ' '}
      </p>
      {entry && <p className="tile-meta">{describeAttempts(entry)}</p>}
      <p className="tile-meta" data-testid={`rtk-${endpoint}-status`}>
        status <code>{result.status}</code>
        {result.isFetching && <> · fetching</>}
        {fulfilledAt !== undefined && <> · data from {clock(fulfilledAt)}</>}
      </p>
    </article>
  );
}

function RtkQueryPanel() {
  const [loadProfile, profile] = api.useLazyProfileQuery();
  const [loadItems, items] = api.useLazyItemsQuery();
  useEffect(() => {
    // A lazy query's trigger always sends a request, so each press refetches.
    const load = () => {
      void loadProfile();
      void loadItems();
    };
    const stopRefetch = refetch.subscribe(load);
    const stopEveryClient = loadFromEveryClient.subscribe(load);
    return () => {
      stopRefetch();
      stopEveryClient();
    };
  }, [loadProfile, loadItems]);
  return (
    <div className="tiles tiles-two">
      <Tile endpoint="profile" result={profile} />
      <Tile endpoint="items" result={items} />
    </div>
  );
}

function RefetchButton() {
  return (
    <button className="button secondary" data-testid="rtk-refetch" onClick={() => refetch.emit()}>
      Refetch
    </button>
  );
}

export const panel: DemoPanel = {
  id: 'rtk-query',
  title: 'RTK Query',
  subtitle: dpop
    ? 'createApi on authBaseQuery(auth, { fetchBaseQuery, baseUrl: "/api", fetchFn: dpop.resourceFetch(auth) })'
    : 'createApi on authBaseQuery(auth, { fetchBaseQuery, baseUrl: "/api" })',
  column: 'main',
  order: 15,
  Component: RtkQueryPanel,
  Actions: RefetchButton,
  reducers: { [api.reducerPath]: api.reducer, rtkQueryCalls: rtkCallsSlice.reducer },
  middleware: [api.middleware],
  epics: [resetOnSessionEndEpic],
};
