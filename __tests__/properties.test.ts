import fc from 'fast-check';
import { catchError, defer, finalize, map, mergeMap, throwError, timer, type Observable, type Subscription } from 'rxjs';
import type { TestScheduler } from 'rxjs/testing';
import { RefreshUnavailableError, createTokenRefresh, isAuthRefreshError, type Tokens } from '../src';
import { cookieSession } from '../src/cookie';
import * as machine from '../src/session/machine';
import { faultyStorage, type FaultyAsyncStorage, type StorageOperation } from './support/faultyStorage';
import { FakeServer, createStore, newTestScheduler } from './support/harness';

/**
 * The simulator: what happens to a session, at random and in virtual time. The app calls its API,
 * logs in and out, asks for a refresh or a restore; the server stops taking a token (a 401, and a
 * late 401 for the calls in flight) and answers refreshes as planned, slowly or never; the network
 * goes down; storage throws; the browser comes back online; an async storage answers at page load;
 * the app starts `auth.epic` late. Whatever happens, the invariants a user relies on hold.
 *
 * Each simulator event drives events of the session machine (src/session/machine.ts): `DRIVES`
 * says which, and together they draw every event of `EVENT_TYPES`, the list the machine's table
 * test (session/machine.test.ts) covers pair by pair.
 */
const { EVENT_TYPES } = machine;
type MachineEvent = (typeof EVENT_TYPES)[number];

type Event =
  | { at: number; kind: 'call'; latency: number }
  | { at: number; kind: 'expire' }
  | { at: number; kind: 'login' }
  | { at: number; kind: 'sameUserLogin' }
  | { at: number; kind: 'logout' }
  | { at: number; kind: 'unsubscribe'; index: number }
  | { at: number; kind: 'refresh'; via: 'auth.refresh()' | 'refreshRequested' }
  | { at: number; kind: 'restore' }
  | { at: number; kind: 'online' }
  | { at: number; kind: 'outage'; duration: number }
  | { at: number; kind: 'storageFault'; operation: StorageOperation; times: number }
  | { at: number; kind: 'storageAnswers' }
  | { at: number; kind: 'epicStarts' };
type Kind = Event['kind'];

/** What the token endpoint answers the refreshes, in order; once the plan is spent, 'grant'. */
type Answer = 'grant' | 'refuse' | 'unavailable' | 'hang';
const ANSWERED = { grant: 'ok', refuse: 401, unavailable: 503, hang: 'never' } as const satisfies Record<Answer, unknown>;

/** The machine events each simulator event and each answer of the token endpoint drive. */
const DRIVES: Record<Kind | Answer, readonly MachineEvent[]> = {
  // A call sent with a token the server no longer takes gets a 401 ('rejected'); one made when its
  // token is known to be due starts a refresh first ('refresh', reason 'expired').
  call: ['rejected', 'refresh'],
  expire: ['rejected'],
  login: ['login'],
  sameUserLogin: ['login'],
  logout: ['logout'],
  // A waiting call that leaves is the shell's business (its waiters), not the machine's.
  unsubscribe: [],
  // auth.refresh(), or a refreshRequested dispatched by hand.
  refresh: ['refresh'],
  // auth.restore(): in cookie mode, a restore from the cookie.
  restore: ['refresh'],
  // The browser's `online` event.
  online: ['wake'],
  // The token endpoint unreachable: the refresh could not be done.
  outage: ['failed'],
  // A failed write or clear is the shell's business (storage), not the machine's.
  storageFault: [],
  // The async storage read at page load answers (without it, the read times out: 'hydrated' too).
  storageAnswers: ['hydrated'],
  // epicMiddleware.run, late: a restore queued for it starts ('attached'), or waited refreshTimeoutMs for it ('timeout').
  epicStarts: ['attached', 'timeout'],
  grant: ['refreshed'],
  refuse: ['failed'],
  unavailable: ['failed'],
  // A refresh that never answers times out.
  hang: ['failed'],
};

/**
 * How the page starts: a login (tokens in a synchronous storage); a reload, with the session in an
 * async storage read at start; or cookie mode, the session restored from the HttpOnly cookie.
 */
type Page = 'login' | 'reload' | 'cookie';

