/**
 * syncTabs (memory storage, BroadcastChannel): the cross-tab lock and its grace, so that no tab spends a rotated refresh token twice.
 * Each test failed before its fix.
 */
import { from } from 'rxjs';
import { createTokenRefresh, type Tokens } from '../src';
import { createStore } from './support/harness';
import { memoryStorage, syncTabs } from '../src';

/** Two tabs: a BroadcastChannel whose messages take 5 ms to arrive (another process), Web Locks shared. */
function browserGlobals(delayMs: number) {
  const channels = new Set<{ name: string; onmessage: ((e: { data: unknown }) => void) | null }>();
  class Channel {
    onmessage: ((e: { data: unknown }) => void) | null = null;
    constructor(readonly name: string) {
      channels.add(this);
    }
    postMessage(data: unknown) {
      for (const other of channels)
        if (other !== this && other.name === this.name) setTimeout(() => other.onmessage?.({ data: structuredClone(data) }), delayMs);
    }
    close() {}
  }
  let held = Promise.resolve();
  let busy = false;
  const locks = {
    request: (_n: string, ...args: unknown[]) => {
      const cb = args.pop() as (l: unknown) => Promise<unknown>;
      if ((args[0] as { ifAvailable?: boolean } | undefined)?.ifAvailable && busy) return cb(null);
      const run = held.then(async () => {
        busy = true;
        try {
          return await cb({});
        } finally {
          busy = false;
        }
      });
      held = run.then(
        () => undefined,
        () => undefined,
      );
      return run;
    },
  };
  const g = globalThis as unknown as Record<string, unknown>;
  const saved = { B: g.BroadcastChannel, nav: g.navigator };
  Object.defineProperty(globalThis, 'navigator', { value: { locks }, configurable: true });
  g.BroadcastChannel = Channel;
  g.document = {};
  return () => {
    Object.defineProperty(globalThis, 'navigator', { value: saved.nav, configurable: true });
    g.BroadcastChannel = saved.B;
    delete g.document;
  };
}

test('syncTabs (memory storage): a tab that needs the lock just after another tab refreshed waits for its news instead of spending the rotated refresh token again', async () => {
  const restore = browserGlobals(30);
  try {
    const server = { validRefresh: 'r0', validAccess: 'a0', gen: 0, refreshCalls: 0, reuse: 0 };
    const refresh = (rt: string) =>
      from(
        new Promise<Tokens>((resolve, reject) =>
          setTimeout(() => {
            server.refreshCalls++;
            if (rt !== server.validRefresh) {
              server.reuse++;
              server.validRefresh = 'revoked';
              return reject({ status: 401, error: 'invalid_grant' });
            }
            server.gen++;
            server.validRefresh = `r${server.gen}`;
            server.validAccess = `a${server.gen}`;
            resolve({ accessToken: server.validAccess, refreshToken: server.validRefresh });
          }, 10),
        ),
      );
    const api = (latency: number) => (token: string) =>
      new Promise((resolve, reject) =>
        setTimeout(() => (token === server.validAccess ? resolve(token) : reject({ status: 401 })), latency),
      );
    const A = createTokenRefresh({ refresh, storage: syncTabs(memoryStorage()) });
    const B = createTokenRefresh({ refresh, storage: syncTabs(memoryStorage()) });
    createStore(A);
    createStore(B);
    A.setTokens({ accessToken: 'a0', refreshToken: 'r0' });
    await new Promise((r) => setTimeout(r, 50));
    expect(B.getAccessToken()).toBe('a0');
    server.validAccess = 'expired';
    const call = (auth: typeof A, latency: number) =>
      new Promise((resolve) => auth.authorized(api(latency)).subscribe({ next: resolve, error: resolve }));
    const results = await Promise.all([call(A, 1), call(B, 20)]); // A: 401 at 1 ms, refreshed and lock released by ~12 ms; B: 401 at 20 ms, lock free, the news arrives at ~42 ms
    expect(server.reuse).toBe(0);
    expect(server.refreshCalls).toBe(1);
    expect(results).toEqual(['a1', 'a1']);
  } finally {
    restore();
  }
});
