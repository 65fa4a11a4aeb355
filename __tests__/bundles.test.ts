/**
 * What an app that does not import `/dpop` ships: every import set of the size table without DPoP,
 * bundled from the sources as an app's bundler would (minified, production, peers external), holds
 * no DPoP code. DPoP is the clients' transport (`dpop.fetch`, `dpop.resourceFetch`,
 * `dpop.axiosAdapter`), so the adapters carry nothing for it.
 */
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const root = path.resolve(__dirname, '..');
const lines = createRequire(__filename)('../.size-limit.cjs') as Array<{
  name: string;
  path: string | string[];
  import: string | Record<string, string>;
}>;

/** tsup's entries (tsup.config.ts, read as text: loading tsup here is not needed). */
const entries: Record<string, string> = Object.fromEntries(
  [...readFileSync(path.join(root, 'tsup.config.ts'), 'utf8').matchAll(/^\s+'?([\w-]+)'?: '((?:src|epics)\/[^']+)',$/gm)].map((m) => [
    m[1]!,
    m[2]!,
  ]),
);

/** `import { a } from 'dist/x.js'` as the source entry tsup builds `dist/x.js` from. */
function sourceOf(dist: string): string {
  const entry = entries[path.basename(dist, '.js')];
  if (!entry) throw new Error(`no tsup entry for ${dist}`);
  return path.join(root, entry);
}

async function bundle(imports: Record<string, string>): Promise<string> {
  const contents = Object.entries(imports)
    .map(([dist, names], i) => `import ${names.replace(/\b(\w+)\b/g, `$1 as $1_${i}`)} from ${JSON.stringify(sourceOf(dist))};`)
    .join('\n');
  const used = Object.values(imports)
    .flatMap((names, i) => names.match(/\w+/g)!.map((name) => `${name}_${i}`))
    .join(', ');
  const result = await build({
    stdin: { contents: `${contents}\nexport { ${used} };`, resolveDir: root, loader: 'ts' },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    write: false,
    logLevel: 'silent',
    external: ['rxjs', 'redux', 'redux-observable', '@reduxjs/toolkit', 'axios', 'jwt-decode'],
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  return result.outputFiles[0]!.text;
}

const withoutDpop = lines.filter((line) => !/dpop/i.test(JSON.stringify(line.import)));

test('the size table has import sets without DPoP, and one with it', () => {
  expect(withoutDpop.length).toBeGreaterThanOrEqual(8);
  expect(withoutDpop.length).toBeLessThan(lines.length);
});

test.each(withoutDpop.map((line) => [line.name, line] as const))('%s carries no DPoP code', async (_, line) => {
  const imports = typeof line.import === 'string' ? { [line.path as string]: line.import } : line.import;
  const code = await bundle(imports);
  expect(code.length).toBeGreaterThan(1_000);
  // oauth2RefreshGrant accepts the token types a token endpoint may answer, and names them when it
  // refuses another: the only mentions allowed.
  const rest = code.replace('/^(?:bearer|dpop)$/i', '').replace('neither Bearer nor DPoP', '');
  expect([...rest.matchAll(/.{0,30}(?:dpop|nonce|\bjkt\b|\bath\b).{0,30}/gi)].map((m) => m[0])).toEqual([]);
});

test('the DPoP import sets do carry it (the check above can fail)', async () => {
  const line = lines.find((l) => JSON.stringify(l.import).includes('createDpop'))!;
  expect(await bundle(line.import as Record<string, string>)).toMatch(/dpop/i);
});