/** What a property draws: which simulator events (with their weights), which storage operations fail, which pages. */
interface World {
  events: Partial<Record<Kind, number>>;
  faulty: StorageOperation[];
  pages: Page[];
}

/** The app's and the server's races, without the real world's faults: a login page, storage that works, a network that is up. */
const RACES: World = {
  events: { call: 12, expire: 4, logout: 2, login: 2, unsubscribe: 2, refresh: 2, online: 2, epicStarts: 1 },
  faulty: [],
  pages: ['login'],
};

/** Everything: network outages, storage faults, account switches, every page. */
const realWorld = (faulty: StorageOperation[]): World => ({
  events: { ...RACES.events, outage: 4, storageFault: 2, sameUserLogin: 2, storageAnswers: 2, restore: 1 },
  faulty,
  pages: ['login', 'reload', 'cookie'],
});

const at = fc.nat(300);
function event(kind: Kind, world: World): fc.Arbitrary<Event> {
  switch (kind) {
    case 'call':
      return fc.record({ at, kind: fc.constant(kind), latency: fc.integer({ min: 1, max: 30 }) });
    case 'unsubscribe':
      return fc.record({ at, kind: fc.constant(kind), index: fc.nat(40) });
    case 'refresh':
      return fc.record({ at, kind: fc.constant(kind), via: fc.constantFrom('auth.refresh()' as const, 'refreshRequested' as const) });
    case 'outage':
      return fc.record({ at, kind: fc.constant(kind), duration: fc.integer({ min: 1, max: 200 }) });
    case 'storageFault':
      return fc.record({
        at,
        kind: fc.constant(kind),
        operation: fc.constantFrom(...world.faulty),
        times: fc.integer({ min: 1, max: 3 }),
      });
    default:
      return fc.record({ at, kind: fc.constant(kind) });
  }
}

const scenario = (world: World) =>
  fc.record({
    page: fc.constantFrom(...world.pages),
    accessTtl: fc.option(fc.integer({ min: 10, max: 200 }), { nil: undefined }),
    expirySkewMs: fc.integer({ min: 0, max: 60 }),
    refreshLatency: fc.integer({ min: 0, max: 40 }),
    refreshTimeoutMs: fc.integer({ min: 20, max: 150 }),
    refreshRetries: fc.integer({ min: 0, max: 2 }),
    refreshBackoffMs: fc.integer({ min: 0, max: 20 }),
    maxRetries: fc.integer({ min: 0, max: 2 }),
    plan: fc.array(fc.constantFrom<Answer>('grant', 'grant', 'grant', 'grant', 'refuse', 'unavailable', 'hang'), { maxLength: 8 }),
    events: fc.array(
      fc.oneof(...Object.entries(world.events).map(([kind, weight]) => ({ weight, arbitrary: event(kind as Kind, world) }))),
      { minLength: 1, maxLength: 30 },
    ),
  });

type Scenario = ReturnType<typeof scenario> extends fc.Arbitrary<infer T> ? T : never;

/** Events happen by frame 300 and every wait is bounded, so a run is over long before SETTLED_BY. */
const SETTLED_BY = 10_000;
const FRAME_BUDGET = 100_000;

/** The browser's `window` for the epic's `online` listener (Node has none). */
const browser = new EventTarget();
beforeAll(() =>
  Object.assign(globalThis, {
    addEventListener: browser.addEventListener.bind(browser),
    removeEventListener: browser.removeEventListener.bind(browser),
  }),
);
afterAll(() => {
  const g = globalThis as Partial<EventTarget>;
  delete g.addEventListener;
  delete g.removeEventListener;
});

/** Lets the promises settle that a frame resolved (an async storage's, auth.refresh()'s). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Virtual time, frame by frame, up to `until`; between frames the promises settle, as they do
 * between a browser's timers. `TestScheduler.run` cannot wait for them, so everything here runs on
 * `ts` by name: `auth`'s scheduler, the server's and the network's timers.
 */
async function play(ts: TestScheduler, until: number, afterFrame: () => void): Promise<void> {
  for (let next = ts.actions[0]; next && next.delay <= until; next = ts.actions[0]) {
    ts.maxFrames = next.delay;
    ts.flush();
    await settle();
    afterFrame();
  }
}

