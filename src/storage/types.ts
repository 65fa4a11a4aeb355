import type { EndReason } from '../actions';
import type { Tokens } from '../tokens';

/**
 * Where tokens live between requests and page loads. `get` may answer at once (memory,
 * localStorage) or with a Promise (React Native's AsyncStorage, IndexedDB, encrypted storage); the
 * coordinator reads it once at start and keeps a synchronous copy for the per-request path, so a
 * slow storage never slows a request. `set` and `clear` may return Promises too. Whatever storage
 * does (throw, reject, never answer a write) the session goes on in memory: a failure is reported
 * as a `storageFailed` action, never thrown into a request. Tokens never go into the Redux store.
 *
 * @example
 * ```ts
 * const sessionStorageTokens: TokenStorage = {
 *   get: () => JSON.parse(sessionStorage.getItem('tokens') ?? 'null'),
 *   set: (tokens) => sessionStorage.setItem('tokens', JSON.stringify(tokens)),
 *   clear: () => sessionStorage.removeItem('tokens'),
 * };
 * ```
 */
export interface TokenStorage {
  /** The stored tokens, or null for none; read once, at creation. */
  get(): Tokens | null | PromiseLike<Tokens | null>;
  /** Keep `tokens` (after a login or a refresh). */
  set(tokens: Tokens): void | PromiseLike<unknown>;
  /** Forget the tokens (logout, a session that ended); `reason` says why, for a storage that tells other tabs. */
  clear(reason?: EndReason): void | PromiseLike<unknown>;
  /**
   * Tell the coordinator when another tab changed the tokens, so this tab uses them instead of
   * spending a refresh token that the other tab already rotated; `null` when they were removed,
   * with why if the other tab said (else `storageCleared`). `told`: the tab that made the change told
   * every tab itself (a message channel), so this tab does not pass the removal on to the others
   * (without it, a tab whose storage other code cleared would hear nothing). Returns an unsubscribe
   * function. A storage with `subscribe` or `lock` is passed through `syncTabs(storage)`, which
   * connects it to the session.
   */
  subscribe?(listener: (tokens: Tokens | null, reason?: EndReason, told?: boolean) => void): () => void;
  /** Run `task` while holding a lock shared by every tab, so that only one tab refreshes at a time. */
  lock?<T>(task: () => Promise<T>): Promise<T>;
}

/** A storage that answers at once: what `memoryStorage` and `localStorageStorage` return. */
export interface SyncTokenStorage extends TokenStorage {
  /** The stored tokens, or null for none, at once. */
  get(): Tokens | null;
  /** Keep `tokens`, at once. */
  set(tokens: Tokens): void;
  /** Forget the tokens, at once. */
  clear(reason?: EndReason): void;
}

/** The part of the Web Locks API this package uses (`navigator.locks`). */
export interface LocksLike {
  /** Run `callback` while holding the lock `name`, waiting for it. */
  request<T>(name: string, callback: (lock: unknown) => Promise<T>): Promise<T>;
  /** With `ifAvailable`, `callback` gets `null` at once when the lock is held. */
  request<T>(name: string, options: { ifAvailable?: boolean }, callback: (lock: unknown) => Promise<T>): Promise<T>;
}

/** @internal */
export const isThenable = (value: unknown): value is PromiseLike<unknown> =>
  typeof (value as PromiseLike<unknown> | null)?.then === 'function';

/** @internal Stored JSON back to tokens; anything unreadable is no session. The coordinator validates the shape. */
export function parseTokens(value: string | null | undefined): Tokens | null {
  try {
    const tokens = value ? (JSON.parse(value) as Tokens | null) : null;
    // What a logout leaves behind for the other tabs (`endMark`) is no session either.
    return tokens?.accessToken === undefined ? null : tokens;
  } catch {
    return null;
  }
}

const REASONS: readonly string[] = ['logout', 'rejected', 'refreshError', 'otherUser', 'storageCleared', 'noSession'];

/** @internal What a tab that ended a session leaves in a shared storage, so that the others hear why. */
export const endMark = (reason: EndReason | undefined) => JSON.stringify({ ended: reason ?? 'logout' });

/** @internal Why a session ended, read from another tab's `endMark`; only a known reason, never foreign text. */
export function endReasonOf(value: string | null | undefined): EndReason {
  try {
    const { ended } = JSON.parse(value!) as { ended?: unknown };
    if (typeof ended === 'string' && REASONS.includes(ended)) return ended as EndReason;
  } catch {
    // not one of ours
  }
  return 'storageCleared';
}
