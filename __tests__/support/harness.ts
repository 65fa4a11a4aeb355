import type { UnknownAction } from 'redux';
import { StateObservable } from 'redux-observable';
import { Subject, asyncScheduler, defer, map, mergeMap, of, throwError, timer, type Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { createTokenRefresh, type TokenRefresh, type StorageModeOptions, type TokenRefreshState, type Tokens } from '../../src';

export const newTestScheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

/** A 401 the way ajax, fetch wrappers and RTK Query report one. */
export const unauthorized = () => ({ status: 401 });

/**
 * The server side of the unit tests, in virtual time: it decides whether a request's token is valid
 * when it answers (so a request sent before a refresh and answered after it gets a late 401), and
 * rotates tokens on refresh. Every request it sees is recorded with the token it carried.
 */
export class FakeServer {
  generation = 0;
  validAccess = 'access-0';
  validRefresh: string | undefined = 'refresh-0';
  refreshCalls = 0;
  refreshLatency = 5;
  /** What the next refreshes answer: 'ok', a status code to fail with, or 'never'. */
  refreshPlan: Array<'ok' | number | 'never' | 'no-rotate'> = [];
  readonly sent: Array<{ token: string; at: number }> = [];
  readonly refreshesAborted: string[] = [];
  /** The refresh tokens presented, in order. */
  readonly spent: string[] = [];

  /** When set, every token the server issues says when it expires (a known expiry). */
  accessTtl: number | undefined;
  /** The known expiry of each token issued, for checking that none is sent after it. */
  readonly expiries = new Map<string, number>();
  logins = 0;

  constructor(private readonly now: () => number) {}

  get tokens(): Tokens {
    const expiresAt = this.expiries.get(this.validAccess);
    return expiresAt === undefined
      ? { accessToken: this.validAccess, refreshToken: this.validRefresh }
      : { accessToken: this.validAccess, refreshToken: this.validRefresh, expiresAt };
  }

  /** A new session: new token family, as a login endpoint would issue. */
  login(): Tokens {
    this.logins++;
    this.issue(`access-L${this.logins}`, `refresh-L${this.logins}`);
    return this.tokens;
  }

  private issue(access: string, refresh: string | undefined): void {
    this.validAccess = access;
    this.validRefresh = refresh;
    if (this.accessTtl !== undefined) this.expiries.set(access, this.now() + this.accessTtl);
  }

  request = (token: string, latency = 2, value = 'ok'): Observable<string> =>
    defer(() => {
      this.sent.push({ token, at: this.now() });
      return timer(latency).pipe(mergeMap(() => (token === this.validAccess ? of(value) : throwError(unauthorized))));
    });

  refresh = (refreshToken: string, { signal }: { signal: AbortSignal }): Observable<Tokens> =>
    defer(() => {
      this.refreshCalls++;
      this.spent.push(refreshToken);
      signal.addEventListener('abort', () => this.refreshesAborted.push(refreshToken));
      const plan = this.refreshPlan.shift() ?? 'ok';
      if (plan === 'never') return timer(1e9).pipe(map(() => this.tokens));
      return timer(this.refreshLatency).pipe(
        mergeMap(() => {
          if (typeof plan === 'number') return throwError(() => ({ status: plan, error: plan === 400 ? 'invalid_grant' : undefined }));
          if (refreshToken !== this.validRefresh) return throwError(() => ({ status: 401, error: 'invalid_grant' }));
          this.generation++;
          this.issue(`access-${this.generation}`, plan === 'no-rotate' ? this.validRefresh : `refresh-${this.generation}`);
          return of(plan === 'no-rotate' ? { accessToken: this.validAccess } : this.tokens);
        }),
      );
    });

  sentWith(token: string): number {
    return this.sent.filter((s) => s.token === token).length;
  }
}

/**
 * Runs `auth.epic` the way a store does: its output is reduced and fed back into `action$`.
 */
export function runEpic(auth: TokenRefresh, initial?: TokenRefreshState, onAction?: (action: UnknownAction) => void) {
  const action$ = new Subject<UnknownAction>();
  const actions: UnknownAction[] = [];
  let state = initial ?? auth.reducer(undefined, { type: '@@INIT' });
  const state$ = new StateObservable<TokenRefreshState>(new Subject(), state);
  const dispatch = (action: UnknownAction) => {
    actions.push(action);
    state = auth.reducer(state, action);
    action$.next(action);
    onAction?.(action);
  };
  const subscription = auth.epic(action$, state$, undefined).subscribe(dispatch);
  return {
    actions,
    types: () => actions.map((a) => a.type.replace(/^[^/]+\//, '')),
    get state() {
      return state;
    },
    dispatch,
    stop: () => subscription.unsubscribe(),
  };
}

/** An auth object wired to a FakeServer, logged in with its current tokens. */
export function setup(options: Partial<StorageModeOptions> = {}, now = () => asyncScheduler.now()) {
  const server = new FakeServer(now);
  const auth = createTokenRefresh({ refresh: server.refresh, ...options });
  const store = runEpic(auth);
  auth.setTokens(server.tokens);
  return { server, auth, store };
}

/** A token that decodes like a JWT (the unit under test reads claims, not signatures). */
export function fakeJwt(claims: Record<string, unknown>): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.sig`;
}
