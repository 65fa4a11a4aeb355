/** Answers a DPoP client must survive: bodies it need not read, headers that say nothing. */
import { createDpop, memoryKeys } from '../../src/dpop';
import { decodeProof, scriptedFetch } from './support';
import { startScriptedServer, type ScriptedServer } from '../support/dpop/scriptedServer';

let api: ScriptedServer;
beforeAll(async () => {
  api = await startScriptedServer((request, res) => {
    // A JSON answer other than a 400 whose body streams on (a feed, a long export): its headers are the answer.
    if (request.path === '/feed') return void res.writeHead(401, { 'Content-Type': 'application/json' }).write('{"items": [');
    // A 400 whose body streams on (a long report, a stream): its headers are the answer.
    res.writeHead(400, { 'Content-Type': 'text/plain' }).write('still going');
  });
});
afterAll(() => api.close());

test('a 400 whose body is not JSON resolves when its headers arrive, as fetch does; its body is not read', async () => {
  const dpop = createDpop({ keys: memoryKeys() });
  const controller = new AbortController();
  const response = await dpop.fetch(`${api.url}/text`, { signal: controller.signal });
  expect(response.status).toBe(400);
  controller.abort();
});

test('a JSON answer other than a 400 resolves when its headers arrive; its body is not read', async () => {
  const dpop = createDpop({ keys: memoryKeys() });
  const controller = new AbortController();
  const response = await dpop.fetch(`${api.url}/feed`, { signal: controller.signal });
  expect(response.status).toBe(401);
  controller.abort();
});

test('garbage in DPoP-Nonce, WWW-Authenticate and Date is ignored: nothing echoed, one request; a challenge without a usable nonce is DpopError DPOP_NONCE', async () => {
  const { fetchFn, seen } = scriptedFetch(
    () =>
      new Response('{', {
        status: 401,
        headers: {
          'www-authenticate': 'DPoP error=, DPoP error="", error="use_dpop_nonce"'.repeat(50),
          'dpop-nonce': 'a b\u0001',
          date: 'not a date',
        },
      }),
  );
  const now = Date.UTC(2026, 0, 1);
  const dpop = createDpop({ keys: memoryKeys(), fetchFn, now: () => now });
  const error = (await dpop.fetch('https://api.example.com/x').catch((e: unknown) => e)) as Error;
  expect(error).toMatchObject({ name: 'DpopError', code: 'DPOP_NONCE' });
  expect(error.message).not.toMatch(/a b|not a date|error=,/);
  const { payload } = decodeProof(await dpop.proof('GET', 'https://api.example.com/x'));
  expect(payload.nonce).toBeUndefined();
  expect(payload.iat).toBe(now / 1000);
  expect(seen.length).toBeLessThanOrEqual(2);
});

test('a key store that never answers does not hold an aborted dpop.fetch: it rejects with the abort reason, unsent', async () => {
  const keys = { get: () => new Promise<never>(() => {}), add: () => new Promise<never>(() => {}), delete: async () => {} };
  const { fetchFn, seen } = scriptedFetch(() => new Response(null, { status: 204 }));
  const dpop = createDpop({ keys, fetchFn });
  const controller = new AbortController();
  const call = dpop.fetch('https://api.example.com/x', { signal: controller.signal });
  controller.abort();
  await expect(call).rejects.toMatchObject({ name: 'AbortError' });
  expect(seen).toHaveLength(0);
});
