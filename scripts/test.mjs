#!/usr/bin/env node
// `npm test`: type-check the whole repo, run the fast vitest projects, then the slow ones alone (real
// QEMU under TCG, Chromium and docker need the machine's two cores), then print one closing line in
// the plain form CI runners read: "tests: N passed, N failed, N skipped".
// Extra arguments go to vitest in both phases (e.g. a file filter).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const fast = ['common', 'trust', 'head', 'discovery', 'provisioner', 'storage', 'vnc-gateway', 'coordinator', 'cli'];
const args = process.argv.slice(2);
const dir = mkdtempSync(join(tmpdir(), 'cps-test-'));
const run = (cmd, argv) => spawnSync(cmd, argv, { stdio: 'inherit', env: process.env }).status ?? 1;

let passed = 0, failed = 0, skipped = 0, badExit = false;

console.log('== type-check (tsc --noEmit)');
if (run('npx', ['tsc', '-p', 'tsconfig.json', '--noEmit']) !== 0) {
  console.log('type-check: FAILED');
  failed += 1;
}

function phase(name, projects) {
  const out = join(dir, `${name}.json`);
  console.log(`== vitest: ${name} (${projects.join(', ')})`);
  const code = run('npx', ['vitest', 'run', ...projects.flatMap((p) => ['--project', p]),
    '--reporter=default', '--reporter=json', `--outputFile.json=${out}`, '--passWithNoTests', ...args]);
  if (code !== 0) badExit = true;
  try {
    const r = JSON.parse(readFileSync(out, 'utf8'));
    passed += r.numPassedTests;
    failed += r.numFailedTests;
    skipped += r.numPendingTests + r.numTodoTests;
    // A file that failed to load (syntax error, failing beforeAll) has no failed test of its own.
    failed += r.testResults.filter((f) => f.status === 'failed' && f.assertionResults.every((a) => a.status !== 'failed')).length;
  } catch {
    failed += 1;
  }
}

phase('fast', fast);
phase('slow', ['slow']);
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 || badExit || passed === 0 ? 1 : 0);
