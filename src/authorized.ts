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
 * coordinator and the request waits for the outcome, then runs again. `maxRetries` counts only the
 * 401s of the current token: a late 401 for a token already replaced is replayed for free, since
 * it says nothing about the new token.
 */
export function createAuthorized(coordinator: RefreshCoordinator, { isAuthError, maxRetries }: AuthorizedConfig) {
  return function authorized<T>(request: (accessToken: string) => ObservableInput<T>): Observable<T> {
    return defer(() => {
      let refreshes = 0;
      const attempt = (): Observable<T> => {
        const token = coordinator.acquire();
        if (typeof token !== 'string') return concat(token, defer(attempt));
        return from(request(token)).pipe(
          catchError((error: unknown) => {
            if (!isAuthError(error)) throw error;
            if (coordinator.accessToken === token) {
              if (refreshes === maxRetries) throw new RetryLimitError(maxRetries, error);
              refreshes++;
            }
            coordinator.rejected(token);
            return attempt();
          }),
        );
      };
      return attempt();
    });
  };
}
