/** What a scenario needs from a client: send one authorized GET, and tear everything down. */

export interface BenchTokens {
  accessToken: string;
  refreshToken: string;
  /**
   * Epoch ms when the access token expires, when the scenario makes it known (known-expiry).
   * Clients that can use it do; the others ignore it, as their users would have to.
   */
  expiresAt?: number;
}

export interface ClientContext {
  /** e.g. http://127.0.0.1:41234 */
  baseUrl: string;
  /** The tokens of a fresh login, as the app would have stored them. */
  tokens: BenchTokens;
}

export interface BenchClient {
  /** One GET of `path` (e.g. /api/echo?i=3) with the access token; resolves on 2xx, rejects otherwise. */
  request(path: string): Promise<unknown>;
  /** Cancel whatever is still running (hung requests, refresh loops) and free the sockets; at once or later (it is awaited). */
  dispose(): void | Promise<void>;
}

export interface ClientFactory {
  /** The row label. */
  name: string;
  /** One line on the setup, for results.md. */
  setup: string;
  create(context: ClientContext): Promise<BenchClient> | BenchClient;
}

/** A JSON body and its status, the way ajax and fetchBaseQuery report an HTTP error. */
export async function readJson(response: Response): Promise<unknown> {
  // Always read the body: an unread body keeps its keep-alive socket busy.
  const text = await response.text();
  const body: unknown = text ? JSON.parse(text) : undefined;
  if (!response.ok) throw Object.assign(new Error(`HTTP ${response.status}`), { status: response.status, body });
  return body;
}

/**
 * Requests that are an action in and a success or failure action out: `send` numbers a request
 * and dispatches it, `resolve`/`reject` settle the caller's promise when the answer action passes
 * (where the app would render). Shared by the epic-based clients.
 */
export function createPendingRequests(dispatch: (id: number, path: string) => void) {
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: unknown) => void }>();
  let nextId = 0;
  return {
    send: (path: string) =>
      new Promise<unknown>((resolve, reject) => {
        const id = nextId++;
        pending.set(id, {
          resolve: (value) => (pending.delete(id), resolve(value)),
          reject: (error) => (pending.delete(id), reject(error)),
        });
        dispatch(id, path);
      }),
    resolve: (id: number) => pending.get(id)?.resolve(undefined),
    reject: (id: number, error: Error) => pending.get(id)?.reject(error),
  };
}
