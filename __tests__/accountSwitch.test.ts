/**
 * An account switch in another tab with opaque tokens (no JWT `sub`): this tab's session ends, and its requests are never replayed with the other user's token.
 * Each test failed before its fix.
 */
import { mergeMap, of, throwError, timer } from 'rxjs';
import { LoggedOutError, createTokenRefresh, localStorageStorage } from '../src';
import { newTestScheduler, createStore } from './support/harness';
import { Browser } from './support/tabs';

let ts = newTestScheduler();
beforeEach(() => (ts = newTestScheduler()));

test("opaque tokens: an account switch in another tab ends this tab's session; A's request is never replayed with B's token", () =>
  ts.run(({ flush }) => {
    jest.spyOn(console, 'warn').mockImplementation(() => {});
    const browser = new Browser(0);
    const [t1, t2] = [browser.openTab(), browser.openTab()].map((tab) =>
      createTokenRefresh({
        refresh: () => of({ accessToken: 'never-used' }),
        storage: localStorageStorage('app/tokens', { storage: tab.localStorage, locks: null, events: tab.events }),
      }),
    );
    createStore(t1!);
    createStore(t2!);
    t1!.setTokens({ accessToken: 'ada-token', refreshToken: 'ada-refresh' });
    const sent: string[] = [];
    const errors: unknown[] = [];
    const api = (token: string) => (
      sent.push(token),
      timer(10).pipe(mergeMap(() => (token === 'ada-token' ? throwError(() => ({ status: 401 })) : of(token))))
    );
    t1!.authorized(api).subscribe({ error: (e) => errors.push(e) }); // ada's POST in flight in tab 1
    ts.schedule(() => t2!.setTokens({ accessToken: 'bob-token', refreshToken: 'bob-refresh' }), 5); // tab 2: switch account (sameUser: false)
    flush();
    expect(sent).toEqual(['ada-token']);
    expect(errors).toEqual([expect.any(LoggedOutError)]);
  }));
