import { catchError, concat, defer, from, type Observable, type ObservableInput } from 'rxjs';
import type { RefreshCoordinator } from './coordinator';
import { RetryLimitError } from './errors';

export interface AuthorizedConfig {
  isAuthError: (error: unknown) => boolean;
  maxRetries: number;
}

/**
 * Where a request gets its token. The request is a function of the token, run in `defer()` so each
 * attempt reads the token current at that moment; an auth error hands the token back to the
 * coordinator and the request waits for the outcome, then runs again.
 *
 * `maxRetries` counts the 401s of the current token. A late 401, for a token already replaced, says
 * nothing about the new token, so the first one is replayed for free. A second one counts: it means
 * tokens are replaced faster than this call completes (two slow calls whose replays keep running
 * into each other's refresh), and without a count they would replay each other forever.
 */
export function createAuthorized(coordinator: RefreshCoordinator, { isAuthError, maxRetries }: AuthorizedConfig) {
  return function authorized<T>(request: (accessToken: string) => ObservableInput<T>): Observable<T> {
    return defer(() => {
      let retries = 0;
      let missedRefresh = false;
      const count = (error: unknown, replaced: boolean) => {
        if (retries === maxRetries) throw new RetryLimitError(maxRetries, error, replaced);
        retries++;
      };
      const attempt = (): Observable<T> => {
        const token = coordinator.acquire();
        if (typeof token !== 'string') return concat(token, defer(attempt));
        return from(request(token)).pipe(
          catchError((error: unknown) => {
            if (!isAuthError(error)) throw error;
            if (coordinator.accessToken === token) {
              count(error, false);
              coordinator.rejected(token);
            } else {
              // Starts nothing for a replaced token; throws if the session ended meanwhile.
              coordinator.rejected(token);
              if (missedRefresh) count(error, true);
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
