import { EMPTY, Observable, defer } from 'rxjs';
import type { Attempt, Core, RefreshCycle } from '../coordinator';
import { LoggedOutError } from '../errors';
import { end, establish, load, running, stay, timesOf, withAction, type Context, type State, type Step } from '../session/machine';
import { isThenable, type TokenStorage } from '../storage/types';
import { subjectOf, type StoredTokens } from '../tokens';

/** @internal A storage the tabs of one origin share: it tells of the others' writes and brings their part of the session. */
export interface SharedStorage extends TokenStorage {
  /** @internal Connects the tabs' part of the session to a coordinator; returns how a refresh attempt runs. */
  connect(core: Core): Attempt;
}

/**
 * Tokens another tab stored: a newer version of this login (its refresh: same identity, requests
 * go on), another login (this one ends: its requests fail, never replayed with those tokens), or
 * nothing new (our own, or older than ours because a write of ours failed). Tokens stored without
 * a session id count as another login unless the JWT `sub` is the same. `over`: the logins this tab
 * saw end.
 */
export function adopt(state: State, tokens: StoredTokens | null, ctx: Context, over: ReadonlySet<string>): Step {
  const { session } = state;
  if (!tokens || tokens.accessToken === session?.accessToken) return stay(state);
  // A login this tab saw end (a logout racing another tab's refresh): its late tokens are stale.
  if (tokens.sessionId !== undefined && over.has(tokens.sessionId)) return stay(state);
  const mine = session?.identity;
  const theirs = subjectOf(tokens.accessToken);
  const ours = session && subjectOf(session.accessToken);
  // One login: the same id; or the same user (JWT `sub`), as for a second login in this tab; or,
  // without a `sub` to tell, a restore from the cookie the tabs share, which continues our login.
  const same =
    mine &&
    (tokens.sessionId === mine.id ||
      (theirs !== undefined && ours !== undefined ? theirs === ours : !!tokens.restored && tokens.sessionId !== undefined));
  if (same && tokens.sessionId === mine.id && (tokens.version ?? Infinity) <= mine.version) return stay(state);
  // Fresh for the half-lifetime rule: the other tab just got them, and 20 s tokens alternating
  // between two tabs must not refresh on every request.
  const next = load(tokens, same ? mine : ctx.identity(tokens), ctx, true);
  if (!next) return stay(state);
  // Both tabs name this login alike from now on, so later writes are news to both.
  const renamed = establish(state, next, ctx, undefined, true, [
    ...(same
      ? [{ type: 'rename', identity: mine, id: tokens.sessionId ?? mine.id, version: tokens.version ?? mine.version } as const]
      : []),
  ]);
  return withAction(renamed, (same ? ctx.actions.refreshSucceeded : ctx.actions.tokensSet)(timesOf(next)));
}

/**
 * Under the cross-tab lock, before spending the refresh token: what storage holds (`found`) against
 * what this tab last knew it held (`seen`). Newer tokens of this login (another tab refreshed) or
 * another login's are taken instead; our tokens gone with no tab saying why means other code
 * cleared the storage, and the session ends here as it did in the tabs that heard of it.
 */
export function found(state: State, tokens: StoredTokens | null, seen: string | undefined, ctx: Context, over: ReadonlySet<string>): Step {
  if (!running(state)) return stay(state);
  if (!tokens?.accessToken && state.session && seen === state.session.accessToken)
    return end(state, new LoggedOutError(), 'storageCleared', true, ctx, { clear: {} });
  // Only news counts: what storage held when we last wrote or heard is ours, or a previous user's
  // left behind by a write that failed.
  return tokens?.accessToken === seen ? stay(state) : adopt(state, tokens, ctx, over);
}

/**
 * @internal Makes `storage` (which tells of other tabs' writes, or locks across them, or both) the tabs'
 * shared session: their tokens are adopted, their logouts end this tab's session, and a refresh
 * runs under the lock after checking that no other tab refreshed meanwhile.
 */
export function shareTabs<S extends TokenStorage>(storage: S): S & SharedStorage {
  return Object.assign(storage, {
    connect(core: Core): Attempt {
      // Another tab changed the shared storage: it logged out, logged in, or refreshed. Its tokens
      // replace ours and end a refresh we were running; the store hears of it like of a login.
      storage.subscribe?.((tokens, reason = 'storageCleared', told) => {
        if (!tokens) {
          if (core.state.status === 'unauthenticated') return;
          // Told by the tab that ended it (the channel): every tab heard it. A late write of this
          // login goes, quietly: an echo would end the login that tab may have made since.
          if (told) core.store.drop();
          // Else clear storage again (the tab where other code cleared it heard nothing), unless it
          // holds another login's tokens by now. A late write of this login goes too.
          const kept = told ? null : (core.store.get() as StoredTokens | null);
          const clear =
            !told &&
            (isThenable(kept) ||
              !kept?.accessToken ||
              (kept.sessionId !== undefined && (core.over.has(kept.sessionId) || kept.sessionId === core.state.session?.identity.id)));
          return void core.dispatch({ type: 'logout', reason, elsewhere: true, announce: true, clear });
        }
        core.seen = tokens.accessToken;
        core.step((state, ctx) => adopt(state, tokens, ctx, core.over));
      });
      /** True if another tab's tokens (or its logout) settled `cycle`: then nothing is spent. */
      const adoptStored = (cycle: RefreshCycle): boolean => {
        const stored = core.store.get() as StoredTokens | null | undefined;
        // A read that failed tells nothing (it is reported): refresh as if no tab had.
        if (cycle !== core.live || stored === undefined || isThenable(stored)) return false;
        const before = core.state;
        core.step((state, ctx) => found(state, stored, core.seen, ctx, core.over));
        if (core.state.status === 'authenticated' && core.state !== before) core.seen = stored!.accessToken;
        return core.state !== before;
      };
      const lock = storage.lock?.bind(storage);
      return (cycle, once, signal) =>
        lock
          ? new Observable((subscriber) => {
              lock(
                () =>
                  new Promise<void>((release) => {
                    // Cancelled while queued for the lock: do not spend the refresh token for nobody.
                    if (signal.aborted) return release();
                    // The coordinator stores the tokens synchronously in `next`, so they are in
                    // storage before the lock is released and the next tab reads them.
                    const inner = defer(() => (adoptStored(cycle) ? EMPTY : once())).subscribe({
                      next: (tokens) => subscriber.next(tokens),
                      error: (error: unknown) => (subscriber.error(error), release()),
                      complete: () => (subscriber.complete(), release()),
                    });
                    // Cancelled while holding it: stop the call and let the other tabs go on.
                    signal.addEventListener('abort', () => (inner.unsubscribe(), release()), { once: true });
                  }),
              ).catch((error: unknown) => subscriber.error(error));
            })
          : defer(() => (adoptStored(cycle) ? EMPTY : once()));
    },
  });
}
