/**
 * @jest-environment jsdom
 */
/**
 * Issue 11 #5, second half: an app tested under jsdom with node-fetch as its fetch, Headers and
 * Request (a common setup: jsdom has no fetch). There the token used to be lost when the adapter
 * copied headers between two Headers implementations. Now it is set on the Request that leaves,
 * whatever its Headers class. A real echo server on 127.0.0.1.
 */
import nodeFetch, { Headers as NodeFetchHeaders, Request as NodeFetchRequest, Response as NodeFetchResponse } from 'node-fetch';
import { fetchBaseQuery, type BaseQueryApi } from '@reduxjs/toolkit/query';
import { createTokenRefresh } from '../../src';
import { authBaseQuery } from '../../src/adapters/rtkQuery';
import { startEchoServer, type Echo, type EchoServer } from '../support/echoServer';

const globals = globalThis as Record<string, unknown>;
const saved = { fetch: globals.fetch, Headers: globals.Headers, Request: globals.Request, Response: globals.Response };
let server: EchoServer;
beforeAll(async () => {
  server = await startEchoServer();
  Object.assign(globals, { fetch: nodeFetch, Headers: NodeFetchHeaders, Request: NodeFetchRequest, Response: NodeFetchResponse });
});
afterAll(async () => {
  Object.assign(globals, saved);
  await server.close();
});

const api = () =>
  ({
    signal: new AbortController().signal,
    dispatch: () => {},
    getState: () => ({}),
    endpoint: 'e',
    type: 'query',
    abort: () => {},
  }) as unknown as BaseQueryApi;

test("under jsdom with node-fetch's Headers and Request, the token arrives, next to the base and endpoint headers", async () => {
  expect(typeof document).toBe('object'); // jsdom indeed
  expect(globalThis.Headers).toBe(NodeFetchHeaders); // a Headers that is not Node's own
  const auth = createTokenRefresh({ refresh: () => Promise.reject(new Error('not needed')) });
  auth.setTokens({ accessToken: 'tok-1' });
  const options = { baseUrl: server.url, headers: { 'x-api-key': 'k-1' } };
  const args = { url: 'echo', headers: new NodeFetchHeaders({ 'x-trace': 't-1' }) as unknown as Headers };
  const bare = await fetchBaseQuery(options)(args, api(), {});
  const wrapped = await authBaseQuery(auth, { fetchBaseQuery, ...options })(args, api(), {});
  expect(bare.error).toBeUndefined();
  const { authorization, ...rest } = (wrapped.data as Echo).headers;
  expect(authorization).toBe('Bearer tok-1');
  expect(rest).toEqual((bare.data as Echo).headers);
  expect(rest['x-trace']).toBe('t-1');
});

test("endpoint headers made with the other Headers class (Node's own, here) are not dropped when copied", async () => {
  const auth = createTokenRefresh({ refresh: () => Promise.reject(new Error('not needed')) });
  auth.setTokens({ accessToken: 'tok-1' });
  const NativeHeaders = saved.Headers as typeof Headers;
  const args = { url: 'echo', headers: new NativeHeaders({ 'x-trace': 't-2' }) };
  const bare = await fetchBaseQuery({ baseUrl: server.url })(args, api(), {});
  const wrapped = await authBaseQuery(auth, { fetchBaseQuery, baseUrl: server.url })(args, api(), {});
  expect((bare.data as Echo).headers['x-trace']).toBe('t-2');
  expect((wrapped.data as Echo).headers).toEqual({ ...(bare.data as Echo).headers, authorization: 'Bearer tok-1' });
});
