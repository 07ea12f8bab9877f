import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Child {
  name: string;
  pid: number;
  proc: ChildProcess;
  /** Set once the process is gone. */
  exit?: Exit;
  exited: Promise<Exit>;
  /** The last lines it printed, raw, for the message when it fails. */
  tail: string[];
}

const tailSize = 15;

export const describeExit = (e: Exit): string => (e.signal ? `killed by ${e.signal}` : `exit code ${e.code}`);

/**
 * Runs child processes, each leading its own process group so that a signal reaches whatever it
 * started too (qemu-img, …), and so that the terminal's Ctrl-C reaches only us: we decide the order.
 */
export class Supervisor {
  readonly children: Child[] = [];

  constructor(private readonly opts: { cwd: string; env: NodeJS.ProcessEnv; onLine: (child: Child, line: string) => void }) {}

  start(name: string, command: string, args: string[]): Child {
    const proc = spawn(command, args, { cwd: this.opts.cwd, env: this.opts.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<Exit>((resolve) => {
      // 'close' waits for the pipes to drain, so no last line is lost; 'error' covers a failed spawn.
      proc.once('close', (code, signal) => resolve((child.exit = { code, signal })));
      proc.once('error', (err) => {
        child.tail.push(`spawn failed: ${err.message}`);
        resolve((child.exit = { code: 127, signal: null }));
      });
    });
    const child: Child = { name, pid: proc.pid ?? -1, proc, exited, tail: [] };
    for (const stream of [proc.stdout!, proc.stderr!]) {
      createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
        child.tail.push(line);
        if (child.tail.length > tailSize) child.tail.shift();
        this.opts.onLine(child, line);
      });
    }
    this.children.push(child);
    return child;
  }

  /** SIGTERM to every group, up to `graceMs` for them to go, then SIGKILL; resolves when all are gone. */
  async stopAll(graceMs = 5_000, onKill?: (child: Child) => void): Promise<void> {
    const alive = () => this.children.filter((c) => !c.exit);
    for (const c of alive()) signalGroup(c, 'SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((r) => (timer = setTimeout(r, graceMs)));
    await Promise.race([Promise.all(this.children.map((c) => c.exited)), grace]);
    clearTimeout(timer);
    for (const c of alive()) {
      onKill?.(c);
      signalGroup(c, 'SIGKILL');
    }
    await Promise.all(this.children.map((c) => c.exited));
    // A child may be gone while something it started lingers in its group.
    for (const c of this.children) signalGroup(c, 'SIGKILL');
  }

  /** Kills everything at once (a second Ctrl-C). */
  killAll(): void {
    for (const c of this.children) signalGroup(c, 'SIGKILL');
  }
}

function signalGroup(c: Child, signal: NodeJS.Signals): void {
  if (c.pid <= 0) return;
  try {
    process.kill(-c.pid, signal);
  } catch {
    // ESRCH: the group is already empty.
  }
}
