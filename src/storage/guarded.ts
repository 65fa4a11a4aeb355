import type { EndReason } from '../actions';
import type { Tokens } from '../tokens';
import { isThenable, type TokenStorage } from './types';

export type StorageOperation = 'get' | 'set' | 'clear';

/**
 * @internal The storage as the coordinator uses it: every call is caught, a thrown error or a
 * rejected Promise becomes a report and a neutral answer (no tokens; the write skipped). A full
 * storage (QuotaExceededError) or a broken one must never hang a request or end a session: the
 * session is in memory, storage only carries it across reloads and tabs.
 */
export function guardStorage(storage: TokenStorage & { drop?(): unknown }, report: (operation: StorageOperation, error: unknown) => void) {
  /**
   * Forget the tokens after a write of ours failed: nobody's session ended, so a storage the tabs
   * share forgets them without telling the other tabs (`drop`), which would take it for a logout.
   */
  const drop = () => (storage.drop ? storage.drop() : storage.clear());
  /** The last write still in flight: the next waits for it, so a late `set` never overwrites a newer one. */
  let writing: PromiseLike<unknown> | null = null;
  /** False when a synchronous write failed (reported); a Promise's outcome is reported later. */
  const write = (operation: StorageOperation, run: () => unknown): boolean => {
    let ok = true;
    const after = writing;
    const done = after ? Promise.resolve(after).then(() => call(operation, run)) : call(operation, run, () => (ok = false));
    if (isThenable(done)) {
      const settled: Promise<unknown> = Promise.resolve(done).then(() => {
        if (writing === settled) writing = null;
      });
      writing = settled;
    }
    return ok;
  };
  const call = <T>(operation: StorageOperation, run: () => T, failed?: () => void): T | null => {
    try {
      const result = run();
      return isThenable(result)
        ? (Promise.resolve(result).then(undefined, (error: unknown) => (report(operation, error), null)) as T)
        : result;
    } catch (error) {
      failed?.();
      report(operation, error);
      return null;
    }
  };
  return {
    /** `undefined` when a synchronous read failed: not the same as "nothing stored". */
    get: (): Tokens | null | undefined | Promise<Tokens | null> => {
      let failed = false;
      const tokens = call(
        'get',
        () => storage.get(),
        () => (failed = true),
      ) as Tokens | null | Promise<Tokens | null>;
      return failed ? undefined : tokens;
    },
    set: (tokens: Tokens) =>
      write('set', () => {
        const written = storage.set(tokens);
        // A write that fails must not leave tokens we moved on from (a previous user's, a spent
        // refresh token): they are dropped, after a synchronous one by the coordinator, after an
        // async one here, in turn.
        return isThenable(written)
          ? Promise.resolve(written).then(undefined, (error: unknown) => (report('set', error), call('clear', drop)))
          : written;
      }),
    clear: (reason?: EndReason) => write('clear', () => storage.clear(reason)),
    /** The clear after a synchronous write that failed (see `drop`). */
    drop: () => write('clear', drop),
  };
}
