import type { EndReason } from '../actions';
import { endReasonOf, isThenable, type LocksLike, type TokenStorage } from '../storage/types';
import type { Tokens } from '../tokens';
import { devWarn } from '../warn';
import { shareTabs } from './share';

/** How long a tab that had to queue for the refresh lock waits for the holder's news before refreshing itself. */
const GRACE_MS = 100;

/**
 * @internal The cross-tab refresh lock. The tab that refreshed keeps it a moment after storing the
 * new tokens: they reach the other tabs by another road (a `storage` event, a BroadcastChannel
 * message) that browsers do not order with the lock, and a tab that got the lock before they
 * arrived would spend the refresh token a second time. Its own requests do not wait for that.
 */
export function tabLock(locks: LocksLike, name: string) {
  const grace = () => new Promise((resolve) => setTimeout(resolve, GRACE_MS));
  return <T>(task: () => Promise<T>): Promise<T> => locks.request(name, () => task().finally(grace));
}

/** @internal `navigator.locks` in a browser tab; nothing on a server or in a worker-less test. */
export function browserLocks(): LocksLike | null {
  return (globalThis.navigator as { locks?: LocksLike } | undefined)?.locks ?? null;
}

/**
 * Keeps the tabs of one origin in step for a storage that cannot do it itself (memory, or the access
 * token alone in cookie mode): a write or clear in one tab reaches the others over a BroadcastChannel
 * named after `name`, and refreshes take the Web Lock `name:refresh`, so N tabs that meet an expired
 * token cause one refresh and a logout in one tab logs out all. Only in a browser document: on a
 * server one process serves many users, and their tokens must never meet, so there it returns
 * `storage` as it is. `localStorageStorage` and `cookieSession` bring it themselves.
 *
 * @param name the channel's and the lock's name: one per app on an origin.
 * @example
 * ```ts
 * import { createTokenRefresh, memoryStorage, syncTabs } from 'redux-observable-token-refresh';
 *
 * const auth = createTokenRefresh({ refresh, storage: syncTabs(memoryStorage(), 'my-app') });
 * ```
 */
export function syncTabs(storage: TokenStorage, name = 'tokenRefresh'): TokenStorage {
  // A storage that tells of the other tabs' writes itself (like localStorage) needs no channel.
  if (storage.subscribe) return shareTabs(storage);
  const Channel = typeof document === 'object' ? globalThis.BroadcastChannel : undefined;
  const locks = Channel && browserLocks();
  if (!Channel || !locks) {
    try {
      if (process.env.NODE_ENV !== 'production' && typeof document === 'object')
        devWarn('syncTabs: BroadcastChannel or Web Locks (https or localhost) missing; each tab refreshes on its own.');
    } catch {
      // no `process`: no development warnings
    }
    // Nothing to share over; a lock of its own is still taken for every refresh.
    if (!Channel) return storage.lock ? shareTabs(storage) : storage;
  }
  const channel = new Channel(`${name}:tokens`);
  // Node (tests, server-side rendering with a document shim) keeps a process alive for an open channel.
  (channel as { unref?: () => void }).unref?.();
  const listeners = new Set<(tokens: Tokens | null, reason?: EndReason, told?: boolean) => void>();
  channel.onmessage = ({ data }: MessageEvent<{ tokens?: Tokens; ended?: string }>) => {
    const tokens = data?.tokens ?? null;
    // Kept here first, so a tab that gets the lock afterwards finds them and adopts them. A write
    // that fails loses nothing: the listeners below take the news in memory all the same.
    try {
      const written = tokens ? storage.set(tokens) : storage.clear();
      if (isThenable(written)) written.then(undefined, () => {});
    } catch {
      // a storage that throws: as above
    }
    const reason = tokens ? undefined : endReasonOf(JSON.stringify({ ended: data?.ended }));
    // `told`: every tab heard it from the tab that wrote it, which needs no echo.
    for (const listener of listeners) listener(tokens, reason, true);
  };
  // Told once the write is done, also when it failed (it was reported): the news travels here, not
  // in storage, and the other tabs take it in memory as above. Else a refresh whose write failed
  // leaves them with a spent refresh token, and a logout whose clear failed leaves them signed in.
  const post = <T>(write: () => T, tokens?: Tokens, ended?: EndReason): T => {
    const send = () => channel.postMessage({ tokens, ended });
    let result: T | undefined;
    try {
      return (result = write());
    } finally {
      if (isThenable(result)) result.then(send, send);
      else send();
    }
  };
  return shareTabs({
    get: () => storage.get(),
    set: (tokens) => post(() => storage.set(tokens), tokens),
    clear: (reason) => post(() => storage.clear(reason), undefined, reason ?? 'logout'),
    // After a write of ours that failed: the tokens go, and no tab's session ends.
    drop: () => storage.clear(),
    subscribe: (listener) => (listeners.add(listener), () => listeners.delete(listener)),
    lock: storage.lock?.bind(storage) ?? (locks ? tabLock(locks, `${name}:refresh`) : undefined),
  });
}
