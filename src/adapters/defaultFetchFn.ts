/**
 * @internal The transport when no `fetchFn` is given: `globalThis.fetch`, looked up on every call so
 * that a polyfill or a mock installed later counts. A function of its own (Redux Toolkit's
 * `defaultFetchFn`) so that tests can inject another.
 */
export const defaultFetchFn = (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => fetch(input, init);
