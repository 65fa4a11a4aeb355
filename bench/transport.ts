/**
 * The connections every client gets, so that no client wins by opening more sockets than another:
 * fetch-based clients get an undici Agent with `connections: CONNECTIONS` per origin, axios-based
 * clients an http.Agent with `maxSockets: CONNECTIONS`, both keep-alive.
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent } from 'undici';

export const CONNECTIONS = 64;

export type FetchFn = (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>;

export interface FetchPool {
  /** Node's global fetch, routed through this pool's agent. */
  fetch: FetchFn;
  /** Spread into the init of a fetch you make yourself (rxjs' fromFetch passes it on to fetch). */
  init: RequestInit;
  close(): Promise<void>;
}

export function createFetchPool(connections = CONNECTIONS): FetchPool {
  const dispatcher = new Agent({ connections, keepAliveTimeout: 10_000 });
  // `dispatcher` is undici's extension of RequestInit, honoured by Node's global fetch.
  const poolInit = { dispatcher } as RequestInit;
  return {
    fetch: (input, init) => fetch(input, { ...init, ...poolInit }),
    init: poolInit,
    // destroy, not close: a client that hung leaves requests in flight, and the row must end now.
    close: () => dispatcher.destroy().catch(() => undefined),
  };
}

export function createHttpAgent(connections = CONNECTIONS): HttpAgent {
  return new HttpAgent({ keepAlive: true, maxSockets: connections });
}
