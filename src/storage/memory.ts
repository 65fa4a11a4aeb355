import type { Tokens } from '../tokens';
import type { SyncTokenStorage } from './types';

/**
 * Tokens in memory: gone on reload. The default, and the safest against XSS. With
 * `syncTabs(memoryStorage())` the tabs of one origin share them and refresh one at a time.
 *
 * @example
 * createTokenRefresh({ refresh, storage: memoryStorage() })
 */
export function memoryStorage(initial: Tokens | null = null): SyncTokenStorage {
  let tokens = initial;
  return {
    get: () => tokens,
    set: (next) => void (tokens = next),
    clear: () => void (tokens = null),
  };
}
