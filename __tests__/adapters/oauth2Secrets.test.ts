/**
 * Issue 16 #4: a token endpoint that echoes what it was sent puts no secret into any error this
 * package creates. A real server on 127.0.0.1 quotes the refresh token, the client secret and the
 * Basic credentials back in every way servers do: whole, cut short, URL- or form-encoded, inside a
 * JSON string, as the error code, the token_type or a header. The session runs through
 * createTokenRefresh + oauth2RefreshGrant + the refresh epic in a real store.
 */
import { inspect } from 'node:util';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import axios, { type AxiosError } from 'axios';
import { RefreshUnavailableError, TokenRefreshError, createTokenRefresh } from '../../src';
import { serializeError } from '../../src/errors';
import { OAuth2Error, oauth2RefreshGrant } from '../../src/adapters/oauth2';
import { createStore } from '../support/harness';

// Characters that URL, form and JSON encodings each write differently: '/', '+', '=', '~'.
const REFRESH_TOKEN = `RT0/${randomBytes(18).toString('base64')}+x=~`;
const CLIENT_SECRET = `cs/${randomBytes(12).toString('base64')}+s=`;
const BASIC = Buffer.from(`app:${new URLSearchParams([['', CLIENT_SECRET]]).toString().slice(1)}`).toString('base64');

/** Every way one of the secrets could show up in printed text. */
const leaks = [REFRESH_TOKEN, CLIENT_SECRET, BASIC].flatMap((secret) => [
  secret,
  secret.slice(0, 12),
  secret.slice(-12),
  encodeURIComponent(secret),
  encodeURIComponent(secret).toLowerCase(),
  new URLSearchParams([['', secret]]).toString().slice(1),
]);

/** How the server quotes what it got (`sent`: the raw form body; `auth`: the Authorization header). */
const answers: Record<string, (sent: string, auth: string) => { status: number; type?: string; body: string }> = {
  whole: (sent, auth) => error(400, 'invalid_grant', `refresh token ${REFRESH_TOKEN} not found (client secret ${CLIENT_SECRET}, ${auth})`),
  cut: () => error(400, 'invalid_grant', `refresh token ${REFRESH_TOKEN.slice(0, 12)}… not found`),
  formBody: (sent) => error(400, 'invalid_request', `could not parse ${sent}`),
  urlEncoded: () => error(400, 'invalid_grant', `?refresh_token=${encodeURIComponent(REFRESH_TOKEN).toLowerCase()}`),
  jsonString: (sent) =>
    error(400, 'invalid_grant', JSON.stringify({ got: Object.fromEntries(new URLSearchParams(sent)) }).replace(/\//g, '\\/')),
  asCode: () => ({
    status: 400,
    body: JSON.stringify({ error: REFRESH_TOKEN.slice(0, 40), error_uri: `https://x.test/?t=${REFRESH_TOKEN}` }),
  }),
  basic: (sent, auth) => error(401, 'invalid_client', `bad credentials: ${auth}`),
  transient: (sent) => error(503, 'temporarily_unavailable', `busy, retry ${sent}`),
  tokenType: () => ({ status: 200, body: JSON.stringify({ access_token: 'a1', token_type: REFRESH_TOKEN }) }),
  notJson: () => ({ status: 200, type: `text/html; echo=${REFRESH_TOKEN}`, body: `<p>${REFRESH_TOKEN}</p>` }),
};

function error(status: number, code: string, description: string) {
  return { status, body: JSON.stringify({ error: code, error_description: description }) };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => resolve(body));
  });
}

