/**
 * The fenced TypeScript blocks of a Markdown page, with the directives written above them. Shared by
 * readme.test.ts (every block type-checks) and recipes.test.ts (marked blocks run end to end), so
 * both read the pages the same way.
 *
 * Directives are HTML comments on the lines just before a fence (blank lines and other comments may
 * sit between them), so a page shows none of them:
 * - `<!-- readme-check: continues -->`: compiled in the same module as the checked block before it;
 * - `<!-- readme-check: excerpt-of <path> -->`: a verbatim part of that file, which `tsc -p .` compiles;
 * - `<!-- readme-check: skip: <reason> -->`: left out;
 * - `<!-- recipe-run: <name>[, <name>…] -->`: part of the runnable recipe `<name>` (recipes.test.ts),
 *   which is every block of the page with that name, in page order, as one module.
 */

export interface Block {
  /** Line (1-based) of the block's first code line in its page. */
  line: number;
  code: string;
  directive: 'continues' | 'skip' | 'excerpt-of' | null;
  /** For `excerpt-of`: the file the block is taken from. */
  source?: string;
  /** The runnable recipes (`recipe-run`) this block is part of. */
  runs: string[];
}

export function extractBlocks(markdown: string): Block[] {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const fence = /^(\s*)(`{3,}|~{3,})\s*([\w-]*)/.exec(lines[i]!);
    if (!fence) continue;
    const [, indent, marker, language] = fence;
    const end = lines.findIndex((line, j) => j > i && line.trimStart().startsWith(marker!) && line.trim() === marker);
    const close = end < 0 ? lines.length : end;
    if (['ts', 'typescript', 'tsx'].includes(language!.toLowerCase())) {
      // The comments directly above the fence, skipping blank lines.
      const comments: string[] = [];
      for (let previous = i - 1; previous >= 0; previous--) {
        const text = lines[previous]!.trim();
        if (text === '') continue;
        if (!/^<!--.*-->$/.test(text)) break;
        comments.push(text);
      }
      const check = comments.map((text) => /<!--\s*readme-check:\s*(continues|skip|excerpt-of)\b\s*([^\s>]*)/.exec(text)).find(Boolean);
      const runs = comments.flatMap((text) => /<!--\s*recipe-run:\s*([^>]*?)\s*-->/.exec(text)?.[1]?.split(/\s*,\s*/) ?? []);
      const body = lines.slice(i + 1, close).map((line) => (line.startsWith(indent!) ? line.slice(indent!.length) : line));
      const directive = (check?.[1] as Block['directive']) ?? null;
      blocks.push({ line: i + 2, code: body.join('\n'), directive, runs, ...(directive === 'excerpt-of' ? { source: check![2] } : {}) });
    }
    i = close;
  }
  return blocks;
}
