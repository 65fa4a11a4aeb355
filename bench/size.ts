/**
 * min+gzip of each entry, bundled the same way for everyone: esbuild, ESM, minified, browser
 * platform; the host libraries a user already has (each package's peerDependencies, and for urql
 * its own runtime wonka, which @urql/core depends on) are external, everything else the entry
 * imports is bundled; gzip level 9.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

export interface SizeRow {
  entry: string;
  minBytes: number;
  gzipBytes: number;
  external: string[];
}

async function measure(entry: string, contents: string, resolveDir: string, external: string[]): Promise<SizeRow> {
  const result = await build({
    stdin: { contents, resolveDir, loader: 'ts', sourcefile: 'entry.ts' },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2020',
    write: false,
    logLevel: 'silent',
    define: { 'process.env.NODE_ENV': '"production"' },
    // a subpath import (rxjs/fetch, @apollo/client/core) belongs to its package
    external: external.flatMap((name) => [name, `${name}/*`]),
  });
  const code = result.outputFiles[0]!.contents;
  return { entry, minBytes: code.length, gzipBytes: gzipSync(code, { level: 9 }).length, external };
}

/** The entries tsup publishes, read from tsup.config.ts (`export const entries = { name: 'path', ... }`). */
function publishedEntries(root: string): Array<[name: string, path: string]> {
  const config = readFileSync(join(root, 'tsup.config.ts'), 'utf8');
  const block = /export const entries = \{([^}]*)\}/.exec(config)?.[1] ?? "index: 'src/index.ts'";
  return [...block.matchAll(/['"]?([\w@/-]+)['"]?\s*:\s*['"]([^'"]+)['"]/g)].map((match) => [match[1]!, match[2]!]);
}

/** @param root the repository root */
export async function measureSizes(root: string): Promise<SizeRow[]> {
  const rootPackage = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    peerDependencies?: Record<string, string>;
    dependencies?: Record<string, string>;
  };
  const ownPeers = Object.keys(rootPackage.peerDependencies ?? {});
  const ownDependencies = Object.keys(rootPackage.dependencies ?? {});
  const entries = publishedEntries(root);
  const main = entries.find(([name]) => name === 'index')?.[1] ?? 'src/index.ts';
  const importOf = (path: string) => `./${path.replace(/\.ts$/, '')}`;
  const rows: SizeRow[] = [
    // What an app pays: the package's dependencies (if any) are bundled, only peers external.
    await measure(`main entry (${main})`, `export * from '${importOf(main)}';`, root, ownPeers),
  ];
  if (ownDependencies.length > 0) {
    // The package's own code, as tsup publishes it (dependencies external too).
    rows.push(
      await measure(`main entry, own code only (${ownDependencies.join(', ')} external)`, `export * from '${importOf(main)}';`, root, [
        ...ownPeers,
        ...ownDependencies,
      ]),
    );
  }
  for (const [name, path] of entries) {
    if (path === main) continue;
    // An entry alone includes the parts of the core it imports; "added to main" is what it costs on top.
    const alone = await measure(`entry ./${name} (${path}) alone`, `export * from '${importOf(path)}';`, root, ownPeers);
    const both = await measure(`entry ./${name}`, `export * from '${importOf(main)}'; export * from '${importOf(path)}';`, root, ownPeers);
    rows.push(alone, {
      entry: `entry ./${name} added to the main entry`,
      minBytes: both.minBytes - rows[0]!.minBytes,
      gzipBytes: both.gzipBytes - rows[0]!.gzipBytes,
      external: ownPeers,
    });
  }
  const bench = join(root, 'bench');
  const require = createRequire(join(bench, 'package.json'));
  const peersOf = (name: string): string[] => {
    // Not every package exports ./package.json: look it up along node_modules instead.
    const file = (require.resolve.paths(name) ?? []).map((dir) => join(dir, name, 'package.json')).find((path) => existsSync(path));
    if (!file) throw new Error(`size: ${name} is not installed (npm ci)`);
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { peerDependencies?: Record<string, string> };
    return Object.keys(pkg.peerDependencies ?? {});
  };
  for (const [name, extra] of [
    ['axios-auth-refresh', []],
    ['@urql/exchange-auth', ['wonka']],
    ['apollo-link-token-refresh', []],
  ] as const) {
    rows.push(await measure(name, `export * from '${name}';`, bench, [...peersOf(name), ...extra]));
  }
  return rows;
}

/** One line of the size budgets (`.size-limit.cjs`): an import set, what it weighs, and its limit. */
export interface BudgetRow {
  name: string;
  gzipBytes: number;
  limitBytes: number;
}

/**
 * The import sets of `.size-limit.cjs`, measured by size-limit itself on a fresh build (dist/), so
 * this table and the check in `npm test` are one measurement.
 */
export function measureBudgets(root: string): BudgetRow[] {
  const run = (args: string[]) => spawnSync('npx', args, { cwd: root, encoding: 'utf8' });
  if (run(['tsup']).status !== 0) throw new Error('size: the build (npx tsup) failed');
  const { stdout } = run(['size-limit', '--json']);
  const lines = JSON.parse(stdout.slice(stdout.indexOf('['))) as Array<{ name: string; size: number; sizeLimit: number }>;
  return lines.map((line) => ({ name: line.name, gzipBytes: line.size, limitBytes: line.sizeLimit }));
}
