import { join } from 'node:path';
import { parse } from '../args.ts';
import { runChecks } from '../doctor/index.ts';
import { machineDeps } from '../doctor/machine.ts';
import type { CheckResult, DoctorDeps } from '../doctor/types.ts';
import { whyFailed } from '../doctor/types.ts';
import { paint, type Io } from '../io.ts';
import { repoRoot } from '../up/services.ts';

export const doctorHelp = `Usage: cps doctor [options]

Checks that this machine can run a CPS node, one line per check (ok, warn or FAIL) with a hint
how to fix it. Exits non-zero when any check FAILs.

Options:
  --data-dir DIR   the data dir to check (default: $CPS_DATA_DIR or /var/lib/cps)
  --reprobe        boot a probe guest again to learn whether KVM works (scripts/probe-accel.sh)
  --json           print the results as JSON
  -h, --help       this text
`;

const reprobeTimeoutMs = 180_000;

export async function doctor(args: string[], io: Io, deps?: DoctorDeps): Promise<number> {
  const { values } = parse(args, { 'data-dir': { type: 'string' }, reprobe: { type: 'boolean' }, json: { type: 'boolean' } });
  if (values.help) return io.out(doctorHelp), 0;
  const dataDir = values['data-dir'] ?? io.env.CPS_DATA_DIR ?? '/var/lib/cps';
  const env = { ...io.env, CPS_DATA_DIR: dataDir };
  const d = deps ?? machineDeps(env, dataDir);
  if (values.reprobe) {
    if (!values.json) io.out('probing the accelerator (boots a guest; up to 3 minutes)…');
    const r = await d.run('bash', [join(repoRoot, 'scripts/probe-accel.sh')], { timeoutMs: reprobeTimeoutMs, env });
    if (r.code !== 0) io.err(`warning: scripts/probe-accel.sh failed: ${whyFailed(r, reprobeTimeoutMs)}`);
  }
  const results = await runChecks(d);
  if (values.json) io.out(JSON.stringify(results, null, 2));
  else for (const r of results) io.out(formatResult(r, io.color));
  return results.some((r) => r.status === 'FAIL') ? 1 : 0;
}

export function formatResult(r: CheckResult, color = false): string {
  const tag = r.status === 'ok' ? paint(color, 'green', 'ok  ') : r.status === 'warn' ? paint(color, 'yellow', 'warn') : paint(color, 'red', 'FAIL');
  const line = `${tag}  ${r.name.padEnd(12)} ${r.detail}`;
  return r.hint && r.status !== 'ok' ? `${line}\n      ${''.padEnd(12)} → ${r.hint}` : line;
}
