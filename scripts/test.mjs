#!/usr/bin/env node
/**
 * `npm test`: every check a release needs, in one run, ending with one line `N passed, N failed`
 * that CI reads. Jest tests count one each; the type check, the formatting check, the lint, the build (before jest, whose pack test
 * reads it), publint and @arethetypeswrong/cli count one each; the stack matrix (scripts/stacks.ts) counts five per stack. Extra arguments go to jest (e.g. a test path).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';

let passed = 0;
let failed = 0;
const failures = [];

function step(name, command, args) {
  console.log(`\n▶ ${name}: ${command} ${args.join(' ')}`);
  const { status } = spawnSync(command, args, { stdio: 'inherit' });
  if (status === 0) passed++;
  else {
    failed++;
    failures.push(name);
  }
  return status === 0;
}

const jestArgs = process.argv.slice(2);
const onlyJest = jestArgs.length > 0;

if (!onlyJest) step('type check', 'npx', ['tsc', '--noEmit', '-p', '.']);
if (!onlyJest) step('format (prettier --check; npm run format fixes it)', 'npx', ['prettier', '--check', '.', '--log-level', 'warn']);
if (!onlyJest) step('lint (eslint)', 'npx', ['eslint', '.', '--max-warnings=0']);
// Before jest: __tests__/pack.test.ts checks the tarball `npm pack` makes of this build.
const built = !onlyJest && step('build (tsup)', 'npx', ['tsup']);

mkdirSync('.test-results', { recursive: true });
rmSync('.test-results/jest.json', { force: true });
console.log('\n▶ jest');
spawnSync('npx', ['jest', '--json', '--outputFile=.test-results/jest.json', ...jestArgs], { stdio: 'inherit' });
try {
  const report = JSON.parse(readFileSync('.test-results/jest.json', 'utf8'));
  passed += report.numPassedTests;
  failed += report.numFailedTests;
  // A suite that failed outside its tests (it did not load, or an error escaped them, such as an
  // unhandled rejection) counts once, unless one of its tests failed and is counted already.
  const broken = report.testResults.filter(
    (suite) => suite.status === 'failed' && !suite.assertionResults.some((test) => test.status === 'failed'),
  );
  failed += broken.length;
  failures.push(...broken.map((suite) => `suite ${suite.name}`));
  if (report.numFailedTests) failures.push(`${report.numFailedTests} jest test(s)`);
} catch {
  failed++;
  failures.push('jest produced no report');
}

if (!onlyJest && built) {
  step('size budgets per import set (size-limit, .size-limit.cjs)', 'npx', ['size-limit']);
  step('publint', 'npx', ['publint', '--strict']);
  step('attw', 'npx', ['attw', '--pack', '.']);
  stackMatrix();
}

/**
 * The packed package on each supported Redux stack (scripts/stacks.ts): five counted checks per
 * stack, read from its report as jest's are, so a stack that fails to install still counts.
 */
function stackMatrix() {
  rmSync('.test-results/stacks.json', { force: true });
  console.log('\n▶ stack matrix: npx tsx scripts/stacks.ts --no-build');
  spawnSync('npx', ['tsx', 'scripts/stacks.ts', '--no-build'], { stdio: 'inherit' });
  try {
    const report = JSON.parse(readFileSync('.test-results/stacks.json', 'utf8'));
    passed += report.passed;
    failed += report.failed;
    failures.push(...report.failures);
  } catch {
    failed++;
    failures.push('stack matrix produced no report');
  }
}

if (failures.length) console.log(`\nFailed: ${failures.join('; ')}`);
console.log(`\n${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
