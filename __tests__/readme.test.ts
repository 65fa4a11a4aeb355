/**
 * The TypeScript code blocks of README.md and of every page in docs/ type-check as written.
 *
 * The convention (also in docs/development.md), for everyone who edits these pages:
 * - Every fenced block whose language is `ts`, `typescript` or `tsx` is compiled as its own ES module
 *   (the test appends `export {}` so that a block without imports is a module too), with the
 *   repository's tsconfig.json: `redux-observable-token-refresh` and its subpaths resolve to the
 *   source (src/, epics/), like the entries in tsup.config.ts; jest's globals are available.
 * - A block may use the placeholders declared in PRELUDE below without declaring them. Add one
 *   there when a new snippet needs it; keep them few and obvious.
 * - `<!-- readme-check: continues -->` on the line just before a block compiles it in the same module
 *   as the checked block before it, so it can use that block's imports and names.
 * - `<!-- readme-check: excerpt-of <path> -->` on the line just before a block checks instead that the
 *   block is a verbatim part of that file (relative to the repository), which must be one the type
 *   check (`tsc -p .`) compiles: an excerpt of a test, shown without its imports.
 * - `<!-- readme-check: skip: <reason> -->` on the line just before a block leaves it out.
 * - A `continues` chain stays inside its page. Directives are read by support/markdownBlocks.ts.
 * Errors are reported as `page:line`, with the page's own line numbers.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import ts from 'typescript';
import { extractBlocks, type Block } from './support/markdownBlocks';
import { packageEntries } from './support/packageEntries';

const ROOT = resolve(__dirname, '..');
/** README.md and every Markdown page of docs/ (not docs/api/, which TypeDoc generates). */
const PAGES = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => `docs/${name}`),
];
const VIRTUAL_DIR = join(ROOT, '__readme__');

/** Names a README snippet may use without declaring them. */
const PRELUDE = `
declare const accessToken: string;
declare const refreshToken: string;
declare const userId: string;
declare function navigateTo(path: string): import('redux').UnknownAction;
/** An error tracker's global, as Sentry's browser SDK has it (the part a snippet uses). */
declare const Sentry: {
  init(options: {
    beforeSend?(
      event: { extra?: Record<string, unknown>; exception?: { values?: Array<{ value?: string }> } },
      hint: { originalException?: unknown },
    ): unknown;
  }): void;
};
declare module '@react-native-async-storage/async-storage' {
  const AsyncStorage: {
    getItem(key: string): Promise<string | null>;
    setItem(key: string, value: string): Promise<void>;
    removeItem(key: string): Promise<void>;
  };
  export default AsyncStorage;
}
`;

interface Module {
  fileName: string;
  text: string;
  /** The page the blocks come from, as errors name it. */
  page: string;
  /** For each line of `text`: the page line it came from. */
  readmeLines: number[];
}

function toModules(blocks: Block[], page = 'README.md'): Module[] {
  const modules: Module[] = [];
  for (const block of blocks) {
    if (block.directive === 'skip' || block.directive === 'excerpt-of') continue;
    const lines = block.code.split('\n');
    const origin = lines.map((_, index) => block.line + index);
    const last = modules[modules.length - 1];
    if (block.directive === 'continues' && last) {
      last.text += `\n${block.code}`;
      last.readmeLines.push(...origin);
    } else {
      const name = `${page.replace(/[^\w]/g, '_')}-line-${block.line}.tsx`;
      modules.push({ fileName: join(VIRTUAL_DIR, name), text: block.code, page, readmeLines: origin });
    }
  }
  for (const module of modules) module.text += '\nexport {};\n';
  return modules;
}

function compilerOptions(): ts.CompilerOptions {
  const config = ts.readConfigFile(join(ROOT, 'tsconfig.json'), ts.sys.readFile);
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, ROOT);
  const paths: Record<string, string[]> = {};
  for (const [specifier, source] of Object.entries(packageEntries(ROOT))) paths[specifier] = [`./${source}`];
  return { ...parsed.options, noEmit: true, baseUrl: ROOT, paths, noUnusedLocals: false, noUnusedParameters: false };
}

