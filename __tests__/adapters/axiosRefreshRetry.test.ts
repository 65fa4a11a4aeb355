/**
 * attachAxios and an app's own retry interceptor (registered after it) on the instance the refresh
 * call goes through: the retry re-sends `error.config`, as axios made it.
 */
import axios, { AxiosError, type AxiosAdapter, type InternalAxiosRequestConfig } from 'axios';
import { attachAxios } from '../../src/adapters/axios';
import { createTokenRefresh } from '../../src';
import { createStore } from '../support/harness';

test('a retry interceptor registered after attachAxios re-sends the refresh call with its refresh token, and the refresh succeeds', async () => {
  const bodies: unknown[] = [];
  let calls = 0;
  const adapter: AxiosAdapter = async (config: InternalAxiosRequestConfig) => {
    bodies.push(config.data);
    const response = {
      data: { accessToken: 'a1', refreshToken: 'r1' },
      status: ++calls === 1 ? 503 : 200,
      statusText: '',
      headers: {},
      config,
    };
    if (response.status !== 200) throw new AxiosError('busy', AxiosError.ERR_BAD_RESPONSE, config, {}, response);
    if (!String(config.data).includes('"r0"')) {
      response.status = 400;
      throw new AxiosError('invalid_grant', AxiosError.ERR_BAD_REQUEST, config, {}, response);
    }
    return response;
  };
  const instance = axios.create({ baseURL: 'https://api.example', adapter });
  const auth = createTokenRefresh({
    refresh: (refreshToken, { signal }) =>
      instance.post('/auth/refresh', { refreshToken }, { signal }).then((r) => r.data as { accessToken: string }),
    refreshRetries: 0,
  });
  attachAxios(auth, instance, { allowedOrigins: ['https://api.example'] });
  // The app's retry of a 503, once (as axios-retry and hand-written interceptors do).
  instance.interceptors.response.use(undefined, (error: AxiosError & { config: { retried?: boolean } }) =>
    error.response?.status === 503 && !error.config.retried
      ? instance.request({ ...error.config, retried: true } as InternalAxiosRequestConfig)
      : Promise.reject(error),
  );
  createStore(auth);
  auth.setTokens({ accessToken: 'a0', refreshToken: 'r0' });
  await auth.refresh();
  expect(bodies).toHaveLength(2);
  expect(String(bodies[1])).toContain('"r0"');
  expect(auth.getStatus()).toBe('authenticated');
});
