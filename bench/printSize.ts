/** `npx tsx bench/printSize.ts`: the Size tables alone (min+gzip per entry, and per import set), without the full benchmark run. */
import { resolve } from 'node:path';
import { measureBudgets, measureSizes } from './size';

const rows = await measureSizes(resolve(import.meta.dirname, '..'));
for (const row of rows) console.log(`${String(row.gzipBytes).padStart(6)} B  ${row.entry}`);
console.log('\nper import set (budgets in .size-limit.cjs, checked by npm test):');
for (const row of measureBudgets(resolve(import.meta.dirname, '..'))) {
  console.log(`${String(row.gzipBytes).padStart(6)} B  ${row.name} (budget ${row.limitBytes} B)`);
}