let url: string;
let close: () => Promise<void>;
beforeAll(async () => {
  const server = createServer(
    (req, res) =>
      void (async () => {
        const sent = await readBody(req);
        const answer = answers[new URL(req.url!, 'http://x').searchParams.get('answer')!]!(sent, req.headers.authorization ?? '');
        res.writeHead(answer.status, { 'Content-Type': answer.type ?? 'application/json' }).end(answer.body);
      })(),
  );
  server.keepAliveTimeout = 100;
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`;
  // Bounded: the server goes away by itself should afterAll never run.
  const stop = setTimeout(() => server.close(), 60_000).unref();
  close = () => new Promise<void>((done) => (clearTimeout(stop), server.closeAllConnections(), server.close(() => done())));
});
afterAll(() => close());

async function failedRefresh(answer: string, clientAuthentication: 'basic' | 'body') {
  const printed: string[] = [];
  const consoles = (['log', 'info', 'warn', 'error', 'debug'] as const).map((method) =>
    jest
      .spyOn(console, method)
      .mockImplementation((...args: unknown[]) => void printed.push(args.map((arg) => inspect(arg, { depth: Infinity })).join(' '))),
  );
  try {
    const auth = createTokenRefresh({
      refresh: oauth2RefreshGrant({
        tokenEndpoint: `${url}?answer=${answer}`,
        clientId: 'app',
        clientSecret: CLIENT_SECRET,
        clientAuthentication,
      }),
      refreshRetries: 0,
    });
    const store = createStore(auth);
    auth.setTokens({ accessToken: 'a0', refreshToken: REFRESH_TOKEN });
    const failure = (await auth.refresh().catch((e: unknown) => e)) as Error & { cause: Error };
    const everything = [
      inspect(failure, { depth: Infinity, showHidden: true }),
      JSON.stringify(failure),
      JSON.stringify(failure.cause),
      String(failure),
      String(failure.cause),
      failure.stack,
      failure.cause?.stack,
      JSON.stringify(serializeError(failure)),
      JSON.stringify(serializeError(failure.cause)),
      JSON.stringify(store.actions),
      JSON.stringify(store.getState()),
      ...printed,
    ].join('\n');
    return { failure, everything };
  } finally {
    for (const spy of consoles) spy.mockRestore();
  }
}

describe('no secret the package sent appears in any error it creates', () => {
  test.each(Object.keys(answers).flatMap((answer) => [[answer, 'body'] as const, [answer, 'basic'] as const]))(
    'a token endpoint that echoes the request (%s, client secret in %s): no secret in the error, its cause, the store, the actions or the console',
    async (answer, clientAuthentication) => {
      const { failure, everything } = await failedRefresh(answer, clientAuthentication);
      expect(failure).toBeInstanceOf(['transient', 'notJson', 'tokenType'].includes(answer) ? RefreshUnavailableError : TokenRefreshError);
      for (const leak of leaks) expect(everything).not.toContain(leak);
    },
  );

  test("what is redacted reads [redacted], and the rest of the server's words stay", async () => {
    const { failure } = await failedRefresh('whole', 'basic');
    const cause = failure.cause as unknown as OAuth2Error;
    expect(cause).toBeInstanceOf(OAuth2Error);
    expect(cause).toMatchObject({ status: 400, error: 'invalid_grant' });
    expect(cause.errorDescription).toBe('refresh token [redacted] not found (client secret [redacted], Basic [redacted])');
    const cut = (await failedRefresh('cut', 'basic')).failure.cause as unknown as OAuth2Error;
    expect(cut.errorDescription).toBe('refresh token [redacted]… not found');
    const code = (await failedRefresh('asCode', 'basic')).failure.cause as unknown as OAuth2Error;
    expect(code.error).toBe('[redacted]');
    expect(code.message).toBe('The token endpoint answered 400 [redacted].');
  });

  test('a fetchFn built on axios that fails: its AxiosError, the cause, no longer holds the form or the Basic header', async () => {
    // A port nobody listens on: axios fails with ECONNREFUSED, its config holding what was sent.
    const closed = createServer();
    await new Promise<void>((ready) => closed.listen(0, '127.0.0.1', ready));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((done) => closed.close(() => done()));
    const axiosFetch = async (input: string | URL, init?: RequestInit): Promise<Response> => {
      const { status, data } = await axios.post<string>(String(input), (init?.body as URLSearchParams).toString(), {
        headers: init?.headers as Record<string, string>,
        signal: init?.signal ?? undefined,
        responseType: 'text',
      });
      return new Response(data, { status });
    };
    for (const clientAuthentication of ['basic', 'body'] as const) {
      const refresh = oauth2RefreshGrant({
        tokenEndpoint: `http://127.0.0.1:${port}/token`,
        clientId: 'app',
        clientSecret: CLIENT_SECRET,
        clientAuthentication,
        fetchFn: axiosFetch,
      });
      const failure = (await refresh(REFRESH_TOKEN, { signal: new AbortController().signal }).catch((e: unknown) => e)) as AxiosError;
      expect(axios.isAxiosError(failure)).toBe(true);
      expect(failure.code).toBe('ECONNREFUSED'); // still what isTransientError reads
      expect(failure.config?.data).toBe('[redacted]');
      const printed = [inspect(failure, { depth: Infinity }), JSON.stringify(failure)].join('\n');
      for (const leak of leaks) expect(printed).not.toContain(leak);
    }
  });

  test('text that merely resembles no secret is kept as the server wrote it', async () => {
    const refresh = oauth2RefreshGrant({
      tokenEndpoint: 'https://auth.example.test/token',
      clientId: 'app',
      fetchFn: async () =>
        new Response(JSON.stringify({ error: 'invalid_grant', error_description: 'refresh token revoked (RT0/ is our prefix)' }), {
          status: 400,
        }),
    });
    const failure = (await refresh(REFRESH_TOKEN, { signal: new AbortController().signal }).catch((e: unknown) => e)) as OAuth2Error;
    expect(failure.errorDescription).toBe('refresh token revoked (RT0/ is our prefix)'); // 4 characters of the token: too short to be it
  });
});
