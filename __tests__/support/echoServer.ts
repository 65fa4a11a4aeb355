/**
 * A real HTTP server on 127.0.0.1 that answers with what it received, for tests that compare two
 * clients byte for byte. Paths:
 * - `/echo…`: 200 JSON `{ method, url, headers, body }` (headers lower-cased, `host` left out);
 * - `/text`: 200 text/plain; `/html`: 200 text/html that is not JSON; `/empty`: 204;
 * - `/status/<n>`: status n with the echo as JSON body;
 * - `/redirect?to=<url>&status=<3xx>`: a redirect to `to` (302 unless `status` says otherwise);
 * - `/hang`: never answers (until the client goes away);
 * - `/held/<n>`: answers status n when the test calls `release()`.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface EchoServer {
  url: string;
  /** The requests seen, in order. */
  seen: Array<{ method: string; url: string; headers: Record<string, string> }>;
  /** Answers every `/held/…` request waiting so far. */
  release(): void;
  close(): Promise<void>;
}

export interface Echo {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

export async function startEchoServer(): Promise<EchoServer> {
  const seen: EchoServer['seen'] = [];
  let held: Array<() => void> = [];
  const server = createServer(
    (req, res) =>
      void (async () => {
        const headers = Object.fromEntries(
          Object.entries(req.headers)
            .filter(([name]) => name !== 'host' && name !== 'connection' && name !== 'content-length')
            .map(([name, value]) => [name, String(value)]),
        );
        seen.push({ method: req.method!, url: req.url!, headers });
        const echo: Echo = { method: req.method!, url: req.url!, headers, body: await readBody(req) };
        const path = new URL(req.url!, 'http://x').pathname;
        const json = (status: number, value: unknown) =>
          res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(value));
        if (path === '/text') return res.writeHead(200, { 'Content-Type': 'text/plain' }).end(`plain ${echo.method}`);
        if (path === '/html') return res.writeHead(200, { 'Content-Type': 'text/html' }).end('<html>captive portal</html>');
        if (path === '/empty') return res.writeHead(204).end();
        if (path.startsWith('/status/')) return json(Number(path.slice('/status/'.length)), echo);
        if (path === '/redirect') {
          const query = new URL(req.url!, 'http://x').searchParams;
          return res.writeHead(Number(query.get('status') ?? 302), { Location: query.get('to')! }).end();
        }
        if (path === '/hang') return; // never answers
        if (path.startsWith('/held/')) return void held.push(() => json(Number(path.slice('/held/'.length)), echo));
        return json(200, echo);
      })(),
  );
  server.keepAliveTimeout = 100;
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    release: () => {
      const waiting = held;
      held = [];
      for (const answer of waiting) answer();
    },
    close: () => new Promise<void>((done) => (server.closeAllConnections(), server.close(() => done()))),
  };
}
