/**
 * What a store listener does synchronously while the coordinator tells of a transition: the
 * waiters are released after the actions, so they see what the listener did.
 */
import { mergeMap, timer, type Observable } from 'rxjs';
import { createTokenRefresh } from '../src';
import { FakeServer, createStore, fakeJwt, newTestScheduler } from './support/harness';

let ts = newTestScheduler();
beforeEach(() => (ts = newTestScheduler()));
const at = <T>(frame: number, source$: () => Observable<T>) => timer(frame).pipe(mergeMap(source$));

test('a re-login of the same user by a listener of refreshUnavailable lets the requests waiting for that refresh go on with the new token', () =>
  ts.run(({ flush }) => {
    const server = new FakeServer(() => ts.now());
    server.refreshPlan = [503, 503, 503]; // the refresh cannot be done now
    const old = { accessToken: fakeJwt({ sub: 'ada', n: 0 }), refreshToken: 'r0' };
    const fresh = { accessToken: fakeJwt({ sub: 'ada', n: 1 }), refreshToken: 'r1' };
    const auth = createTokenRefresh({ refresh: server.refresh, refreshRetries: 0 });
    createStore(auth, {
      onAction: (action) => {
        // e.g. a silent re-login through the identity provider's session, answered from a cache
        if (auth.actions.refreshUnavailable.match(action)) {
          server.validAccess = fresh.accessToken;
          auth.setTokens(fresh, { sameUser: true });
        }
      },
    });
    auth.setTokens(old);
    server.validAccess = 'nobody'; // `old` is refused: 401, refresh, 503
    const seen: unknown[] = [];
    at(1, () => auth.authorized((t) => server.request(t, 2, 'saved'))).subscribe({
      next: (v) => seen.push(v),
      error: (e: Error) => seen.push(e.name),
    });
    flush();
    expect(seen).toEqual(['saved']);
    expect(auth.getStatus()).toBe('authenticated');
  }));
