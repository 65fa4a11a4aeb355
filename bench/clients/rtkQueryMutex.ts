/**
 * RTK Query with the Redux Toolkit docs' re-auth recipe ("Preventing multiple unauthorized errors"):
 * `fetchBaseQuery` with `prepareHeaders` reading the token from the store, wrapped in a base query
 * that waits for an async-mutex, refreshes under it on a 401 and retries. A real `createApi` +
 * `configureStore`; each request is its own cache entry (`/api/echo?i=N`) so RTK Query's
 * de-duplication of identical queries does not hide requests.
 */
import { configureStore, createSlice, type PayloadAction } from '@reduxjs/toolkit';
import { createApi, fetchBaseQuery, type BaseQueryFn, type FetchArgs, type FetchBaseQueryError } from '@reduxjs/toolkit/query';
import { Mutex } from 'async-mutex';
import { createFetchPool } from '../transport';
import type { BenchClient, ClientContext, ClientFactory } from './types';

interface AuthState {
  token: string | null;
  refreshToken: string | null;
}

function createRtkQueryClient({ baseUrl, tokens }: ClientContext): BenchClient {
  const pool = createFetchPool();
  // Typed where it is declared, as RTK's docs do: the slice's state type is inferred from it.
  const initialState: AuthState = { token: tokens.accessToken, refreshToken: tokens.refreshToken };
  const authSlice = createSlice({
    name: 'auth',
    initialState,
    reducers: {
      tokenReceived: (_state, action: PayloadAction<{ accessToken: string; refreshToken: string }>) => ({
        token: action.payload.accessToken,
        refreshToken: action.payload.refreshToken,
      }),
      loggedOut: () => ({ token: null, refreshToken: null }),
    },
  });
  const { tokenReceived, loggedOut } = authSlice.actions;

  // create a new mutex
  const mutex = new Mutex();
  const baseQuery = fetchBaseQuery({
    baseUrl,
    fetchFn: pool.fetch,
    prepareHeaders: (headers, { getState }) => {
      const token = (getState() as { auth: AuthState }).auth.token;
      if (token) headers.set('authorization', `Bearer ${token}`);
      return headers;
    },
  });
  const baseQueryWithReauth: BaseQueryFn<string | FetchArgs, unknown, FetchBaseQueryError> = async (args, api, extraOptions) => {
    // wait until the mutex is available without locking it
    await mutex.waitForUnlock();
    let result = await baseQuery(args, api, extraOptions);
    if (result.error?.status === 401) {
      // checking whether the mutex is locked
      if (!mutex.isLocked()) {
        const release = await mutex.acquire();
        try {
          const refreshToken = (api.getState() as { auth: AuthState }).auth.refreshToken;
          const refreshResult = await baseQuery({ url: '/auth/refresh', method: 'POST', body: { refreshToken } }, api, extraOptions);
          if (refreshResult.data) {
            api.dispatch(tokenReceived(refreshResult.data as { accessToken: string; refreshToken: string }));
            // retry the initial query
            result = await baseQuery(args, api, extraOptions);
          } else {
            api.dispatch(loggedOut());
          }
        } finally {
          // release must be called once the mutex should be released again.
          release();
        }
      } else {
        // wait until the mutex is available without locking it
        await mutex.waitForUnlock();
        result = await baseQuery(args, api, extraOptions);
      }
    }
    return result;
  };

  const api = createApi({
    baseQuery: baseQueryWithReauth,
    endpoints: (build) => ({
      get: build.query<unknown, string>({ query: (path) => path }),
    }),
  });
  const store = configureStore({
    reducer: { auth: authSlice.reducer, [api.reducerPath]: api.reducer },
    middleware: (getDefault) => getDefault().concat(api.middleware),
  });

  return {
    request: (path) => store.dispatch(api.endpoints.get.initiate(path, { subscribe: false })).unwrap(),
    async dispose() {
      store.dispatch(api.util.resetApiState());
      await pool.close();
    },
  };
}

export const rtkQueryMutex: ClientFactory = {
  name: 'RTK Query + async-mutex',
  setup: "RTK Query fetchBaseQuery + async-mutex, the Redux Toolkit docs' re-auth recipe (createApi + configureStore)",
  create: createRtkQueryClient,
};
