/**
 * The simulator's runner: `npx tsx packages/head/sim/run.ts [scenario…] [--update]`. Prints each
 * scenario's event log, and the unified diff against its log.expect if they differ (exit 1).
 * `--update` writes the produced log to log.expect instead, for a human to review in git; the
 * test (test/sim.test.ts) never does.
 */
import { expectedLog, logDiff, runScenario, scenarioNames, writeExpected } from './scenarios.ts';

const args = process.argv.slice(2);
const update = args.includes('--update');
const asked = args.filter((a) => a !== '--update');
const names = asked.length ? asked : await scenarioNames();
let failed = 0;
for (const name of names) {
  const log = await runScenario(name);
  if (update) {
    await writeExpected(name, log);
    process.stdout.write(`${name}: log.expect written\n`);
    continue;
  }
  if (asked.length) process.stdout.write(`== ${name}\n${log}`);
  const expected = await expectedLog(name);
  const diff = expected === undefined ? `${name}: no log.expect (run with --update, then review it)\n` : logDiff(name, expected, log);
  if (diff) {
    failed++;
    process.stdout.write(diff);
  } else if (!asked.length) process.stdout.write(`${name}: ok\n`);
}
process.exitCode = failed ? 1 : 0;
