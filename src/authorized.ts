import { catchError, concat, defer, from, tap, type Observable, type ObservableInput } from 'rxjs';
import type { RefreshCoordinator } from './coordinator';
import { RetryLimitError } from './errors';
import type { Identity } from './tokens';

export interface AuthorizedConfig {
  isAuthError: (error: unknown) => boolean;
  maxRetries: number;
}

/** Per-call options of `auth.authorized`. */
export interface AuthorizedOptions {
  /**
   * A request that emitted values and then got an auth error is replayed from the start, as `retry`
   * would, so its first values arrive twice. `false`: fail with the auth error instead of replaying
   * a stream that has emitted (a stream of server events, a paginated walk with side effects).
   * @default true
   */
  replayAfterValues?: boolean;
}

/**
 * Where a request gets its token. The request is a function of the token, run in `defer()` so each
 * attempt reads the token current at that moment; an auth error hands the token back to the
 * coordinator and the request waits for the outcome, then runs again.
 *
 * A request belongs to the login it first got a token in: once that session has ended (logout,
 * another user's login, a refused refresh), its 401 or its wait ends in that session's error, and it
 * is never replayed with somebody else's token.
 *
 * `maxRetries` counts the 401s of the current token; `0` means "refresh for the next call, but never
 * replay this one" (for requests that must not be sent twice). A late 401, for a token already
 * replaced, says nothing about the new token, so the first one is replayed for free. A second one
 * counts: it means tokens are replaced faster than this call completes (two slow calls whose replays
 * keep running into each other's refresh), and without a count they would replay each other forever.
 */
export function createAuthorized(coordinator: RefreshCoordinator, { isAuthError, maxRetries }: AuthorizedConfig) {
  return function authorized<T>(
    request: (accessToken: string) => ObservableInput<T>,
    { replayAfterValues = true }: AuthorizedOptions = {},
  ): Observable<T> {
    return defer(() => {
      let retries = 0;
      let missedRefresh = false;
      let emitted = false;
      let owner: Identity | undefined;
      const count = (error: unknown, replaced: boolean) => {
        if (retries === maxRetries) {
          // maxRetries 0: the token is refreshed for the next call, this one is not replayed.
          if (!replaced && !maxRetries) coordinator.rejected(coordinator.accessToken!, owner);
          throw new RetryLimitError(maxRetries, error, replaced);
        }
        retries++;
      };
      const attempt = (): Observable<T> => {
        // The login the request starts in, also if it must first wait for a refresh.
        owner ??= coordinator.identity;
        const token = coordinator.acquire(owner);
        if (typeof token !== 'string') return concat(token, defer(attempt));
        owner ??= coordinator.identity;
        return from(request(token)).pipe(
          tap(() => void (emitted = true)),
          catchError((error: unknown) => {
            if (!isAuthError(error) || (emitted && !replayAfterValues)) throw error;
            if (coordinator.accessToken === token) {
              count(error, false);
              coordinator.rejected(token, owner);
            } else {
              // Starts nothing for a replaced token; throws if the request's session ended meanwhile.
              coordinator.rejected(token, owner);
              // maxRetries 0 means never sent twice, so not even a late 401 is replayed.
              if (missedRefresh || !maxRetries) count(error, true);
              missedRefresh = true;
            }
            return attempt();
          }),
        );
      };
      return attempt();
    });
  };
}
