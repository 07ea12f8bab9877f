// The network plumbing of the test hosts (tests/helpers/hosts.ts): names, `ip`/`iptables` calls and
// the clean-up of what a crashed earlier run left behind. Everything here is synchronous on purpose:
// each call takes milliseconds, and the same code must run from a process 'exit' handler.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A run id is `<pid in hex>z<counter>`: the pid of the test process that made it (so a later run can
 * tell a crashed run's leftovers from a live one's) and a per-process counter. Hex never contains
 * `z`, so the two parts split unambiguously. Interface names are at most 15 characters:
 * `cps-br-` + 6 hex (pid_max ≤ 2^22) + `z` + 1 = 15.
 */
export interface RunNames {
  run: string;
  bridge: string;
  netns: (letter: string) => string;
  /** The root-side end of the host's veth pair (the other end is `eth0` inside the namespace). */
  veth: (letter: string) => string;
  /** The comment on this run's iptables rule, so that exactly that rule is removed. */
  comment: string;
  /** Where the hosts' data dirs and logs live. */
  dir: string;
}

let counter = 0;

export function newRun(pid = process.pid): RunNames {
  const run = `${pid.toString(16)}z${(counter++ % 36).toString(36)}`;
  return namesOf(run);
}

export function namesOf(run: string): RunNames {
  return {
    run,
    bridge: `cps-br-${run}`,
    netns: (l) => `cps-${run}-${l}`,
    veth: (l) => `cps-${run}${l}`,
    comment: `cps-hosts ${run}`,
    dir: join(tmpdir(), `cps-hosts-${run}`),
  };
}

const runPart = '([0-9a-f]{1,6}z[0-9a-z])';
const patterns = {
  netns: new RegExp(`^cps-${runPart}-[a-z]$`),
  bridge: new RegExp(`^cps-br-${runPart}$`),
  veth: new RegExp(`^cps-${runPart}[a-z]$`),
  dir: new RegExp(`^cps-hosts-${runPart}$`),
  comment: new RegExp(`cps-hosts ${runPart}`),
};

/** Runs a command; throws with its stderr on failure. */
export function sh(cmd: string, args: string[], opts: { input?: string } = {}): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], input: opts.input, timeout: 30_000 });
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`);
  }
}

/** Like sh, for clean-up: a failure (the thing is already gone) is not an error. */
export function shQuiet(cmd: string, args: string[]): void {
  try {
    execFileSync(cmd, args, { stdio: 'ignore', timeout: 30_000 });
  } catch {
    // already gone, or never made: clean-up goes on with the rest
  }
}

export const ip = (...args: string[]) => sh('ip', args);
export const ipIn = (netns: string, ...args: string[]) => sh('ip', ['-n', netns, ...args]);

export function bridgeNetfilterOn(): boolean {
  const f = '/proc/sys/net/bridge/bridge-nf-call-iptables';
  return existsSync(f) && readFileSync(f, 'utf8').trim() === '1';
}

/**
 * With br_netfilter loaded, frames crossing a bridge traverse iptables' FORWARD chain, whose policy
 * dockerd sets to DROP: traffic between the hosts would vanish. One ACCEPT rule for our bridge only.
 */
export function forwardRuleArgs(n: RunNames): string[] {
  return ['FORWARD', '-i', n.bridge, '-o', n.bridge, '-m', 'comment', '--comment', n.comment, '-j', 'ACCEPT'];
}

/** A /24 in 10.231.0.0/16 that no interface or route of this machine uses yet. */
export function freeSubnet(): string {
  const used = ip('-4', '-o', 'addr') + ip('-4', 'route');
  for (let i = 0; i < 64; i++) {
    const third = Math.floor(Math.random() * 256);
    const prefix = `10.231.${third}.`;
    if (!used.includes(prefix)) return prefix;
  }
  throw new Error('no free 10.231.N.0/24 subnet for the test hosts');
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function netnsPids(netns: string): number[] {
  try {
    return sh('ip', ['netns', 'pids', netns]).split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

export function killNetns(netns: string): void {
  for (const pid of netnsPids(netns)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // exited meanwhile
    }
  }
}

/** Removes everything of one run: processes, namespaces, veths, bridge, iptables rule, files. */
export function removeRun(n: RunNames, letters: string[]): void {
  for (const l of letters) killNetns(n.netns(l));
  for (const l of letters) shQuiet('ip', ['link', 'del', n.veth(l)]);
  for (const l of letters) shQuiet('ip', ['netns', 'del', n.netns(l)]);
  shQuiet('ip', ['link', 'del', n.bridge]);
  // -D deletes one copy; loop in case a crashed run inserted it twice.
  for (let i = 0; i < 4 && iptablesHas(n); i++) shQuiet('iptables', ['-D', ...forwardRuleArgs(n)]);
  rmSync(n.dir, { recursive: true, force: true });
}

function iptablesHas(n: RunNames): boolean {
  try {
    execFileSync('iptables', ['-C', ...forwardRuleArgs(n)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const pidOfRun = (run: string) => parseInt(run.split('z')[0]!, 16);

/**
 * Finds the leftovers of earlier runs whose test process is gone (it was SIGKILLed, or the machine
 * lost power mid-test) and removes them. Only names of the harness's own shape are looked at, and
 * only runs whose pid is dead: a run of a test still going on elsewhere is never touched.
 */
export function removeStaleRuns(): string[] {
  const stale = new Map<string, Set<string>>();
  const note = (run: string, letter?: string) => {
    if (pidAlive(pidOfRun(run))) return;
    const s = stale.get(run) ?? new Set<string>();
    if (letter) s.add(letter);
    stale.set(run, s);
  };
  for (const line of sh('ip', ['netns', 'list']).split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const m = patterns.netns.exec(name);
    if (m) note(m[1]!, name.slice(-1));
  }
  for (const line of sh('ip', ['-o', 'link']).split('\n')) {
    const name = (line.split(': ')[1] ?? '').split('@')[0]!;
    const b = patterns.bridge.exec(name);
    if (b) note(b[1]!);
    const v = patterns.veth.exec(name);
    if (v) note(v[1]!, name.slice(-1));
  }
  for (const entry of readdirSync(tmpdir())) {
    const m = patterns.dir.exec(entry);
    if (m) note(m[1]!);
  }
  try {
    for (const line of sh('iptables', ['-S', 'FORWARD']).split('\n')) {
      const m = patterns.comment.exec(line);
      if (m) note(m[1]!);
    }
  } catch {
    // no iptables: no rule can have been left
  }
  for (const [run, letters] of stale) removeRun(namesOf(run), [...letters]);
  return [...stale.keys()];
}
