/**
 * A loopback HTTP server (node:http on 127.0.0.1) whose every answer a test scripts: for the DPoP
 * edge cases where the network matters (redirects, headers as sent on the wire, slow bodies).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeProof, type DecodedProof } from '../../dpop/support';

/** One request as the server received it. */
export interface Received {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  authorization: string | undefined;
  /** The raw `DPoP` header. */
  dpop: string | undefined;
  proof: DecodedProof | undefined;
  body: string;
}

export interface ScriptedServer {
  url: string;
  origin: string;
  received: Received[];
  close(): Promise<void>;
}

export async function startScriptedServer(
  answer: (request: Received, response: ServerResponse, index: number) => void,
): Promise<ScriptedServer> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const dpop = typeof req.headers.dpop === 'string' ? req.headers.dpop : undefined;
      const request: Received = {
        method: req.method!,
        path: req.url!,
        headers: req.headers,
        authorization: req.headers.authorization,
        dpop,
        proof: dpop ? decodeProof(dpop) : undefined,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      received.push(request);
      answer(request, res, received.length - 1);
    });
  });
  server.keepAliveTimeout = 100;
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: origin,
    origin,
    received,
    close: () => new Promise<void>((done) => (server.closeAllConnections(), server.close(() => done()))),
  };
}

/** Writes a JSON answer. */
export function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'Content-Type': 'application/json', ...headers }).end(JSON.stringify(body));
}
