/**
 * A scenario's command list, one command a line: `<time> <command>`, e.g. `12s power off n1`.
 * Times are virtual (`1500ms`, `12s`, `12.5s`); `#` starts a comment. Lines without a time set up
 * the scenario: `nodes n1 n2 n3` (the nodes that exist; each is also a host) and
 * `timing lease=15000 drift=2000 renew=5000 hello=1000`.
 * `pause N` / `resume N` are SIGSTOP / SIGCONT of N's coordinator alone (its discovery and host go
 * on); `freeze N` / `thaw N` stop the whole machine (a suspended laptop, a paused VM).
 */
export type Command =
  | { op: 'power-on' | 'power-off' | 'stop' | 'pause' | 'resume' | 'freeze' | 'thaw' | 'owner-idle'; node: string }
  | { op: 'cut' | 'heal'; a: string; b: string }
  | { op: 'partition'; sides: string[][] }
  | { op: 'heal-all' }
  | { op: 'dns-down' | 'dns-up' | 'dns-clear' }
  | { op: 'dns-set'; text: string }
  | { op: 'skew'; node: string; ms: number }
  | { op: 'owner-busy'; node: string; lateMs: number }
  | { op: 'send'; node: string; command: string }
  | { op: 'head-sends'; command: string }
  | { op: 'end' };

export interface Timed {
  at: number;
  line: number;
  text: string;
  cmd: Command;
}

export interface SimTiming {
  leaseMs: number;
  driftMs: number;
  renewMs: number;
  helloMs: number;
}

export interface CmdList {
  nodes: string[];
  timing: SimTiming;
  commands: Timed[];
  endAt: number;
}

export const defaultSimTiming: SimTiming = { leaseMs: 15_000, driftMs: 2_000, renewMs: 5_000, helloMs: 1_000 };

/** `12s`, `12.5s`, `1500ms`, `+1500ms`, `-2s` → ms; undefined if it is none of those. */
export function parseDuration(s: string): number | undefined {
  const m = /^([+-]?)(\d+(?:\.\d+)?)(ms|s)$/.exec(s);
  if (!m) return undefined;
  const v = Number(m[2]) * (m[3] === 's' ? 1000 : 1);
  return Math.round(m[1] === '-' ? -v : v);
}

const nodeId = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function parseCmdList(text: string): CmdList {
  const nodes: string[] = [];
  const timing = { ...defaultSimTiming };
  const commands: Timed[] = [];
  let endAt: number | undefined;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/#.*$/, '').trim();
    if (!line) continue;
    const fail = (why: string): never => {
      throw new Error(`cmdlist line ${i + 1}: ${why}: ${line}`);
    };
    const words = line.split(/\s+/);
    if (words[0] === 'nodes') {
      for (const n of words.slice(1)) (nodeId.test(n) && n !== 'dns' ? nodes.push(n) : fail(`bad node id ${n}`));
      continue;
    }
    if (words[0] === 'timing') {
      for (const kv of words.slice(1)) {
        const [k, v] = kv.split('=');
        const key = `${k}Ms` as keyof SimTiming;
        if (!(key in timing) || !/^\d+$/.test(v ?? '')) fail(`bad timing ${kv}`);
        timing[key] = Number(v);
      }
      continue;
    }
    const at = parseDuration(words[0]!);
    if (at === undefined || at < 0) fail('a command starts with its time (12s, 1500ms)');
    const rest = words.slice(1);
    const cmd = parseCommand(rest, nodes) ?? fail('unknown command');
    if (commands.length && at! < commands[commands.length - 1]!.at) fail('commands must be in time order');
    if (cmd.op === 'end') endAt = at;
    else commands.push({ at: at!, line: i + 1, text: rest.join(' '), cmd });
  }
  if (!nodes.length) throw new Error('cmdlist: no `nodes` line');
  const last = commands.length ? commands[commands.length - 1]!.at : 0;
  return { nodes, timing, commands, endAt: endAt ?? last + 30_000 };
}

function parseCommand(w: string[], nodes: string[]): Command | undefined {
  const node = (n: string | undefined) => (n !== undefined && nodes.includes(n) ? n : undefined);
  const end = (n: string | undefined) => (n === 'dns' ? n : node(n));
  const s = w.join(' ');
  const one = (op: 'power-on' | 'power-off' | 'stop' | 'pause' | 'resume' | 'freeze' | 'thaw' | 'owner-idle', n: string | undefined) => {
    const id = node(n);
    return id ? { op, node: id } : undefined;
  };
  if (/^power on \S+$/.test(s)) return one('power-on', w[2]);
  if (/^power off \S+$/.test(s)) return one('power-off', w[2]);
  if (/^stop \S+$/.test(s)) return one('stop', w[1]);
  if (/^pause \S+$/.test(s)) return one('pause', w[1]);
  if (/^resume \S+$/.test(s)) return one('resume', w[1]);
  if (/^freeze \S+$/.test(s)) return one('freeze', w[1]);
  if (/^thaw \S+$/.test(s)) return one('thaw', w[1]);
  if (/^owner idle \S+$/.test(s)) return one('owner-idle', w[2]);
  if (/^owner busy \S+ \S+$/.test(s)) {
    const id = node(w[2]);
    const lateMs = parseDuration(w[3]!);
    return id && lateMs !== undefined && lateMs >= 0 ? { op: 'owner-busy', node: id, lateMs } : undefined;
  }
  if (/^(cut|heal) link \S+ \S+$/.test(s)) {
    const a = end(w[2]);
    const b = end(w[3]);
    return a && b && a !== b ? { op: w[0] as 'cut' | 'heal', a, b } : undefined;
  }
  if (s === 'heal all') return { op: 'heal-all' };
  if (w[0] === 'partition') {
    const sides = w
      .slice(1)
      .join('')
      .split('|')
      .map((side) => side.split(',').filter(Boolean));
    const all = sides.flat();
    return sides.length >= 2 && all.every((n) => end(n)) && new Set(all).size === all.length ? { op: 'partition', sides } : undefined;
  }
  if (s === 'dns down') return { op: 'dns-down' };
  if (s === 'dns up') return { op: 'dns-up' };
  if (s === 'dns clear') return { op: 'dns-clear' };
  if (w[0] === 'dns' && w[1] === 'set' && w.length > 2) return { op: 'dns-set', text: w.slice(2).join(' ') };
  if (/^skew \S+ [+-]?\d+(\.\d+)?(ms|s)$/.test(s)) {
    const id = node(w[1]);
    return id ? { op: 'skew', node: id, ms: parseDuration(w[2]!)! } : undefined;
  }
  if (/^send \S+ \S+$/.test(s)) {
    const id = node(w[1]);
    return id ? { op: 'send', node: id, command: w[2]! } : undefined;
  }
  if (/^head sends \S+$/.test(s)) return { op: 'head-sends', command: w[2]! };
  if (s === 'end') return { op: 'end' };
  return undefined;
}
