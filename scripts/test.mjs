#!/usr/bin/env node
// `npm test`: type-check the whole repo, then run every vitest project (fast and slow), then print
// one closing line in the plain form CI runners read: "tests: N passed, N failed, N skipped".
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const args = process.argv.slice(2);
const run = (cmd, argv) => spawnSync(cmd, argv, { stdio: 'inherit', env: process.env }).status ?? 1;

let extraFailed = 0;
console.log('== type-check (tsc --noEmit)');
if (run('npx', ['tsc', '-p', 'tsconfig.json', '--noEmit']) !== 0) {
  console.log('type-check: FAILED');
  extraFailed += 1;
}

const out = join(mkdtempSync(join(tmpdir(), 'cps-test-')), 'vitest.json');
console.log('== vitest');
const code = run('npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${out}`, ...args]);

let passed = 0, failed = 0, skipped = 0;
try {
  const r = JSON.parse(readFileSync(out, 'utf8'));
  passed = r.numPassedTests;
  failed = r.numFailedTests;
  skipped = r.numPendingTests + r.numTodoTests;
  // A suite that failed to load (syntax error, failing beforeAll) has no failed tests of its own.
  failed += r.testResults.filter((f) => f.status === 'failed' && f.assertionResults.every((a) => a.status !== 'failed')).length;
} catch {
  failed += 1;
}
failed += extraFailed;
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 || code !== 0 || passed === 0 ? 1 : 0);
