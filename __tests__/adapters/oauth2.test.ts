import { TokenRefreshError, createTokenRefresh } from '../../src';
import { OAuth2Error, oauth2RefreshGrant } from '../../src/adapters/oauth2';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startEchoServer, type EchoServer } from '../support/echoServer';
import { genOf, startServer, startSession, type AuthServer } from '../support/realServer';
import { createStore } from '../support/harness';
import { cookieSession } from '../../src/cookie';

let server: AuthServer;
beforeAll(async () => {
  server = await startServer({ accessTtlMs: 60_000 });
});
afterAll(() => server.close());
beforeEach(() => server.reset());

/** A password-grant login at /oauth/token, so the session belongs to the OAuth client. */
async function oauthLogin(clientId = 'demo-app', clientSecret?: string) {
  const form = new URLSearchParams({ grant_type: 'password', username: 'demo', password: 'demo', client_id: clientId });
  if (clientSecret) form.set('client_secret', clientSecret);
  const response = await fetch(`${server.url}/oauth/token`, { method: 'POST', body: form });
  return (await response.json()) as { access_token: string; refresh_token: string };
}

const signal = () => new AbortController().signal;

/** Records what went over the wire, then lets it through. */
function recordingFetch() {
  const sent: Array<{ headers: Headers; body: URLSearchParams }> = [];
  const fetchFn = (input: string | URL, init?: RequestInit) => {
    sent.push({ headers: new Headers(init?.headers), body: new URLSearchParams(init?.body as URLSearchParams) }); // the adapter sends a URLSearchParams
    return fetch(input, init);
  };
  return { sent, fetchFn };
}

