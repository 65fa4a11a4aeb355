import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The package's import specifiers (`redux-observable-token-refresh` and its subpaths) and the source
 * file each one is built from, read as text from tsup.config.ts's `entries`: importing it would
 * load tsup. The docs' checks resolve a snippet's imports to the source with it, as users get them.
 */
export function packageEntries(root: string): Record<string, string> {
  const config = readFileSync(join(root, 'tsup.config.ts'), 'utf8');
  const body = /export const entries = \{([^}]*)\}/.exec(config)?.[1] ?? '';
  const found = Object.fromEntries([...body.matchAll(/['"]?([\w-]+)['"]?\s*:\s*['"]([^'"]+)['"]/g)].map((match) => [match[1]!, match[2]!]));
  if (!found.index) throw new Error('tsup.config.ts: no `export const entries = { index: ... }` found');
  return Object.fromEntries(
    Object.entries(found).map(([entry, source]) => [
      entry === 'index' ? 'redux-observable-token-refresh' : `redux-observable-token-refresh/${entry}`,
      source,
    ]),
  );
}
