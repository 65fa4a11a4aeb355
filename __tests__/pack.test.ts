/**
 * What `npm publish` would ship, from `npm pack --dry-run --json`: the build every export points
 * to, the docs the README links to, the license and the changelog; and nothing else (no sources,
 * tests, demo or benchmarks). A link in a shipped Markdown file must resolve inside the tarball,
 * since a package page (npmjs.com, unpkg) has nothing else.
 *
 * Needs `dist/`: `npm test` builds before jest; run alone, this test builds once if it is missing.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';

const ROOT = join(__dirname, '..');
interface PackageJson {
  exports: unknown;
  typesVersions: unknown;
  main: string;
  module: string;
  types: string;
  license: string;
  repository: unknown;
  homepage: string;
  bugs?: { url?: string };
}
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as PackageJson;

let packed: string[] = [];

beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist', 'index.js'))) {
    execFileSync('npx', ['--no-install', 'tsup'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'], timeout: 120_000 });
  }
  const output = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  packed = (JSON.parse(output) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((file) => file.path).sort();
}, 180_000);

/** Every path package.json points to: main, module, types, exports (all conditions), typesVersions. */
function referencedFiles(): string[] {
  const found = new Set<string>();
  const walk = (value: unknown) => {
    if (typeof value === 'string') {
      if (value.startsWith('./') && !value.includes('*')) found.add(normalize(value));
    } else if (Array.isArray(value)) value.forEach(walk);
    else if (value && typeof value === 'object') Object.values(value).forEach(walk);
  };
  walk(pkg.exports);
  walk(pkg.typesVersions);
  for (const field of ['main', 'module', 'types'] as const) walk(`./${normalize(pkg[field])}`);
  return [...found].sort();
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
const slug = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');

function anchorsOf(markdown: string): Set<string> {
  const withoutCode = markdown.replace(/^```[\s\S]*?^```/gm, '');
  return new Set([...withoutCode.matchAll(/^#{1,6}\s+(.+)$/gm)].map((match) => slug(match[1]!)));
}

describe('the npm tarball', () => {
  test('ships the build, the README, LICENSE, CHANGELOG and the docs', () => {
    for (const file of ['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md', 'docs/adapters.md', 'bench/results.md']) {
      expect(packed).toContain(file);
    }
    // Every page of docs/ (the README links them all), not only the one listed above.
    const pages = readdirSync(join(ROOT, 'docs'))
      .filter((name) => name.endsWith('.md'))
      .map((name) => `docs/${name}`);
    expect(pages.filter((page) => !packed.includes(page))).toEqual([]);
    const missing = referencedFiles().filter((file) => !packed.includes(file));
    expect(missing).toEqual([]);
    expect(packed.filter((file) => file.startsWith('dist/') && file.endsWith('.d.ts')).length).toBeGreaterThan(0);
  });

  test('ships nothing else: no sources, tests, demo, benchmark code, generated API pages or tarballs', () => {
    const allowed = (file: string) =>
      file === 'package.json' ||
      file === 'README.md' ||
      file === 'LICENSE' ||
      file === 'CHANGELOG.md' ||
      file === 'bench/results.md' ||
      /^docs\/[^/]+\.md$/.test(file) ||
      file.startsWith('dist/');
    expect(packed.filter((file) => !allowed(file))).toEqual([]);
  });

  test('every relative link in a shipped Markdown file resolves inside the tarball', () => {
    const broken: string[] = [];
    for (const file of packed.filter((path) => path.endsWith('.md'))) {
      const markdown = readFileSync(join(ROOT, file), 'utf8');
      const prose = markdown.replace(/^```[\s\S]*?^```/gm, '');
      for (const [, target] of prose.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
        if (/^(https?:|mailto:)/.test(target!)) continue;
        const [path, anchor] = target!.split('#') as [string, string | undefined];
        const resolved = path === '' ? file : normalize(join(dirname(file), path));
        if (!packed.includes(resolved)) {
          broken.push(`${file}: ${target} (${resolved} is not in the tarball)`);
        } else if (anchor && resolved.endsWith('.md') && !anchorsOf(readFileSync(join(ROOT, resolved), 'utf8')).has(anchor)) {
          broken.push(`${file}: ${target} (no heading #${anchor} in ${resolved})`);
        }
      }
    }
    expect(broken).toEqual([]);
  });

  test('package.json says where the code, the issues and the license are', () => {
    expect(pkg.license).toBe('MIT');
    expect(readFileSync(join(ROOT, 'LICENSE'), 'utf8')).toMatch(/^MIT License/);
    expect(pkg.repository).toMatchObject({ type: 'git', url: expect.stringMatching(/^git\+https:\/\//) });
    expect(pkg.homepage).toMatch(/^https:\/\//);
    expect(pkg.bugs?.url).toMatch(/^https:\/\//);
  });
});
