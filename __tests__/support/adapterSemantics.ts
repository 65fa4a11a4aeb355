/**
 * The core semantics every adapter must keep, written once and run against each adapter over the
 * real demo server. An adapter under test only says how to make one GET and how its answer reads:
 * the data, the client's own 401, or one of this package's errors by name.
 */
import type { TokenRefresh } from '../../src';
import { apiRecords, startServer, startSession, until, type AuthServer, type SessionOptions } from './realServer';

export type Outcome = { ok: true; gen: number } | { status: number } | { error: string };

export interface ClientContext {
  server: AuthServer;
  auth: TokenRefresh;
  /** Runs right before each request leaves the client (after the token is on it). */
  beforeSend: () => void;
}

export interface AdapterUnderTest {
  /** Builds a client on `auth`; `get(n)` asks the server's `/api/echo?n=<n>` and reads the answer. */
  make(context: ClientContext): { get(n: number): Promise<Outcome> };
}

export function describeAdapterSemantics(name: string, adapter: AdapterUnderTest, sessionOptions: SessionOptions = {}): void {
  describe(`${name}: core semantics against the real server`, () => {
    let server: AuthServer;
    beforeAll(async () => {
      server = await startServer();
    });
    afterAll(() => server.close());
    beforeEach(() => server.reset());

    async function setup(options: SessionOptions = {}, beforeSend = () => {}) {
      const session = await startSession(server, { ...sessionOptions, ...options });
      const client = adapter.make({ server, auth: session.auth, beforeSend });
      return { ...session, client };
    }

    test('ten concurrent 401s cause exactly one refresh call; all ten succeed with the new token', async () => {
      const { client } = await setup();
      server.control.expireAccessTokens();
      const outcomes = await Promise.all(Array.from({ length: 10 }, (_, n) => client.get(n)));
      expect(outcomes).toEqual(Array(10).fill({ ok: true, gen: 2 }));
      expect(server.stats().refreshCalls).toBe(1);
      expect(server.stats().api401).toBe(10);
    });

    test('a request started while a refresh is in flight waits, and is sent once, with the new token', async () => {
      const { client, auth } = await setup();
      server.control.slowNextRefresh(150);
      server.control.expireAccessTokens();
      const first = client.get(1);
      await until(() => server.stats().refreshCalls === 1, 'the refresh call');
      const second = client.get(2);
      expect(await Promise.all([first, second])).toEqual([
        { ok: true, gen: 2 },
        { ok: true, gen: 2 },
      ]);
      // The first request's 401 with generation 1, then two requests with generation 2: the second never carried the old token.
      expect(apiRecords(server)).toEqual([
        [200, 2],
        [200, 2],
        [401, 1],
      ]);
      expect(server.stats().refreshCalls).toBe(1);
      expect(auth.getAccessToken()).toBeDefined();
    });

    test('a late 401 (its token was replaced while it was out) is replayed with the current token, without another refresh', async () => {
      const { client, auth } = await setup();
      server.control.expireAccessTokens();
      server.control.setLatency({ apiMs: 150 });
      const late = client.get(1);
      await until(() => server.stats().apiRequests === 1, 'the request to reach the server');
      await auth.refresh(); // lands long before the request's 401 comes back
      expect(await late).toEqual({ ok: true, gen: 2 });
      expect(server.stats().refreshCalls).toBe(1);
      expect(apiRecords(server)).toEqual([
        [200, 2],
        [401, 1],
      ]);
    });

    test("a 401 that persists after the refresh ends as the client's own 401, after exactly one refresh (maxRetries: 1)", async () => {
      // Every request's token is expired on the server just before it is sent; refreshes still work.
      const { client } = await setup({}, () => server.control.expireAccessTokens());
      expect(await client.get(1)).toEqual({ status: 401 });
      expect(server.stats().refreshCalls).toBe(1);
      expect(server.stats().api401).toBe(2);
    });

    test('a failed refresh reaches every waiting request as TokenRefreshError, after one refresh call', async () => {
      const { client, auth } = await setup();
      server.control.revokeRefreshTokens();
      server.control.expireAccessTokens();
      const outcomes = await Promise.all(Array.from({ length: 5 }, (_, n) => client.get(n)));
      expect(outcomes).toEqual(Array(5).fill({ error: 'TokenRefreshError' }));
      expect(server.stats().refreshCalls).toBe(1);
      expect(auth.getAccessToken()).toBeUndefined();
    });

    test('logging out during a refresh fails the waiting requests with LoggedOutError', async () => {
      const { client, auth, types } = await setup();
      server.control.slowNextRefresh(5_000);
      server.control.expireAccessTokens();
      const waiting = [client.get(1), client.get(2), client.get(3)];
      await until(() => server.stats().refreshCalls === 1, 'the refresh call');
      auth.clearTokens();
      expect(await Promise.all(waiting)).toEqual(Array(3).fill({ error: 'LoggedOutError' }));
      expect(types()).toEqual(['tokensSet', 'refreshRequested', 'loggedOut']);
    });

    test('with no session, a request goes out without a token and its 401 comes back as is, without a refresh', async () => {
      const { client } = await setup({ loggedIn: false });
      expect(await client.get(1)).toEqual({ status: 401 });
      expect(server.stats()).toMatchObject({ requestsWithoutToken: 1, refreshCalls: 0 });
    });
  });
}
