import { throwError } from 'rxjs';
import { createTokenRefresh } from '../src';
import { FakeServer, newTestScheduler, createStore } from './support/harness';

/**
 * Issue 8.1, "a bounded retry rate", in virtual time: during a long outage the requests of a busy
 * app never hammer the token endpoint. After each attempt that could not be done, the next waits a
 * cool-down that doubles from twice `refreshBackoffMs`, up to 30 s; at most one attempt is in flight.
 * And the page becoming visible retries at once, like the `online` event.
 */
const offline = () => new TypeError('fetch failed');

test('an outage of ten minutes with a request every 100 ms: attempts 2, 4, 8, 16 s apart, then every 30 s, never two at once', () => {
  const ts = newTestScheduler();
  ts.run(({ flush }) => {
    const server = new FakeServer(() => ts.now());
    const attempts: number[] = [];
    let inFlight = 0;
    const auth = createTokenRefresh({
      refresh: () => (attempts.push(ts.now()), inFlight++, throwError(() => (inFlight--, offline()))),
      refreshRetries: 0,
      refreshBackoffMs: 1_000,
    });
    const store = createStore(auth);
    auth.setTokens(server.tokens);
    server.validAccess = 'expired-on-server';
    const errors: string[] = [];
    for (let at = 0; at < 600_000; at += 100) {
      ts.schedule(() => auth.authorized((token) => server.request(token, 1)).subscribe({ error: (e: Error) => errors.push(e.name) }), at);
    }
    flush();
    const gaps = attempts.slice(1).map((t, i) => t - attempts[i]!);
    const expected = [2_000, 4_000, 8_000, 16_000, ...Array(gaps.length - 4).fill(30_000)];
    expect(gaps.length).toBeGreaterThan(10);
    gaps.forEach((gap, i) => {
      expect(gap).toBeGreaterThanOrEqual(expected[i]);
      expect(gap).toBeLessThanOrEqual(expected[i]! + 101); // the next request after the cool-down
    });
    expect(inFlight).toBe(0);
    expect(new Set(errors)).toEqual(new Set(['RefreshUnavailableError']));
    expect(errors).toHaveLength(6_000);
    expect(store.state.status).toBe('unavailable');
    expect(auth.getAccessToken()).toBe('access-0');
  });
});

test('the page becoming visible retries a refresh that could not be done, at once', () => {
  const ts = newTestScheduler();
  const g = globalThis as unknown as Record<string, unknown>;
  const page = Object.assign(new EventTarget(), { visibilityState: 'hidden' });
  g.document = page;
  try {
    ts.run(({ flush }) => {
      const server = new FakeServer(() => ts.now());
      let down = true;
      const auth = createTokenRefresh({
        refresh: (t, c) => (down ? throwError(offline) : server.refresh(t, c)),
        refreshRetries: 0,
        refreshBackoffMs: 10_000,
      });
      const store = createStore(auth);
      auth.setTokens(server.tokens);
      server.validAccess = 'expired-on-server';
      auth.authorized((token) => server.request(token)).subscribe({ error: () => {} });
      ts.schedule(() => ((down = false), page.dispatchEvent(new Event('visibilitychange'))), 50); // still hidden: nothing
      ts.schedule(() => ((page.visibilityState = 'visible'), page.dispatchEvent(new Event('visibilitychange'))), 60);
      flush();
      expect(store.types()).toEqual(['tokensSet', 'refreshRequested', 'refreshUnavailable', 'refreshRequested', 'refreshSucceeded']);
      expect((store.actions[3]!.payload as { reason: string }).reason).toBe('visible');
      expect(store.state.status).toBe('authenticated');
    });
  } finally {
    delete g.document;
  }
});
