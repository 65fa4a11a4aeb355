/**
 * syncTabs over an async storage: a write that rejects is reported, never an unhandled rejection.
 * Each test failed before its fix.
 */
import { createTokenRefresh } from '../src';
import { of } from 'rxjs';
import { createStore } from './support/harness';
import { cookieSession } from '../src/cookie';

test('syncTabs over an async storage whose write rejects: reported, no unhandled rejection', async () => {
  const g = globalThis as unknown as Record<string, unknown>;
  g.document = {};
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  const warn = jest.spyOn(console, 'warn').mockImplementation(() => {});
  try {
    const auth = createTokenRefresh({
      session: cookieSession(), // syncTabs defaults to true
      refresh: () => of({ accessToken: 'x' }),
      storage: { get: async () => null, set: () => Promise.reject(new Error('disk full')), clear: async () => {} },
    });
    createStore(auth);
    await auth.restore();
    auth.setTokens({ accessToken: 'a' });
    await new Promise((r) => setTimeout(r, 20));
    expect(unhandled).toEqual([]);
  } finally {
    process.off('unhandledRejection', onUnhandled);
    delete g.document;
    warn.mockRestore();
  }
});

test("syncTabs over an async storage whose write rejects: another tab's news is taken, and the failed write is no unhandled rejection", async () => {
  const g = globalThis as unknown as Record<string, unknown>;
  g.document = {};
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  const warn = jest.spyOn(console, 'warn').mockImplementation(() => {});
  try {
    const name = 'syncTabsStorageNews'; // its own channel: no other test's tabs hear it
    const failing = {
      get: async () => null,
      set: () => Promise.reject(new Error('disk full')),
      clear: () => Promise.reject(new Error('disk full')),
    };
    const listener = createTokenRefresh({ name, session: cookieSession(), refresh: () => of({ accessToken: 'x' }), storage: failing });
    const speaker = createTokenRefresh({ name, session: cookieSession(), refresh: () => of({ accessToken: 'x' }) });
    createStore(listener as never);
    createStore(speaker as never);
    speaker.setTokens({ accessToken: 'from-the-other-tab' });
    await new Promise((r) => setTimeout(r, 30));
    expect(listener.getAccessToken()).toBe('from-the-other-tab');
    speaker.clearTokens();
    await new Promise((r) => setTimeout(r, 30));
    expect(listener.getAccessToken()).toBeUndefined();
    expect(unhandled).toEqual([]);
  } finally {
    process.off('unhandledRejection', onUnhandled);
    delete g.document;
    warn.mockRestore();
  }
});
