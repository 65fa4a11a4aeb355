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