function typeCheck(modules: Module[]): string[] {
  const prelude = join(VIRTUAL_DIR, 'prelude.d.ts');
  const virtual = new Map<string, string>([[prelude, PRELUDE], ...modules.map((module) => [module.fileName, module.text] as const)]);
  const options = compilerOptions();
  const host = ts.createCompilerHost(options, true);
  const { getSourceFile, fileExists, readFile } = host;
  host.fileExists = (fileName) => virtual.has(fileName) || fileExists.call(host, fileName);
  host.readFile = (fileName) => virtual.get(fileName) ?? readFile.call(host, fileName);
  host.getSourceFile = (fileName, languageVersion, onError, shouldCreate) => {
    const text = virtual.get(fileName);
    return text !== undefined
      ? ts.createSourceFile(fileName, text, languageVersion, true, fileName.endsWith('.tsx') ? ts.ScriptKind.TSX : ts.ScriptKind.TS)
      : getSourceFile.call(host, fileName, languageVersion, onError, shouldCreate);
  };
  const program = ts.createProgram([prelude, ...modules.map((module) => module.fileName)], options, host);
  const errors: string[] = [];
  for (const module of modules) {
    const file = program.getSourceFile(module.fileName)!;
    const diagnostics = [...program.getSyntacticDiagnostics(file), ...program.getSemanticDiagnostics(file)];
    for (const diagnostic of diagnostics) {
      const { line } = file.getLineAndCharacterOfPosition(diagnostic.start ?? 0);
      const readmeLine = module.readmeLines[line] ?? module.readmeLines[module.readmeLines.length - 1];
      errors.push(`${module.page}:${readmeLine}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')}`);
    }
  }
  return errors;
}

const pages = PAGES.map((page) => ({ page, blocks: extractBlocks(readFileSync(join(ROOT, page), 'utf8')) }));

describe('code blocks of README.md and docs/*.md', () => {
  test('the pages have TypeScript blocks to check (quick start included)', () => {
    expect(PAGES).toEqual(expect.arrayContaining(['README.md', 'docs/adapters.md']));
    const readme = pages.find((entry) => entry.page === 'README.md')!.blocks;
    expect(readme.some((block) => block.code.includes('createTokenRefresh('))).toBe(true);
    expect(pages.flatMap((entry) => entry.blocks).length).toBeGreaterThanOrEqual(10);
  });

  test('every TypeScript block type-checks as written', () => {
    expect(typeCheck(pages.flatMap(({ page, blocks }) => toModules(blocks, page)))).toEqual([]);
  }, 120_000);

  test('every excerpt is a verbatim part of its file, and that file is type-checked by `tsc -p .`', () => {
    const config = ts.readConfigFile(join(ROOT, 'tsconfig.json'), ts.sys.readFile);
    const compiled = new Set(ts.parseJsonConfigFileContent(config.config, ts.sys, ROOT).fileNames.map((file) => resolve(file)));
    const problems: string[] = [];
    for (const { page, blocks } of pages) {
      for (const block of blocks.filter((candidate) => candidate.directive === 'excerpt-of')) {
        const file = resolve(ROOT, block.source ?? '');
        if (!compiled.has(file)) problems.push(`${page}:${block.line}: ${block.source} is not compiled by tsconfig.json`);
        else if (!readFileSync(file, 'utf8').includes(block.code.trim()))
          problems.push(`${page}:${block.line}: not a verbatim part of ${block.source}`);
      }
    }
    expect(problems).toEqual([]);
  });

  test('the check is not vacuous: a wrong block is reported at its page and line', () => {
    const markdown = [
      '# x',
      '',
      '```ts',
      "import { createTokenRefresh } from 'redux-observable-token-refresh';",
      'createTokenRefresh({ refresh: 42 });',
      '```',
      '',
    ].join('\n');
    const errors = typeCheck(toModules(extractBlocks(markdown), 'docs/example.md'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^docs\/example\.md:5: /);
  }, 60_000);

  test('directives: continues joins the block before, skip leaves a block out, other comments may sit between', () => {
    const markdown = [
      '```ts',
      'const shared = 1;',
      '```',
      '',
      '<!-- readme-check: continues -->',
      '<!-- recipe-run: example -->',
      '```ts',
      'const twice: number = shared * 2;',
      '```',
      '',
      '<!-- readme-check: skip: shell output -->',
      '```ts',
      '$ this is not TypeScript',
      '```',
    ].join('\n');
    const blocks = extractBlocks(markdown);
    expect(blocks.map((block) => block.runs)).toEqual([[], ['example'], []]);
    const modules = toModules(blocks);
    expect(modules).toHaveLength(1);
    expect(modules[0]!.readmeLines).toEqual([2, 8]);
    expect(typeCheck(modules)).toEqual([]);
  }, 60_000);

  test('a continues chain does not cross pages', () => {
    const first = toModules(extractBlocks(['```ts', 'export const shared = 1;', '```'].join('\n')), 'docs/a.md');
    const second = toModules(
      extractBlocks(['<!-- readme-check: continues -->', '```ts', 'const twice: number = shared * 2;', '```'].join('\n')),
      'docs/b.md',
    );
    expect(typeCheck([...first, ...second])).toEqual([expect.stringMatching(/^docs\/b\.md:3: Cannot find name 'shared'/)]);
  }, 60_000);
});
