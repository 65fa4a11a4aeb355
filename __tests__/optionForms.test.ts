/**
 * The options whose features became modules an app imports (tab sync, cookie sessions): the old
 * forms throw a TypeError that says what to write, the new forms work, and a storage that locks
 * across tabs is never silently left unlocked.
 */
import { of } from 'rxjs';
import { createTokenRefresh, memoryStorage, syncTabs, type TokenStorage } from '../src';
import { cookieSession } from '../src/cookie';
import { createStore } from './support/harness';

const refresh = () => of({ accessToken: 'new', refreshToken: 'r2' });

test("refreshTokenIn: 'cookie' throws a TypeError naming cookieSession() and where to import it from", () => {
  expect(() => createTokenRefresh({ refreshTokenIn: 'cookie', refresh } as never)).toThrow(
    expect.objectContaining({
      name: 'TypeError',
      code: 'INVALID_OPTION',
      message: expect.stringMatching(/session: cookieSession\(\).*redux-observable-token-refresh\/cookie/),
    }),
  );
});

test("refreshTokenIn: 'storage' next to session: cookieSession() is a contradiction, not silently cookie mode", () => {
  expect(() => createTokenRefresh({ refreshTokenIn: 'storage', session: cookieSession(), refresh } as never)).toThrow(/refreshTokenIn/);
});

test("syncTabs: true throws a TypeError that names syncTabs(memoryStorage(), name) with this app's name", () => {
  expect(() => createTokenRefresh({ name: 'shop', syncTabs: true, refresh } as never)).toThrow(
    /storage: syncTabs\(memoryStorage\(\), 'shop'\)/,
  );
  expect(() => createTokenRefresh({ session: cookieSession(), syncTabs: false, refresh } as never)).toThrow(
    /cookieSession\(\{ syncTabs: false \}\)/,
  );
});

test('syncTabs: false, the old default, still means what it meant: nothing to do', () => {
  const auth = createTokenRefresh({ syncTabs: false, refresh } as never);
  auth.setTokens({ accessToken: 'a', refreshToken: 'r' });
  expect(auth.getAccessToken()).toBe('a');
});

test('a storage with its own lock must go through syncTabs, and then every refresh takes the lock', async () => {
  const taken: string[] = [];
  const locking: TokenStorage = { ...memoryStorage(), lock: (task) => (taken.push('lock'), task()) };
  expect(() => createTokenRefresh({ refresh, storage: locking })).toThrow(/syncTabs\(storage, 'tokenRefresh'\)/);
  const auth = createTokenRefresh({ refresh, storage: syncTabs(locking) });
  createStore(auth as never);
  auth.setTokens({ accessToken: 'a', refreshToken: 'r' });
  await auth.refresh();
  expect(taken).toEqual(['lock']);
  expect(auth.getAccessToken()).toBe('new');
});

test('a storage that tells of other tabs must go through syncTabs, or their logouts would never reach this tab', () => {
  const telling: TokenStorage = { ...memoryStorage(), subscribe: () => () => {} };
  expect(() => createTokenRefresh({ refresh, storage: telling })).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
  expect(() => createTokenRefresh({ refresh, storage: syncTabs(telling) })).not.toThrow();
});
