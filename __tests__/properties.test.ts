import fc from 'fast-check';
import { defer, finalize, type Subscription } from 'rxjs';
import { createTokenRefresh, isAuthRefreshError } from '../src';
import { FakeServer, newTestScheduler, runEpic } from './support/harness';

/**
 * Random arrivals of calls, server-side expiries (which show as 401s, and as late 401s for calls
 * in flight), refresh outcomes and latencies, known expiries, logouts, logins and unsubscribes, in
 * virtual time. Whatever happens, the invariants a user relies on hold.
 */
type Event =
  | { at: number; kind: 'call'; latency: number }
  | { at: number; kind: 'expire' }
  | { at: number; kind: 'logout' }
  | { at: number; kind: 'login' }
  | { at: number; kind: 'unsubscribe'; index: number };

const event: fc.Arbitrary<Event> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ at: fc.nat(300), kind: fc.constant('call' as const), latency: fc.integer({ min: 1, max: 30 }) }) },
  { weight: 2, arbitrary: fc.record({ at: fc.nat(300), kind: fc.constant('expire' as const) }) },
  { weight: 1, arbitrary: fc.record({ at: fc.nat(300), kind: fc.constant('logout' as const) }) },
  { weight: 1, arbitrary: fc.record({ at: fc.nat(300), kind: fc.constant('login' as const) }) },
  { weight: 1, arbitrary: fc.record({ at: fc.nat(300), kind: fc.constant('unsubscribe' as const), index: fc.nat(40) }) },
);

const scenario = fc.record({
  accessTtl: fc.option(fc.integer({ min: 10, max: 200 }), { nil: undefined }),
  expirySkewMs: fc.integer({ min: 0, max: 60 }),
  refreshLatency: fc.integer({ min: 0, max: 40 }),
  refreshTimeoutMs: fc.integer({ min: 20, max: 150 }),
  refreshRetries: fc.integer({ min: 0, max: 2 }),
  refreshBackoffMs: fc.integer({ min: 0, max: 20 }),
  maxRetries: fc.integer({ min: 0, max: 2 }),
  plan: fc.array(fc.constantFrom<'ok' | 401 | 503 | 'never'>('ok', 'ok', 'ok', 'ok', 401, 503, 'never'), { maxLength: 8 }),
  events: fc.array(event, { minLength: 1, maxLength: 30 }),
});

/** Events happen by frame 300 and every wait is bounded, so a run is over long before SETTLED_BY. */
const SETTLED_BY = 10_000;
const FRAME_BUDGET = 100_000;

test('invariants hold for any interleaving (1,000 random runs in virtual time)', () => {
  fc.assert(
    fc.property(scenario, (s) => {
      const ts = newTestScheduler();
      ts.run(({ flush }) => {
        // A livelock would flush forever and exhaust memory; bounded, it is a counterexample.
        ts.maxFrames = FRAME_BUDGET;
        const server = new FakeServer(() => ts.now());
        server.accessTtl = s.accessTtl;
        server.refreshLatency = s.refreshLatency;
        server.refreshPlan = [...s.plan];
        let inFlight = 0;
        let maxInFlight = 0;
        const refresh = server.refresh;
        const auth = createTokenRefresh({
          ...s,
          refresh: (token, context) =>
            defer(() => {
              maxInFlight = Math.max(maxInFlight, ++inFlight);
              return refresh(token, context);
            }).pipe(finalize(() => inFlight--)),
        });
        const store = runEpic(auth);
        let sessionActive = true;
        auth.setTokens(server.login());
        const violations: string[] = [];
        const send = server.request;
        server.request = (token, latency) =>
          defer(() => {
            if (!sessionActive) violations.push(`sent at ${ts.now()} after logout`);
            // The store says why: after a failed refresh it is 'unauthenticated'; during a refresh, 'refreshing'.
            // While a refresh cannot be done ('unavailable') a token that has not expired is still sent.
            if (store.state.status !== 'authenticated' && store.state.status !== 'unavailable') violations.push(`sent at ${ts.now()} while ${store.state.status}`);
            const expiresAt = server.expiries.get(token);
            if (expiresAt !== undefined && ts.now() >= expiresAt) violations.push(`sent ${token} at ${ts.now()}, expired at ${expiresAt}`);
            return send(token, latency);
          });
        let expiries = 0;
        const calls: Array<{ settled: boolean; cancelled: boolean; subscription?: Subscription; error?: unknown }> = [];
        for (const e of s.events) {
          ts.schedule(() => {
            switch (e.kind) {
              case 'call': {
                const call: (typeof calls)[number] = { settled: false, cancelled: false };
                calls.push(call);
                call.subscription = auth.authorized((token) => server.request(token, e.latency)).subscribe({
                  complete: () => (call.settled = true),
                  error: (error) => ((call.settled = true), (call.error = error)),
                });
                break;
              }
              case 'expire':
                expiries++;
                server.validAccess = `expired-${ts.now()}`;
                break;
              case 'logout':
                sessionActive = false;
                auth.clearTokens();
                break;
              case 'login':
                sessionActive = true;
                auth.setTokens(server.login());
                break;
              case 'unsubscribe': {
                const call = calls[e.index];
                if (call && !call.settled) (call.cancelled = true), call.subscription?.unsubscribe();
                break;
              }
            }
          }, e.at);
        }
        flush();

        const refreshes = store.actions.filter((a) => auth.actions.refreshRequested.match(a)).length;
        // A refresh that could not be done (timeout, 503) is tried again by a later request, once per outage.
        const outages = store.actions.filter((a) => auth.actions.refreshUnavailable.match(a)).length;
        const knownExpiries = s.accessTtl === undefined ? 0 : server.expiries.size;
        expect(ts.now()).toBeLessThan(SETTLED_BY);
        expect(violations).toEqual([]);
        expect(maxInFlight).toBeLessThanOrEqual(1);
        expect(calls.filter((c) => !c.settled && !c.cancelled)).toEqual([]);
        for (const call of calls) if (call.error !== undefined) expect(isAuthRefreshError(call.error)).toBe(true);
        expect(refreshes).toBeLessThanOrEqual(expiries + knownExpiries + outages);
      });
    }),
    { numRuns: 1000 },
  );
});
