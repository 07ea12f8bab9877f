// A process's CPU time and memory as the kernel counts them (/proc), for the proxies and the idle node.
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second for /proc/<pid>/stat times; 100 on every Linux this runs on. */
const TICKS = 100;

interface Stat {
  ppid: number;
  /** utime + stime, seconds. */
  cpu: number;
  /** cutime + cstime: children that ended and were reaped, seconds. */
  reapedChildren: number;
}

function stat(pid: number): Stat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name may hold spaces and parentheses: fields start after the last ')'.
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const n = (i: number) => Number(f[i - 3]);
  return { ppid: n(4), cpu: (n(14) + n(15)) / TICKS, reapedChildren: (n(16) + n(17)) / TICKS };
}

/** `pid` and every process below it, now. */
export function processTree(pid: number): number[] {
  const parents = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = stat(Number(name));
    if (!s) continue;
    const list = parents.get(s.ppid) ?? [];
    list.push(Number(name));
    parents.set(s.ppid, list);
  }
  const out: number[] = [];
  const walk = (p: number) => {
    out.push(p);
    for (const c of parents.get(p) ?? []) walk(c);
  };
  walk(pid);
  return out;
}

/**
 * CPU seconds spent so far by `pid`'s whole tree: the live processes' own time plus what their
 * reaped children spent (websockify forks a child per connection).
 */
export function treeCpuSeconds(pid: number): number {
  let sum = 0;
  for (const p of processTree(pid)) {
    const s = stat(p);
    if (s) sum += s.cpu + s.reapedChildren;
  }
  return sum;
}

export function cpuSeconds(pid: number): number {
  return stat(pid)?.cpu ?? NaN;
}

/** Resident and proportional set size in MiB (PSS shares pages fairly between processes). */
export function memoryMiB(pid: number): { rss: number; pss: number } {
  const field = (text: string, name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN) / 1024;
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  let pss = NaN;
  try {
    pss = field(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'), 'Pss');
  } catch {
    // kernels without smaps_rollup: RSS alone
  }
  return { rss: field(status, 'VmRSS'), pss };
}
