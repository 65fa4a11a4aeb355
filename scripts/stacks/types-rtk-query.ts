/**
 * Type check of the RTK Query adapter on each stack (scripts/stacks.ts), `skipLibCheck: false`. Apart
 * from types.ts because RTK 1.9's '@reduxjs/toolkit/query' has no types under `moduleResolution`
 * node16 (RTK 1.9 has no exports map; RTK 2 fixed that): on RTK 1.9 it is checked with `node` only.
 */
import { configureStore } from '@reduxjs/toolkit';
import { createApi, fetchBaseQuery } from '@reduxjs/toolkit/query';
import { createTokenRefresh } from 'redux-observable-token-refresh';
import { authBaseQuery } from 'redux-observable-token-refresh/rtk-query';

const auth = createTokenRefresh({ refresh: async (refreshToken) => ({ accessToken: `for-${refreshToken}` }) });

export const api = createApi({
  baseQuery: authBaseQuery(auth, {
    fetchBaseQuery,
    baseUrl: '/api',
    headers: { 'x-api-key': 'k' },
    allowedOrigins: ['https://api.example.com'],
  }),
  endpoints: (build) => ({ profile: build.query<{ name: string }, void>({ query: () => 'profile' }) }),
});
export const store = configureStore({
  reducer: { [auth.reducerPath]: auth.reducer, [api.reducerPath]: api.reducer },
  middleware: (getDefault) => getDefault().concat(api.middleware),
});
export const profile: Promise<{ data?: { name: string } }> = store.dispatch(api.endpoints.profile.initiate());
