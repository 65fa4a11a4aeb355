/** `npx tsx bench/printSize.ts`: the Size table alone (min+gzip per entry), without the full benchmark run. */
import { resolve } from 'node:path';
import { measureSizes } from './size';

const rows = await measureSizes(resolve(import.meta.dirname, '..'));
for (const row of rows) console.log(`${String(row.gzipBytes).padStart(6)} B  ${row.entry}`);