describe('oauth2RefreshGrant against an RFC 6749 token endpoint', () => {
  test('a public client sends a form-encoded refresh_token grant with client_id and gets rotated tokens', async () => {
    const { refresh_token } = await oauthLogin();
    const { sent, fetchFn } = recordingFetch();
    const refresh = oauth2RefreshGrant({ tokenEndpoint: `${server.url}/oauth/token`, clientId: 'demo-app', fetchFn });
    const tokens = await refresh(refresh_token, { signal: signal() });
    expect(sent[0]?.headers.get('content-type')).toBe('application/x-www-form-urlencoded');
    expect(sent[0]?.headers.get('authorization')).toBeNull();
    expect(Object.fromEntries(sent[0]!.body)).toEqual({ grant_type: 'refresh_token', client_id: 'demo-app', refresh_token });
    expect(genOf(tokens.accessToken)).toBe(2);
    expect(tokens.refreshToken).toEqual(expect.any(String));
    expect(tokens.refreshToken).not.toBe(refresh_token);
  });

  test('a confidential client authenticates with HTTP Basic by default, or in the body when asked', async () => {
    for (const clientAuthentication of ['basic', 'body'] as const) {
      const { refresh_token } = await oauthLogin('demo-confidential', 'demo-secret');
      const { sent, fetchFn } = recordingFetch();
      const refresh = oauth2RefreshGrant({
        tokenEndpoint: new URL('/oauth/token', server.url),
        clientId: 'demo-confidential',
        clientSecret: 'demo-secret',
        clientAuthentication,
        fetchFn,
      });
      const tokens = await refresh(refresh_token, { signal: signal() });
      expect(genOf(tokens.accessToken)).toBe(2);
      const basic = sent[0]?.headers.get('authorization');
      if (clientAuthentication === 'basic') {
        expect(basic).toBe(`Basic ${Buffer.from('demo-confidential:demo-secret').toString('base64')}`);
        expect(sent[0]?.body.has('client_secret')).toBe(false);
      } else {
        expect(basic).toBeNull();
        expect(sent[0]?.body.get('client_secret')).toBe('demo-secret');
      }
    }
  });

  test('expires_in becomes expiresAt counted from the arrival of the answer, on the local clock', async () => {
    const { refresh_token } = await oauthLogin();
    const arrivedAt = 1_000_000; // a client clock far from the server's: it does not matter
    const refresh = oauth2RefreshGrant({ tokenEndpoint: `${server.url}/oauth/token`, clientId: 'demo-app', now: () => arrivedAt });
    expect((await refresh(refresh_token, { signal: signal() })).expiresAt).toBe(arrivedAt + 60_000);
  });

  test('a scope is sent space-separated, and a scope beyond the grant is refused', async () => {
    const { refresh_token } = await oauthLogin();
    const { sent, fetchFn } = recordingFetch();
    const narrow = oauth2RefreshGrant({ tokenEndpoint: `${server.url}/oauth/token`, clientId: 'demo-app', scope: ['profile'], fetchFn });
    const tokens = await narrow(refresh_token, { signal: signal() });
    expect(sent[0]?.body.get('scope')).toBe('profile');
    const wide = oauth2RefreshGrant({ tokenEndpoint: `${server.url}/oauth/token`, clientId: 'demo-app', scope: 'profile admin' });
    await expect(wide(tokens.refreshToken, { signal: signal() })).rejects.toMatchObject({
      name: 'OAuth2Error',
      status: 400,
      error: 'invalid_scope',
    });
  });

  test('a server that does not rotate omits refresh_token; the session keeps the old one, which still works', async () => {
    const noRotation = await startServer({ oauthRotateRefreshTokens: false });
    try {
      const form = new URLSearchParams({ grant_type: 'password', username: 'demo', password: 'demo', client_id: 'demo-app' });
      const login = (await (await fetch(`${noRotation.url}/oauth/token`, { method: 'POST', body: form })).json()) as {
        access_token: string;
        refresh_token: string;
      };
      const { auth } = await startSession(noRotation, {
        loggedIn: false,
        refresh: oauth2RefreshGrant({ tokenEndpoint: `${noRotation.url}/oauth/token`, clientId: 'demo-app' }),
      });
      auth.setTokens({ accessToken: login.access_token, refreshToken: login.refresh_token });
      await auth.refresh();
      await auth.refresh();
      expect(genOf(auth.getAccessToken())).toBe(3);
      expect(noRotation.stats()).toMatchObject({ refreshCalls: 2, refreshOk: 2 });
    } finally {
      await noRotation.close();
    }
  });

  test('with rotation, the session spends each new refresh token once', async () => {
    const login = await oauthLogin();
    const { auth } = await startSession(server, {
      loggedIn: false,
      refresh: oauth2RefreshGrant({ tokenEndpoint: `${server.url}/oauth/token`, clientId: 'demo-app' }),
    });
    auth.setTokens({ accessToken: login.access_token, refreshToken: login.refresh_token });
    await auth.refresh();
    await auth.refresh();
    expect(genOf(auth.getAccessToken())).toBe(3);
    expect(server.stats()).toMatchObject({ refreshCalls: 2, refreshOk: 2, reuseDetections: 0 });
  });

  test('invalid_grant is final: one call, not retried, the session ends with TokenRefreshError caused by OAuth2Error', async () => {
    const login = await oauthLogin();
    const { auth, store } = await startSession(server, {
      loggedIn: false,
      refreshRetries: 3,
      refresh: oauth2RefreshGrant({ tokenEndpoint: `${server.url}/oauth/token`, clientId: 'demo-app' }),
    });
    auth.setTokens({ accessToken: login.access_token, refreshToken: login.refresh_token });
    server.control.revokeRefreshTokens();
    const failure = await auth.refresh().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(TokenRefreshError);
    expect((failure as TokenRefreshError).cause).toBeInstanceOf(OAuth2Error);
    expect((failure as TokenRefreshError).cause).toMatchObject({
      status: 400,
      error: 'invalid_grant',
      errorDescription: 'refresh token revoked',
    });
    expect(server.stats().refreshCalls).toBe(1);
    expect(auth.getAccessToken()).toBeUndefined();
    expect((store.getState() as { tokenRefresh: { status: string } }).tokenRefresh.status).toBe('unauthenticated');
  });

  test('a 5xx is transient: retried with backoff, then the refresh succeeds', async () => {
    const login = await oauthLogin();
    const { auth } = await startSession(server, {
      loggedIn: false,
      refreshRetries: 2,
      refreshBackoffMs: 10,
      refresh: oauth2RefreshGrant({ tokenEndpoint: `${server.url}/oauth/token`, clientId: 'demo-app' }),
    });
    auth.setTokens({ accessToken: login.access_token, refreshToken: login.refresh_token });
    server.control.failNextRefresh(503, 2);
    await auth.refresh();
    expect(genOf(auth.getAccessToken())).toBe(2);
    expect(server.stats()).toMatchObject({ refreshCalls: 3, refreshFailed: 2, refreshOk: 1 });
  });

  test('an answer that is not a token response is an OAuth2Error, final', async () => {
    const fetchFn = async () => new Response(JSON.stringify({ token_type: 'Bearer' }), { status: 200 });
    const refresh = oauth2RefreshGrant({ tokenEndpoint: 'https://auth.example.test/token', clientId: 'x', fetchFn });
    await expect(refresh('r', { signal: signal() })).rejects.toMatchObject({ name: 'OAuth2Error', error: 'invalid_response' });
    const mac = async () => new Response(JSON.stringify({ access_token: 'a', token_type: 'mac' }), { status: 200 });
    await expect(
      oauth2RefreshGrant({ tokenEndpoint: 'https://auth.example.test/token', clientId: 'x', fetchFn: mac })('r', { signal: signal() }),
    ).rejects.toMatchObject({
      errorDescription: expect.stringMatching(/token_type 'mac' is neither Bearer nor DPoP/),
    });
  });

  test.each(['Bearer', 'bearer', 'DPoP', 'dpop', undefined])('token_type %p is a token this package can send', async (tokenType) => {
    const fetchFn = async () => new Response(JSON.stringify({ access_token: 'a', token_type: tokenType }), { status: 200 });
    const refresh = oauth2RefreshGrant({ tokenEndpoint: 'https://auth.example.test/token', clientId: 'x', fetchFn });
    await expect(refresh('r', { signal: signal() })).resolves.toMatchObject({ accessToken: 'a' });
  });

  test('the grant plugs into createTokenRefresh, and bad options throw a TypeError naming the option', () => {
    expect(() => createTokenRefresh({ refresh: oauth2RefreshGrant({ tokenEndpoint: '/oauth/token', clientId: 'spa' }) })).not.toThrow();
    expect(() => oauth2RefreshGrant({ tokenEndpoint: '', clientId: 'x' })).toThrow(/option "tokenEndpoint"/);
    expect(() => oauth2RefreshGrant({ tokenEndpoint: '/t', clientId: '' })).toThrow(/option "clientId"/);
    expect(() => oauth2RefreshGrant({ tokenEndpoint: '/t', clientId: 'x', clientAuthentication: 'jwt' as never })).toThrow(
      /option "clientAuthentication"/,
    );
    expect(() => oauth2RefreshGrant(undefined as never)).toThrow(TypeError);
  });
});

