/**
 * Where the demo keeps the refresh token, chosen on the sign-in page:
 * - `storage`: in localStorage with the access token (`localStorageStorage`), readable by scripts;
 *   a reload finds the session there.
 * - `cookie`: in an HttpOnly cookie the server sets (`session: cookieSession()`); scripts never see
 *   it, the access token lives in memory only, and a reload asks the server for a new access token
 *   with the cookie (`auth.restore()`).
 * The `auth` instance is made once per page load for one mode, so switching reloads the page.
 */
export type SessionMode = 'storage' | 'cookie';

const MODE_KEY = 'demo/mode';

export const MODE_LABELS: Record<SessionMode, { title: string; detail: string }> = {
  storage: { title: 'In localStorage', detail: 'with the access token; scripts on the page can read it' },
  cookie: { title: 'In an HttpOnly cookie', detail: 'SameSite=Strict, Path=/auth; scripts cannot read it, a reload restores the session' },
};

function read(): SessionMode {
  try {
    return window.localStorage.getItem(MODE_KEY) === 'cookie' ? 'cookie' : 'storage';
  } catch {
    return 'storage';
  }
}

/** This page load's mode. */
export const mode: SessionMode = read();

/** Remember `next` and reload the page, so that `auth` is made anew for it. */
export function switchMode(next: SessionMode): void {
  if (next === mode) return;
  window.localStorage.setItem(MODE_KEY, next);
  window.location.reload();
}

/**
 * DPoP (RFC 9449), chosen on the sign-in page or with `?dpop=1` / `?dpop=0` in the address: the
 * tokens are bound to a key pair made in this browser (kept in IndexedDB, its private half not
 * extractable), and every request carries a proof signed with it. Like the session mode, it is
 * fixed for a page load (`createDpop()` in auth.ts), so switching reloads.
 */
const DPOP_KEY = 'demo/dpop';
/** auth.ts's TOKEN_KEY: a session of the other kind (Bearer or DPoP-bound) cannot go on after a switch. */
const TOKENS_KEY = 'demo/tokens';

function readDpop(): boolean {
  try {
    const stored = window.localStorage.getItem(DPOP_KEY) === 'on';
    const param = new URLSearchParams(window.location.search).get('dpop');
    if (param === null) return stored;
    const wanted = ['1', 'on', 'true'].includes(param);
    if (wanted !== stored) {
      window.localStorage.setItem(DPOP_KEY, wanted ? 'on' : 'off');
      window.localStorage.removeItem(TOKENS_KEY);
    }
    return wanted;
  } catch {
    return false;
  }
}

/** This page load's DPoP mode. */
export const dpopMode: boolean = readDpop();

/** Remember `next` and reload without `?dpop`, so that `auth` and `dpop` are made anew for it. */
export function switchDpop(next: boolean): void {
  if (next === dpopMode) return;
  window.localStorage.setItem(DPOP_KEY, next ? 'on' : 'off');
  window.localStorage.removeItem(TOKENS_KEY);
  const url = new URL(window.location.href);
  url.searchParams.delete('dpop');
  window.location.replace(url.href);
}
