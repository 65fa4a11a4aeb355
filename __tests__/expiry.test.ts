import { jwtClaims } from '../src/jwt';
import { expiryOf, toSession } from '../src/tokens';
import { fakeJwt, newTestScheduler, setup } from './support/harness';

jest.mock('../src/jwt', () => {
  const actual = jest.requireActual<typeof import('../src/jwt')>('../src/jwt');
  return { ...actual, jwtClaims: jest.fn(actual.jwtClaims) };
});

const decode = jwtClaims as jest.MockedFunction<typeof jwtClaims>;
beforeEach(() => decode.mockClear());

describe('expiry of a token', () => {
  test('an explicit expiresAt wins over the JWT claims', () => {
    expect(expiryOf({ accessToken: fakeJwt({ iat: 0, exp: 50 }), expiresAt: 1234 }, 0)).toBe(1234);
  });

  test('exp is shifted by how far the issuer clock (iat) is from ours at receipt', () => {
    // The issuer says 10:00:00 while our clock says 10:05:00: the 60 s lifetime counts from now.
    const now = Date.UTC(2026, 0, 1, 10, 5);
    const iat = Date.UTC(2026, 0, 1, 10, 0) / 1000;
    expect(expiryOf({ accessToken: fakeJwt({ iat, exp: iat + 60 }) }, now)).toBe(now + 60_000);
  });

  test('exp alone is taken as it is', () => {
    expect(expiryOf({ accessToken: fakeJwt({ exp: 2_000_000_000 }) }, 0)).toBe(2_000_000_000_000);
  });

  test('an opaque token has no known expiry: only the server says', () => {
    expect(expiryOf({ accessToken: 'opaque-token' }, 0)).toBeUndefined();
    expect(toSession({ accessToken: 'opaque-token' }, null, 0, 30_000, { id: 'login', version: 0 }).refreshAt).toBe(Infinity);
  });
});

describe('the per-request path', () => {
  test('a JWT is decoded once per token, not once per request', () => {
    const ts = newTestScheduler();
    ts.run(({ flush }) => {
      const { server, auth } = setup();
      const jwt = fakeJwt({ iat: 0, exp: 3600 });
      server.validAccess = jwt;
      auth.setTokens({ accessToken: jwt, refreshToken: 'refresh-0' });
      decode.mockClear();
      for (let i = 0; i < 100; i++) auth.authorized((token) => server.request(token)).subscribe();
      flush();
      expect(server.sentWith(jwt)).toBe(100);
      expect(decode).not.toHaveBeenCalled();
    });
  });

  test('a refreshed JWT is decoded once when it arrives', () => {
    const ts = newTestScheduler();
    ts.run(({ flush }) => {
      const { server, auth } = setup();
      server.validAccess = 'expired-on-server';
      decode.mockClear();
      for (let i = 0; i < 20; i++) auth.authorized((token) => server.request(token)).subscribe();
      flush();
      expect(server.refreshCalls).toBe(1);
      expect(decode).toHaveBeenCalledTimes(1);
    });
  });
});