describe('oauth2RefreshGrant: where the refresh call may go, and what it may say', () => {
  let home: EchoServer;
  let third: EchoServer;
  beforeAll(async () => {
    [home, third] = await Promise.all([startEchoServer(), startEchoServer()]);
  });
  afterAll(() => Promise.all([home.close(), third.close()]));

  test('a 307 from the token endpoint is not followed: the refresh token and the client secret are not posted where it points', async () => {
    const refresh = oauth2RefreshGrant({
      tokenEndpoint: `${home.url}/redirect?status=307&to=${encodeURIComponent(`${third.url}/steal`)}`,
      clientId: 'app',
      clientSecret: 'the-secret',
    });
    const failure = await refresh('RT-SECRET', { signal: signal() }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(OAuth2Error);
    expect(failure).toMatchObject({ status: 307, error: 'invalid_response' });
    expect(third.seen).toEqual([]);
  });

  test('a plain-http token endpoint is refused, except on loopback', () => {
    expect(() => oauth2RefreshGrant({ tokenEndpoint: 'http://auth.example.com/oauth/token', clientId: 'x' })).toThrow(
      /option "tokenEndpoint" must be an https URL/,
    );
    expect(() => oauth2RefreshGrant({ tokenEndpoint: new URL('http://10.0.0.5/token'), clientId: 'x' })).toThrow(/https/);
    for (const ok of [
      'https://auth.example.com/token',
      'http://localhost:8080/token',
      'http://127.0.0.1/token',
      'http://[::1]:3000/token',
    ]) {
      expect(() => oauth2RefreshGrant({ tokenEndpoint: ok, clientId: 'x' })).not.toThrow();
    }
  });

  test('a clientSecret in a browser gets a warning in development', () => {
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => {});
    const globals = globalThis as { window?: unknown; document?: unknown };
    try {
      oauth2RefreshGrant({ tokenEndpoint: 'https://auth.example.com/token', clientId: 'x', clientSecret: 's' });
      expect(warn).not.toHaveBeenCalled(); // Node: a confidential client is fine
      globals.window = {};
      globals.document = {};
      oauth2RefreshGrant({ tokenEndpoint: 'https://auth.example.com/token', clientId: 'x', clientSecret: 's' });
      expect(warn).toHaveBeenCalledWith(expect.stringContaining('clientSecret in code that runs in a browser'));
    } finally {
      delete globals.window;
      delete globals.document;
      warn.mockRestore();
    }
  });

  test("the server's error_description stays out of the message and out of the store", async () => {
    const login = await oauthLogin();
    const { auth, store } = await startSession(server, {
      loggedIn: false,
      refresh: oauth2RefreshGrant({ tokenEndpoint: `${server.url}/oauth/token`, clientId: 'demo-app' }),
    });
    auth.setTokens({ accessToken: login.access_token, refreshToken: login.refresh_token });
    server.control.revokeRefreshTokens();
    const failure = (await auth.refresh().catch((error: unknown) => error)) as TokenRefreshError;
    const cause = failure.cause as OAuth2Error;
    expect(cause.errorDescription).toBe('refresh token revoked'); // still there for whoever needs it
    expect(cause.message).toBe('The token endpoint answered 400 invalid_grant.');
    expect(JSON.stringify(store.getState())).not.toContain('revoked');
  });

  test('the scope granted by an answer is what the next refresh asks for', async () => {
    const asked: Array<string | null> = [];
    let n = 0;
    const tokenServer = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        asked.push(new URLSearchParams(body).get('scope'));
        n++;
        res
          .writeHead(200, { 'Content-Type': 'application/json' })
          .end(JSON.stringify({ access_token: `a${n}`, refresh_token: `r${n}`, token_type: 'Bearer', scope: 'profile' }));
      });
    });
    await new Promise<void>((ready) => tokenServer.listen(0, '127.0.0.1', ready));
    try {
      const url = `http://127.0.0.1:${(tokenServer.address() as AddressInfo).port}/token`;
      const refresh = oauth2RefreshGrant({ tokenEndpoint: url, clientId: 'x', scope: ['profile', 'items'] });
      const first = await refresh('r0', { signal: signal() });
      await refresh(first.refreshToken, { signal: signal() });
      expect(asked).toEqual(['profile items', 'profile']);
    } finally {
      await new Promise<void>((done) => (tokenServer.closeAllConnections(), tokenServer.close(() => done())));
    }
  });

  test('an answer that is not JSON (a captive portal) is a SyntaxError of the package, transient, quoting nothing', async () => {
    const refresh = oauth2RefreshGrant({ tokenEndpoint: `${home.url}/html`, clientId: 'x' });
    const failure = await refresh('r', { signal: signal() }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(SyntaxError);
    expect((failure as SyntaxError).message).toBe('The token endpoint answered 200 with a body that is not JSON (text/html).');
    expect(failure).not.toHaveProperty('status'); // no status: network-like, not a rejection of the refresh token
  });
});

