/**
 * The package's own `createAction` (src/createAction.ts) behaves as RTK's does, for every use an app
 * makes of `auth.actions`; and the package imports nothing from Redux, redux-observable or RTK at
 * run time, which is what lets it load in Node's native ESM on RTK 1.9 (a CommonJS module whose
 * named exports Node cannot see). The stack matrix (scripts/stacks.ts) runs it there.
 */
import { createAction as rtkCreateAction, createReducer, createSlice, isAnyOf } from '@reduxjs/toolkit';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { filter, from, toArray, firstValueFrom } from 'rxjs';
import { createAction } from '../src/createAction';
import { createTokenRefresh } from '../src';

const auth = createTokenRefresh({ refresh: async () => ({ accessToken: 'a' }) });
const serializedError = { name: 'TokenRefreshError', code: 'REFRESH_FAILED' as const, message: 'The refresh failed.' };

describe("createAction: RTK's behaviour", () => {
  const cases: Array<[string, unknown[]]> = [
    ['with a payload', [{ reason: 'manual' }]],
    ['with a falsy payload', [0]],
    ['without a payload', []],
  ];
  test.each(cases)('%s: the same action object, type, string and match as RTK', (_case, args) => {
    const ours = createAction<unknown>('tokenRefresh/x') as (...a: unknown[]) => unknown;
    const theirs = rtkCreateAction<unknown>('tokenRefresh/x') as (...a: unknown[]) => unknown;
    expect(ours(...args)).toStrictEqual(theirs(...args));
    expect(Object.keys(ours(...args) as object)).toEqual(Object.keys(theirs(...args) as object));
  });

  test('type, toString and match agree with RTK on actions and non-actions', () => {
    const ours = createAction<{ n: number }>('a/b');
    const theirs = rtkCreateAction<{ n: number }>('a/b');
    expect(ours.type).toBe(theirs.type);
    expect(String(ours)).toBe(String(theirs));
    // eslint-disable-next-line @typescript-eslint/restrict-template-expressions -- what is tested: a creator in a template literal reads as its type, as RTK's does.
    expect(`${ours}`).toBe('a/b');
    const candidates: unknown[] = [ours({ n: 1 }), { type: 'a/b' }, { type: 'a/c', payload: { n: 1 } }, { type: 'A/B' }];
    expect(candidates.map((action) => ours.match(action))).toEqual(candidates.map((action) => theirs.match(action as never)));
    expect(candidates.map((action) => ours.match(action))).toEqual([true, true, false, false]);
    // RTK 2 answers false for what is not an action; 1.9 would throw on null. The package's never throws.
    for (const notAnAction of [null, undefined, 'a/b', 42, () => 'a/b']) expect(ours.match(notAnAction)).toBe(false);
  });
});

describe('auth.actions in RTK and rxjs, as apps use them', () => {
  test("createSlice's builder.addCase and isAnyOf take them, payloads typed", () => {
    const slice = createSlice({
      name: 'session',
      initialState: { ended: 0, code: '' },
      reducers: {},
      extraReducers: (builder) => {
        builder
          .addCase(auth.actions.refreshFailed, (state, action) => {
            state.ended++;
            state.code = action.payload.error.code ?? '';
          })
          .addMatcher(isAnyOf(auth.actions.loggedOut), (state) => {
            state.ended++;
          });
      },
    });
    let state = slice.reducer(undefined, { type: 'init' });
    state = slice.reducer(state, auth.actions.refreshFailed({ error: serializedError }));
    state = slice.reducer(state, auth.actions.loggedOut());
    state = slice.reducer(state, auth.actions.refreshSucceeded({ expiresAt: null, refreshAt: null }));
    expect(state).toEqual({ ended: 2, code: 'REFRESH_FAILED' });
  });

  test('createReducer keys them by type, as with RTK creators', () => {
    const reducer = createReducer(0, (builder) => builder.addCase(auth.actions.tokensSet, (count) => count + 1));
    expect(reducer(0, auth.actions.tokensSet({ expiresAt: 1, refreshAt: null }))).toBe(1);
    expect(reducer(0, rtkCreateAction<{ expiresAt: number }>(auth.actions.tokensSet.type)({ expiresAt: 1 }))).toBe(1);
  });

  test("rxjs filter(creator.match) narrows the stream to the creator's actions", async () => {
    const actions = [auth.actions.loggedOut(), auth.actions.refreshRequested({ reason: 'manual' }), { type: 'other' }];
    const reasons = await firstValueFrom(from(actions).pipe(filter(auth.actions.refreshRequested.match), toArray()));
    expect(reasons.map((action) => action.payload.reason)).toEqual(['manual']);
  });
});

describe('what every stack has: no Redux, redux-observable or RTK at run time', () => {
  const sourceFiles = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
      entry.isDirectory() ? sourceFiles(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
    );

  test('src/ and epics/ import them for types only', () => {
    const root = join(__dirname, '..');
    const runtimeImports = [...sourceFiles(join(root, 'src')), ...sourceFiles(join(root, 'epics'))].flatMap((file) =>
      [
        ...readFileSync(file, 'utf8').matchAll(
          /^\s*(import|export)\s+(?!type\b)[^;]*?from\s+'(redux|redux-observable|@reduxjs\/toolkit)(\/[^']*)?'/gm,
        ),
      ].map((match) => `${file.slice(root.length + 1)}: ${match[0].trim()}`),
    );
    expect(runtimeImports).toEqual([]);
  });
});
