/**
 * Type test (checked by `tsc --noEmit` in `npm test`, never run): the two session models are one
 * union of option shapes, so TypeScript catches a refresh function written for the other model.
 */
import { of } from 'rxjs';
import {
  createTokenRefresh,
  memoryStorage,
  syncTabs,
  type CookieRefreshFn,
  type RefreshFn,
  type TokenRefreshOptions,
} from 'redux-observable-token-refresh';
import { cookieSession } from 'redux-observable-token-refresh/cookie';

const tokens = { accessToken: 'a' };

// Storage mode (the default): refresh gets the refresh token as a string.
createTokenRefresh({ refresh: (refreshToken, { signal }) => (refreshToken.toUpperCase(), signal, of(tokens)) });
createTokenRefresh({ refreshTokenIn: 'storage', refresh: (refreshToken: string) => of({ ...tokens, refreshToken }) });

// Cookie mode: refresh gets undefined; the browser sends the cookie.
createTokenRefresh({
  session: cookieSession(),
  refresh: (_none, { signal }) => fetch('/auth/refresh', { method: 'POST', credentials: 'include', signal }).then((r) => r.json()),
});
createTokenRefresh({ session: cookieSession(), refresh: (none: undefined) => of({ ...tokens, none }) });

// One function written for both fits both.
const either = (_refreshToken: string | undefined, _context: { signal: AbortSignal }) => of(tokens);
createTokenRefresh({ refresh: either });
createTokenRefresh({ session: cookieSession(), refresh: either });
const loose = (_refreshToken: unknown) => Promise.resolve(tokens);
createTokenRefresh({ refresh: loose });
createTokenRefresh({ session: cookieSession(), refresh: loose });

// A function that needs the string does not fit cookie mode, where there is none.
const needsString: RefreshFn = (refreshToken) => of({ accessToken: refreshToken.slice(1) });
// @ts-expect-error cookie mode passes undefined, not a refresh token
createTokenRefresh({ session: cookieSession(), refresh: needsString });

// A cookie-mode function does not fit storage mode, which passes a string it would ignore.
const cookieOnly: CookieRefreshFn = () => of(tokens);
// @ts-expect-error storage mode passes the refresh token, which a cookie-mode function does not take
createTokenRefresh({ refresh: cookieOnly });

// @ts-expect-error refreshTokenIn is 'storage'; the cookie is a session model you import
createTokenRefresh({ refreshTokenIn: 'cookie', refresh: either });
// @ts-expect-error syncTabs is a storage you import: storage: syncTabs(memoryStorage())
createTokenRefresh({ syncTabs: true, refresh: either });
createTokenRefresh({ storage: syncTabs(memoryStorage(), 'my-app'), refresh: either });

// Options objects built apart from the call keep their shape.
export const options: TokenRefreshOptions = { session: cookieSession(), refresh: () => of(tokens) };

// expiresAt takes epoch ms, a Date or an ISO string.
const auth = createTokenRefresh({ refresh: either });
auth.setTokens({ accessToken: 'a', expiresAt: Date.now() + 60_000 });
auth.setTokens({ accessToken: 'a', expiresAt: new Date() });
auth.setTokens({ accessToken: 'a', expiresAt: '2030-01-01T00:00:00Z' }, { sameUser: true });
export const restored: Promise<boolean> = auth.restore();