/** One run: the events in virtual time, then the invariants. */
async function simulate(s: Scenario): Promise<void> {
  const ts = newTestScheduler();
  const server = new FakeServer(() => ts.now(), ts);
  server.accessTtl = s.accessTtl;
  server.refreshLatency = s.refreshLatency;
  server.refreshPlan = s.plan.map((answer) => ANSWERED[answer]);
  const drawn = (kind: Kind) => s.events.filter((e) => e.kind === kind).length;
  const violations: string[] = [];

  // The network: down while `offlineUntil` is ahead. Requests and refreshes sent then get fetch's TypeError.
  let offlineUntil = -1;
  const offline = () => ts.now() < offlineUntil;
  const networkError = () => new TypeError('fetch failed');
  const unreachable = (latency: number) => timer(latency, ts).pipe(mergeMap(() => throwError(networkError)));

  // Sessions as the app sees them: a logout or another user's login starts a new one; a refresh
  // or the same user's re-login keeps it. Every token the server issues belongs to the session current then.
  let appSession = 0;
  let loggedIn = true;
  const sessionOf = new Map<string, number>();
  const issued = (tokens: Tokens) => (sessionOf.set(tokens.accessToken, appSession), tokens);

  // Cookie mode: the refresh token is in the browser's cookie jar, which the server sets at login
  // and at each refresh and clears at logout. The page never sees it.
  const cookieMode = s.page === 'cookie';
  let cookie: string | undefined;

  // Definitive answers of the token endpoint (400/401): the only refresh outcome that may end a session.
  let definitive = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  const refresh = (refreshToken: string | undefined, context: { signal: AbortSignal }): Observable<Tokens> =>
    defer(() => {
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      if (offline()) return unreachable(s.refreshLatency);
      return server.refresh((cookieMode ? cookie : refreshToken) ?? '', context).pipe(
        map(issued),
        map((tokens) =>
          cookieMode ? ((cookie = tokens.refreshToken), { accessToken: tokens.accessToken, expiresAt: tokens.expiresAt }) : tokens,
        ),
        catchError((error: { status?: number }) => {
          if (error?.status === 400 || error?.status === 401) definitive++;
          return throwError(() => error);
        }),
      );
    }).pipe(finalize(() => inFlight--));

  // A reload reads the session an earlier page stored, asynchronously; the read answers at `storageAnswers`.
  const storage = s.page === 'reload' ? faultyStorage(null, { async: true }) : faultyStorage();
  let answerRead = () => {};
  if (s.page === 'reload') {
    storage.seed(issued(server.login()));
    answerRead = (storage as FaultyAsyncStorage).hold('get');
  }

  const options = {
    scheduler: ts,
    storage,
    expirySkewMs: s.expirySkewMs,
    refreshTimeoutMs: s.refreshTimeoutMs,
    refreshRetries: s.refreshRetries,
    refreshBackoffMs: s.refreshBackoffMs,
    maxRetries: s.maxRetries,
  };
  const auth = cookieMode
    ? createTokenRefresh({ ...options, session: cookieSession(), refresh: (_none: undefined, context) => refresh(undefined, context) })
    : createTokenRefresh({ ...options, refresh });

  // Early refreshes per token: a refresh started of our own accord before the token expired.
  const early = new Map<string, number>();
  /** Whether the refresh running is a restore: without a session, there are no tokens to keep. */
  let restoring = false;
  /** Actions the app dispatched by hand, not the package. */
  const byHand = new WeakSet<object>();
  const firstStart = Math.min(...s.events.filter((e) => e.kind === 'epicStarts').map((e) => e.at));
  let epicRunning = firstStart === Infinity;
  const store = createStore(auth, {
    run: epicRunning,
    onAction: (action) => {
      if (byHand.has(action)) return;
      if (auth.actions.refreshRequested.match(action)) {
        restoring = action.payload.reason === 'restore';
        if (action.payload.reason === 'expired') {
          const token = auth.getAccessToken();
          const expiresAt = token === undefined ? undefined : server.expiries.get(token);
          if (token !== undefined && expiresAt !== undefined && ts.now() < expiresAt) early.set(token, (early.get(token) ?? 0) + 1);
        }
      }
      if (auth.actions.refreshUnavailable.match(action) && !restoring && auth.getAccessToken() === undefined)
        violations.push(`tokens dropped by an outage at ${ts.now()}`);
    },
  });

  /** What the app asked of `auth` with a promise (`refresh()`, `restore()`), and how it ended. */
  const asked: Array<{ what: 'refresh' | 'restore'; settled: boolean; error?: unknown }> = [];
  const track = (what: 'refresh' | 'restore', promise: Promise<unknown>) => {
    const entry: (typeof asked)[number] = { what, settled: false };
    asked.push(entry);
    promise.then(
      () => (entry.settled = true),
      (error: unknown) => ((entry.settled = true), (entry.error = error)),
    );
  };

  /** The latest of the app's sessions the package has had a token of: sampled at each login and after each frame. */
  let held = -1;
  const sample = () => void (auth.getAccessToken() !== undefined && (held = appSession));
  const login = (sameUser: boolean) => {
    const tokens = issued(server.login());
    if (cookieMode) cookie = tokens.refreshToken;
    auth.setTokens(cookieMode ? { accessToken: tokens.accessToken, expiresAt: tokens.expiresAt } : tokens, { sameUser });
    sample();
  };
  if (s.page === 'login') login(false);
  if (cookieMode) {
    cookie = issued(server.login()).refreshToken; // an earlier page's login
    track('restore', auth.restore()); // this page's load
  }

  const send = server.request;
  const calls: Array<{
    session: number | undefined;
    sent: number;
    settled: boolean;
    cancelled: boolean;
    subscription?: Subscription;
    error?: unknown;
  }> = [];
  const request = (call: (typeof calls)[number], latency: number) => (token: string) =>
    defer(() => {
      if (!loggedIn) violations.push(`sent at ${ts.now()} after logout`);
      // A call belongs to the session current when it started, also while it waits for its first token.
      call.session ??= sessionOf.get(token);
      if (sessionOf.get(token) !== call.session) {
        violations.push(
          `a call of session ${call.session} sent with a token of session ${sessionOf.get(token)} at ${ts.now()}${call.sent ? '' : ' (its first send)'}`,
        );
      }
      // The store says why: after a failed refresh it is 'unauthenticated'; during a refresh, 'refreshing'.
      // While a refresh cannot be done ('unavailable') a token that has not expired is still sent.
      // (Before epicMiddleware.run the store has not heard of the session yet.)
      if (epicRunning && store.state.status !== 'authenticated' && store.state.status !== 'unavailable')
        violations.push(`sent at ${ts.now()} while the store says ${store.state.status}`);
      call.sent++;
      const expiresAt = server.expiries.get(token);
      if (expiresAt !== undefined && ts.now() >= expiresAt) violations.push(`sent ${token} at ${ts.now()}, expired at ${expiresAt}`);
      if (offline()) return unreachable(latency);
      return send(token, latency);
    });

  for (const e of s.events) {
    ts.schedule(() => {
      switch (e.kind) {
        case 'call': {
          // A call belongs to the session the package has when it starts; made while the page has
          // none yet (restoring), to the one it first gets a token of.
          const session = auth.getAccessToken() === undefined ? undefined : appSession;
          const call: (typeof calls)[number] = { session, sent: 0, settled: false, cancelled: false };
          calls.push(call);
          call.subscription = auth.authorized(request(call, e.latency)).subscribe({
            complete: () => (call.settled = true),
            error: (error: unknown) => {
              call.settled = true;
              call.error = error;
            },
          });
          break;
        }
        case 'expire':
          server.validAccess = `expired-${ts.now()}`;
          break;
        case 'logout':
          appSession++;
          loggedIn = false;
          cookie = undefined;
          auth.clearTokens();
          break;
        case 'login':
          appSession++;
          loggedIn = true;
          login(false);
          break;
        case 'sameUserLogin':
          if (!loggedIn) appSession++; // after a logout, a login is a new session whoever it is
          loggedIn = true;
          login(true);
          break;
        case 'unsubscribe': {
          const call = calls[e.index];
          if (call && !call.settled) {
            call.cancelled = true;
            call.subscription?.unsubscribe();
          }
          break;
        }
        case 'refresh':
          if (e.via === 'auth.refresh()') track('refresh', auth.refresh());
          else {
            const action = auth.actions.refreshRequested({ reason: 'manual' });
            byHand.add(action);
            store.dispatch(action);
          }
          break;
        case 'restore':
          track('restore', auth.restore());
          break;
        case 'online':
          browser.dispatchEvent(new Event('online'));
          break;
        case 'outage':
          offlineUntil = Math.max(offlineUntil, ts.now() + e.duration);
          break;
        case 'storageFault':
          storage.fail(e.operation, { times: e.times });
          break;
        case 'storageAnswers':
          answerRead();
          break;
        case 'epicStarts':
          if (!epicRunning) store.run();
          epicRunning = true;
          break;
      }
    }, e.at);
  }
  try {
    await play(ts, FRAME_BUDGET, sample);
    await settle();
    sample();

    const own = store.actions.filter((a) => !byHand.has(a));
    const refreshes = own.filter((a) => auth.actions.refreshRequested.match(a)).length;
    // A refresh that could not be done (timeout, 503, offline) is tried again by a later request or `online`, once per outage.
    const outages = own.filter((a) => auth.actions.refreshUnavailable.match(a)).length;
    const failed = own.filter((a) => auth.actions.refreshFailed.match(a)).length;
    const ends = own.filter((a) => auth.actions.loggedOut.match(a)).map((a) => a.payload?.reason);
    const noSession = ends.filter((reason) => reason === 'noSession').length;
    const knownExpiries = s.accessTtl === undefined ? 0 : server.expiries.size;

    expect(ts.now()).toBeLessThan(SETTLED_BY);
    expect(violations).toEqual([]);
    expect(maxInFlight).toBeLessThanOrEqual(1);
    // Nothing hangs: every call ended, in a value or an error; so did every promise the app was given.
    expect(calls.filter((c) => !c.settled && !c.cancelled)).toEqual([]);
    expect(asked.filter((a) => !a.settled)).toEqual([]);
    // Every error is one of the package's, or a call's own network error while the network was down.
    for (const call of calls) {
      if (call.error !== undefined && !isAuthRefreshError(call.error)) {
        expect(call.error).toEqual(networkError());
        expect(drawn('outage')).toBeGreaterThan(0);
      }
    }
    for (const { what, error } of asked) {
      if (error !== undefined) expect(what === 'restore' ? error instanceof RefreshUnavailableError : isAuthRefreshError(error)).toBe(true);
    }
    // Every refresh has a cause: an expiry the server decided or the token said, an outage to retry, the app's ask.
    expect(refreshes).toBeLessThanOrEqual(
      drawn('expire') + knownExpiries + outages + drawn('refresh') + drawn('restore') + (cookieMode ? 1 : 0),
    );
    // A session ends only by the token endpoint's "no" or a logout.
    expect(failed).toBeLessThanOrEqual(definitive);
    expect(ends.filter((reason) => reason === 'logout').length).toBeLessThanOrEqual(drawn('logout'));
    // Every end says why, and the refused refreshes are exactly the store's refreshFailed.
    expect(ends.filter((reason) => reason === 'rejected' || reason === 'refreshError')).toHaveLength(failed);
    expect(ends.filter((reason) => reason === 'otherUser').length).toBeLessThanOrEqual(drawn('login') + drawn('sameUserLogin'));
    // 'noSession': a page that found no session to restore (the read failed or timed out, the cookie said no).
    const reasons = ['logout', 'rejected', 'refreshError', 'otherUser', ...(s.page === 'login' ? [] : ['noSession'])];
    expect(ends.filter((reason) => !reasons.includes(reason!))).toEqual([]);
    if (s.page === 'reload') expect(noSession).toBeLessThanOrEqual(1);
    // A session the app has, the package keeps (once it had it: a page may not restore it, offline or without a cookie).
    if (loggedIn && failed === 0 && held === appSession) expect(auth.getAccessToken()).toBeDefined();
    // The store says what the package knows, once the epic runs.
    if (epicRunning) expect(store.state.status).toBe(auth.getStatus());
    // No token reaches the store: not in its state, not in an action.
    expect(JSON.stringify([store.getState(), store.actions]).match(/\b(?:access|refresh)-L?\d+\b/g)).toBeNull();
    // No token is refreshed early twice of our own accord.
    expect([...early.values()].filter((n) => n > 1)).toEqual([]);
  } finally {
    store.stop(); // the epic stops listening for `online`
  }
}

