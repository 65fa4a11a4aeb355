/**
 * The stack matrix (part of `npm test`): the packed package, installed as users install it, on each
 * Redux stack it supports.
 *
 *   npx tsx scripts/stacks.ts [--no-build] [--keep] [a] [b] [c] [d] [e]
 *
 * Stacks a-c are apps that already have their stack; d and e are a newcomer's empty project, set up
 * with the README's own install lines (Install, the `sh` block after `<!-- install: newest -->` and
 * after `<!-- install: redux4 -->`), read from README.md.
 *
 * Per stack, in a throwaway consumer under the OS temp directory, five counted checks:
 * 1. install: a-c: the stack, then `npm install <tarball> --strict-peer-deps` (no --legacy-peer-deps);
 *    d, e: `npm init -y`, then each README line in order, as written (run by `sh`) but for the
 *    package's name, which becomes the tarball, and `--strict-peer-deps` (with the flags below that
 *    keep npm quiet and on its cache), then TypeScript for check 5; every stack: the versions npm
 *    put in place are the stack's, and `npm ls --all` finds nothing missing or invalid;
 * 2. cjs: scripts/stacks/scenario.cjs through `require`, against the real demo server on 127.0.0.1
 *    (one refresh for concurrent expired calls from an epic, RTK Query and `authFetch`; a failed
 *    refresh reaching every waiter);
 * 3. esm: the same scenario through Node's native ESM;
 * 4. bundle: the ESM entry bundled by esbuild for the browser (the package's ESM build, no warning
 *    about it), then run;
 * 5. types: the README's quick start (read from README.md), docs/adapters.md's shared setup and
 *    scripts/stacks/types*.ts compiled
 *    with `skipLibCheck: false`, with the resolution apps of that TypeScript use (`node` for 4.9,
 *    `bundler` for 5.x), and as CommonJS and as ESM (`node16`) where the stack's own packages have
 *    types there (see `node16` below).
 * Each stack is installed once per run, from the npm cache when it can (`--prefer-offline`). The
 * result goes to .test-results/stacks.json ({ passed, failed, failures, seconds }) for
 * scripts/test.mjs, which adds it to its count. `--keep` leaves the consumers for a look.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { startAuthServer } from '../demo/server/authServer';

const root = resolve(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');
const here = join(root, 'scripts', 'stacks');
const args = process.argv.slice(2);
const keep = args.includes('--keep');
const only = args.filter((arg) => !arg.startsWith('--'));

/** The version of a devDependency that `npm ci` installed: stack (c) is "today's devDependencies". */
const installed = (name: string): string =>
  (JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;

interface Stack {
  id: string;
  title: string;
  /** The app's dependencies before the package is installed (none for an empty project). */
  dependencies: Record<string, string>;
  /** An empty project set up with the README's install lines after `<!-- install: <readme> -->`. */
  readme?: string;
  /** What npm must have put in place (a version, or a pattern for a README stack whose lines name ranges). */
  expect?: Record<string, string | RegExp>;
  /** redux-observable 2.0.0 declares `redux: >=4 <5`; on redux 5 an app overrides that (README, Install). */
  overrides?: Record<string, unknown>;
  /** How an app of that TypeScript resolves modules, besides `node16`. */
  resolution: 'node' | 'bundler';
  /**
   * What is checked under `node16` besides the resolution above: everything; `no-rtk-query` (RTK
   * 1.9's '@reduxjs/toolkit/query' has no types under node16, for want of an exports map); or
   * nothing (rxjs before 7.6 has no `types` in its exports map: under node16, and under bundler,
   * rxjs itself is untyped, the package's types or not).
   */
  node16: 'all' | 'no-rtk-query' | 'none';
}

const matrix: Stack[] = [
  {
    id: 'a',
    title: 'redux 4.2 + redux-observable 2.0.0 + RTK 1.9.7 + rxjs 7.8 + TypeScript 4.9',
    dependencies: { redux: '4.2.1', 'redux-observable': '2.0.0', '@reduxjs/toolkit': '1.9.7', rxjs: '7.8.2', typescript: '4.9.5' },
    resolution: 'node',
    node16: 'no-rtk-query',
  },
  {
    id: 'b',
    title: 'redux 5.0 + redux-observable 2.0.0 + RTK 2.0 + rxjs 7.3 (the lowest) + TypeScript 4.9',
    dependencies: { redux: '5.0.0', 'redux-observable': '2.0.0', '@reduxjs/toolkit': '2.0.0', rxjs: '7.3.0', typescript: '4.9.5' },
    overrides: { 'redux-observable': { redux: '$redux' } },
    resolution: 'node',
    node16: 'none',
  },
  {
    id: 'c',
    title: 'the newest: the devDependencies',
    dependencies: Object.fromEntries(
      ['redux', 'redux-observable', '@reduxjs/toolkit', 'rxjs', 'typescript'].map((name) => [name, installed(name)]),
    ),
    resolution: 'bundler',
    node16: 'all',
  },
  {
    id: 'd',
    title: "an empty project: the README's install lines for the newest stack",
    dependencies: {},
    readme: 'newest',
    expect: { redux: /^5\./, 'redux-observable': /^3\./, '@reduxjs/toolkit': /^2\./, rxjs: /^7\./, typescript: installed('typescript') },
    resolution: 'bundler',
    node16: 'all',
  },
  {
    id: 'e',
    title: "an empty project: the README's install lines for redux 4 + redux-observable 2",
    dependencies: {},
    readme: 'redux4',
    expect: { redux: /^4\./, 'redux-observable': /^2\./, '@reduxjs/toolkit': /^1\.9\./, rxjs: /^7\./, typescript: installed('typescript') },
    resolution: 'bundler',
    node16: 'no-rtk-query',
  },
];
const stacks = matrix.filter((stack) => only.length === 0 || only.includes(stack.id));

let passed = 0;
let failed = 0;
const failures: string[] = [];
const started = Date.now();

interface Ran {
  code: number | null;
  output: string;
}

/** A child process, its output kept (shown on failure); killed after `timeoutMs`. */
function run(command: string, commandArgs: string[], cwd: string, timeoutMs: number, env: Record<string, string> = {}): Promise<Ran> {
  return new Promise((done) => {
    const child = spawn(command, commandArgs, { cwd, env: { ...childEnv, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const timer = setTimeout(() => {
      output += `\n(killed after ${timeoutMs} ms)`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('close', (code) => (clearTimeout(timer), done({ code, output })));
    child.on('error', (error) => (clearTimeout(timer), done({ code: -1, output: String(error) })));
  });
}

/**
 * `npm test` runs this with npm's lifecycle variables set; `npm_config_local_prefix` among them
 * would point the consumers' `npm install` at this repository. A consumer sees a clean npm.
 */
const childEnv: Record<string, string> = Object.fromEntries(
  Object.entries(process.env).filter(
    (entry): entry is [string, string] =>
      entry[1] !== undefined && !/^npm_(package_|lifecycle_|config_local_prefix$|config_legacy_peer_deps$)/i.test(entry[0]),
  ),
);

async function check(name: string, body: () => Promise<string | void>): Promise<boolean> {
  const at = Date.now();
  try {
    const detail = await body();
    passed++;
    console.log(`  ✔ ${name} (${((Date.now() - at) / 1000).toFixed(1)} s)${detail ? `: ${detail}` : ''}`);
    return true;
  } catch (error) {
    failed++;
    failures.push(name);
    console.log(
      `  ✘ ${name} (${((Date.now() - at) / 1000).toFixed(1)} s)\n${String(error instanceof Error ? error.message : error).replace(/^/gm, '      ')}`,
    );
    return false;
  }
}

const ok = (ran: Ran, what: string): string => {
  if (ran.code !== 0) throw new Error(`${what} exited with ${ran.code}\n${ran.output.trim().split('\n').slice(-40).join('\n')}`);
  return ran.output.trim().split('\n').filter(Boolean).at(-1) ?? '';
};

/** The README's quick start, as written: the `ts` blocks under its heading, with the names the prose leaves to you declared. */
function quickStart(): string {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const section = readme.split(/^## Quick start$/m)[1]?.split(/^## /m)[0] ?? '';
  const blocks = [...section.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]);
  if (blocks.length === 0) throw new Error('README.md: no ```ts block under "## Quick start"');
  return [
    '// The README quick start, copied by scripts/stacks.ts; the names it leaves to the app are declared.',
    'declare const accessToken: string;',
    'declare const refreshToken: string;',
    'declare function navigateTo(path: string): { type: string };',
    ...blocks,
  ].join('\n');
}

/** The package's name as an argument of an install line (not `redux-observable`, nor a path that contains it). */
const packageName = /(?<=^|\s)redux-observable-token-refresh(?=\s|$)/;

/**
 * The README's install lines for one stack, as written: the `sh` block right after
 * `<!-- install: <marker> -->` (found anywhere in README.md, so the section can move), blank lines
 * and comments left out. Each must be an `npm install`, and exactly one must name the package.
 */
function readmeInstallLines(readme: string, marker: string): string[] {
  const block = new RegExp(`<!-- install: ${marker} -->[ \\t]*\\n\\s*\`\`\`sh\\n([\\s\\S]*?)\`\`\``).exec(readme)?.[1];
  if (block === undefined) throw new Error(`README.md: no \`\`\`sh block right after <!-- install: ${marker} -->`);
  const lines = block
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));
  const odd = lines.filter((line) => !/^npm (install|i) /.test(line));
  if (lines.length === 0 || odd.length)
    throw new Error(`README.md, install: ${marker}: every line must be an \`npm install\`; found ${JSON.stringify(odd)}`);
  if (lines.filter((line) => packageName.test(line)).length !== 1) {
    throw new Error(`README.md, install: ${marker}: exactly one line must install redux-observable-token-refresh`);
  }
  return lines;
}

/** docs/adapters.md's shared setup (the block after "All recipes below share this setup"), as written. */
function adaptersSetup(): string {
  const docs = readFileSync(join(root, 'docs', 'adapters.md'), 'utf8');
  const block = docs.split('All recipes below share this setup')[1]?.match(/```ts\n([\s\S]*?)```/)?.[1];
  if (!block) throw new Error('docs/adapters.md: no ```ts block after "All recipes below share this setup"');
  return `// docs/adapters.md's shared setup, copied by scripts/stacks.ts.\n${block}`;
}

function tsconfig(files: string[], module: string, moduleResolution: string): string {
  return JSON.stringify(
    {
      compilerOptions: {
        strict: true,
        noEmit: true,
        skipLibCheck: false,
        target: 'ES2020',
        lib: ['ES2020', 'DOM'],
        types: [],
        module,
        moduleResolution,
      },
      files,
    },
    null,
    2,
  );
}

async function runStack(stack: Stack, tarball: string, serverUrl: string, base: string): Promise<void> {
  const shown = stack.readme
    ? `(README.md, <!-- install: ${stack.readme} -->)`
    : Object.entries(stack.dependencies)
        .map(([n, v]) => `${n}@${v}`)
        .join(' ');
  console.log(`\n▶ stack ${stack.id}: ${stack.title}\n  ${shown}`);
  const dir = join(base, stack.id);
  mkdirSync(dir, { recursive: true });
  const npm = ['--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'];
  const name = stack.readme
    ? `stack ${stack.id}: npm init -y, the README's install lines, strict peers`
    : `stack ${stack.id}: npm install of the package, strict peers`;
  const installedOk = await check(name, async () => {
    if (stack.readme) {
      const lines = readmeInstallLines(readFileSync(join(root, 'README.md'), 'utf8'), stack.readme);
      ok(await run('npm', ['init', '-y'], dir, 60_000), 'npm init -y');
      for (const line of lines) {
        console.log(`    $ ${line}`);
        const command = `${line.replace(packageName, `'${tarball}'`)} --strict-peer-deps ${npm.join(' ')}`;
        ok(await run('sh', ['-c', command], dir, 300_000), `README line \`${line}\` (run as \`${command}\`)`);
      }
      // Not a README line: the TypeScript that check 5 compiles the quick start with.
      ok(
        await run('npm', ['install', ...npm, '--strict-peer-deps', '--save-dev', `typescript@${installed('typescript')}`], dir, 300_000),
        'npm install typescript',
      );
    } else {
      writeFileSync(
        join(dir, 'package.json'),
        JSON.stringify(
          { name: `consumer-${stack.id}`, private: true, dependencies: stack.dependencies, overrides: stack.overrides },
          null,
          2,
        ),
      );
      ok(await run('npm', ['install', ...npm], dir, 300_000), `npm install (the stack)`);
      ok(await run('npm', ['install', ...npm, '--strict-peer-deps', tarball], dir, 300_000), `npm install ${tarball} --strict-peer-deps`);
    }
    const wanted: Record<string, string | RegExp> = { ...stack.dependencies, ...stack.expect };
    const versions = Object.entries(wanted).map(([dependency, want]) => {
      const file = join(dir, 'node_modules', dependency, 'package.json');
      const version: string = existsSync(file)
        ? (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version
        : '(not installed)';
      if (typeof want === 'string' ? version !== want : !want.test(version))
        throw new Error(`${dependency} is ${version}, the stack wants ${want}`);
      return `${dependency}@${version}`;
    });
    ok(await run('npm', ['ls', '--all', '--loglevel=error'], dir, 120_000), 'npm ls --all (a missing or invalid dependency)');
    return stack.readme ? `npm put in ${versions.join(' ')}; npm ls clean` : `${versions.length} pinned versions in place; npm ls clean`;
  });
  if (!installedOk) {
    for (const name of ['cjs', 'esm', 'bundle', 'types']) {
      failed++;
      failures.push(`stack ${stack.id}: ${name} (not run)`);
    }
    return;
  }
  for (const file of readdirSync(here)) copyFileSync(join(here, file), join(dir, file));

  const env = { SERVER_URL: serverUrl, NODE_ENV: 'development' };
  await check(`stack ${stack.id}: scenario in CommonJS`, async () =>
    ok(await run('node', ['entry.cjs'], dir, 60_000, env), 'node entry.cjs'),
  );
  await check(`stack ${stack.id}: scenario in native ESM`, async () =>
    ok(await run('node', ['entry.mjs'], dir, 60_000, env), 'node entry.mjs'),
  );
  await check(`stack ${stack.id}: scenario bundled by esbuild`, async () => {
    const result = await build({
      absWorkingDir: dir,
      entryPoints: ['entry.mjs'],
      outfile: 'bundle.mjs',
      bundle: true,
      platform: 'browser',
      format: 'esm',
      external: ['node:*'],
      metafile: true,
      logLevel: 'silent',
    });
    const ours = Object.keys(result.metafile.inputs).filter((input) => input.includes('node_modules/redux-observable-token-refresh/'));
    if (!ours.some((input) => input.endsWith('dist/index.js')) || ours.some((input) => input.endsWith('.cjs'))) {
      throw new Error(`the bundle should hold the package's ESM build only; it holds ${ours.join(', ')}`);
    }
    const warnings = result.warnings.filter((warning) => JSON.stringify(warning).includes('redux-observable-token-refresh'));
    if (warnings.length) throw new Error(`esbuild warned about the package: ${warnings.map((warning) => warning.text).join('; ')}`);
    return ok(await run('node', ['bundle.mjs'], dir, 60_000, { ...env, SCENARIO_LABEL: 'bundle' }), 'node bundle.mjs');
  });
  await check(`stack ${stack.id}: types (README quick start, skipLibCheck false)`, async () => {
    const code = quickStart();
    writeFileSync(join(dir, 'quickstart.ts'), code);
    writeFileSync(join(dir, 'quickstart.mts'), code);
    writeFileSync(join(dir, 'adapters-setup.ts'), adaptersSetup());
    const [classicModule, classicResolution] = stack.resolution === 'node' ? ['commonjs', 'node'] : ['esnext', 'bundler'];
    writeFileSync(
      join(dir, 'tsconfig.classic.json'),
      tsconfig(['quickstart.ts', 'adapters-setup.ts', 'types.ts', 'types-rtk-query.ts'], classicModule, classicResolution),
    );
    ok(await run('npx', ['tsc', '-p', 'tsconfig.classic.json'], dir, 180_000), `tsc (${classicResolution})`);
    const checked = [classicResolution];
    if (stack.node16 !== 'none') {
      const files = ['quickstart.ts', 'quickstart.mts', 'types.ts', ...(stack.node16 === 'all' ? ['types-rtk-query.ts'] : [])];
      writeFileSync(join(dir, 'tsconfig.node16.json'), tsconfig(files, 'node16', 'node16'));
      ok(await run('npx', ['tsc', '-p', 'tsconfig.node16.json'], dir, 180_000), 'tsc (node16: CommonJS and ESM)');
      checked.push(stack.node16 === 'all' ? 'node16 (CJS + ESM)' : 'node16 (CJS + ESM, without rtk-query)');
    }
    return `TypeScript ${(JSON.parse(readFileSync(join(dir, 'node_modules/typescript/package.json'), 'utf8')) as { version: string }).version}: ${checked.join(', ')}`;
  });
}

async function main(): Promise<void> {
  if (!args.includes('--no-build')) ok(await run('npx', ['tsup'], root, 300_000), 'build (tsup)');
  if (!existsSync(join(root, 'dist', 'index.js'))) throw new Error('dist/ is missing: build first (npx tsup)');
  const base = mkdtempSync(join(tmpdir(), 'rotr-stacks-'));
  const server = await startAuthServer({ quiet: true, accessTtlMs: 600_000 });
  try {
    const packed = ok(await run('npm', ['pack', '--pack-destination', base, '--loglevel=error'], root, 120_000), 'npm pack');
    const tarball = join(base, packed);
    console.log(`stack matrix: ${packed} in ${base}; demo server ${server.url}`);
    for (const stack of stacks) await runStack(stack, tarball, server.url, base);
  } finally {
    await server.close();
    if (!keep) rmSync(base, { recursive: true, force: true });
    else console.log(`kept ${base}`);
  }
}

const watchdog = setTimeout(() => {
  console.log('stack matrix: still running after 15 minutes; stopping');
  failed++;
  failures.push('stack matrix: timed out');
  finish();
}, 15 * 60_000);

function finish(): never {
  const seconds = Math.round((Date.now() - started) / 1000);
  mkdirSync(join(root, '.test-results'), { recursive: true });
  writeFileSync(join(root, '.test-results', 'stacks.json'), JSON.stringify({ passed, failed, failures, seconds }, null, 2));
  console.log(
    `\nstack matrix: ${passed} passed, ${failed} failed in ${seconds} s${failures.length ? `\n  failed: ${failures.join('; ')}` : ''}`,
  );
  process.exit(failed ? 1 : 0);
}

main().then(
  () => (clearTimeout(watchdog), finish()),
  (error) => {
    clearTimeout(watchdog);
    failed++;
    failures.push(`stack matrix: ${error instanceof Error ? error.message : error}`);
    finish();
  },
);