describe('oauth2RefreshGrant: a token endpoint that keeps the refresh token in an HttpOnly cookie', () => {
  test("credentials: 'include' sends the cookie, and in cookie mode the form carries no refresh token", async () => {
    const calls: Array<{ credentials?: RequestCredentials; body: string }> = [];
    const refresh = oauth2RefreshGrant({
      tokenEndpoint: 'https://auth.example.com/oauth/token',
      clientId: 'spa',
      credentials: 'include',
      fetchFn: async (_input, init) => {
        calls.push({ credentials: init?.credentials, body: (init?.body as URLSearchParams).toString() });
        return new Response(JSON.stringify({ access_token: 'a1', token_type: 'Bearer', expires_in: 60 }), {
          headers: { 'content-type': 'application/json' },
        });
      },
    });
    const auth = createTokenRefresh({ session: cookieSession(), refresh });
    createStore(auth);
    expect(await auth.restore()).toBe(true);
    expect(auth.getAccessToken()).toBe('a1');
    expect(calls).toHaveLength(1);
    expect(calls[0]!.credentials).toBe('include');
    expect(new URLSearchParams(calls[0]!.body).has('refresh_token')).toBe(false);
  });

  test("by default no cookie goes with the refresh call (credentials: 'omit')", async () => {
    let credentials: RequestCredentials | undefined;
    const refresh = oauth2RefreshGrant({
      tokenEndpoint: 'https://auth.example.com/oauth/token',
      clientId: 'spa',
      fetchFn: async (_input, init) => (
        (credentials = init?.credentials),
        new Response(JSON.stringify({ access_token: 'a1', token_type: 'Bearer' }), { headers: { 'content-type': 'application/json' } })
      ),
    });
    await refresh('r0', { signal: new AbortController().signal });
    expect(credentials).toBe('omit');
  });
});