const PROPERTY_RUNS = Number(process.env.PROPERTY_RUNS ?? (process.env.MUTATION_TESTING ? 300 : 1000));
const PROPERTY_SEED = process.env.PROPERTY_SEED === undefined ? undefined : Number(process.env.PROPERTY_SEED);
/** Generous: a run takes a few milliseconds, on a busy machine tens. */
const timeoutFor = (runs: number) => Math.max(120_000, runs * 30);

test("the simulator's events and the token endpoint's answers drive every event of the session machine", () => {
  const drawnBy = (world: World) => [...Object.keys(world.events), 'grant', 'refuse', 'unavailable', 'hang'] as Array<Kind | Answer>;
  const machineEvents = (world: World) => new Set(drawnBy(world).flatMap((kind) => DRIVES[kind]));
  expect([...machineEvents(realWorld(['get', 'clear']))].sort()).toEqual([...EVENT_TYPES].sort());
  expect([...machineEvents(realWorld(['set']))].sort()).toEqual([...EVENT_TYPES].sort());
});

test('and every one of them reaches the machine: 300 runs of the real world hand transition() each event type', async () => {
  const seen = new Set<string>();
  const { transition } = machine;
  const spy = jest
    .spyOn(machine, 'transition')
    .mockImplementation((state, event, ctx) => (seen.add(event.type), transition(state, event, ctx)));
  const warn = jest.spyOn(console, 'warn').mockImplementation(() => {});
  try {
    await fc.assert(fc.asyncProperty(scenario(realWorld(['get', 'clear'])), simulate), { numRuns: 300, seed: 1 });
  } finally {
    warn.mockRestore();
    spy.mockRestore();
  }
  expect([...seen].sort()).toEqual([...EVENT_TYPES].sort());
});

test(
  'invariants hold for any interleaving (1,000 random runs in virtual time)',
  () => fc.assert(fc.asyncProperty(scenario(RACES), simulate), { numRuns: 1000 }),
  timeoutFor(1000),
);

/**
 * The real world among the races: network outages (the token endpoint and the API unreachable for a
 * while), storage faults (get, set or clear throwing), account switches (another user's login, or
 * the same user's re-login with `sameUser`), and the page loads (an async storage, a cookie).
 *
 * `PROPERTY_RUNS` and `PROPERTY_SEED` set the number of runs and the seed (a soak:
 * `PROPERTY_RUNS=100000 npx jest __tests__/properties.test.ts -t outages`); 1,000 in `npm test`.
 */
test(
  `invariants hold with network outages, storage faults and account switches (${PROPERTY_RUNS.toLocaleString('en')} random runs in virtual time)`,
  async () => {
    const seed = PROPERTY_SEED ?? Date.now() ^ (Math.random() * 0x7fffffff);
    const started = Date.now();
    // Storage faults are reported by a development warning each: expected here, thousands of them.
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      // Storage faults here: get and clear; set in the test below.
      await fc.assert(fc.asyncProperty(scenario(realWorld(['get', 'clear'])), simulate), { numRuns: PROPERTY_RUNS, seed });
    } finally {
      warn.mockRestore();
    }
    if (process.env.PROPERTY_RUNS)
      console.log(`property soak: ${PROPERTY_RUNS} runs, seed ${seed}, ${((Date.now() - started) / 1000).toFixed(1)} s`);
  },
  timeoutFor(PROPERTY_RUNS),
);

// Was a core gap (a previous user's stale tokens adopted after a failed write); fixed on main in a81a2a6.
test(
  'a failed storage write never brings stale tokens back',
  async () => {
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      await fc.assert(fc.asyncProperty(scenario(realWorld(['set'])), simulate), { numRuns: 1000 });
    } finally {
      warn.mockRestore();
    }
  },
  timeoutFor(1000),
);
