import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

/** A process running inside a test host, with the tail of its output kept for failure messages. */
export interface HostProcess {
  name: string;
  proc: ChildProcess;
  /** Resolves when the process has exited and its pipes are drained. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The last lines it printed (stdout and stderr interleaved). */
  output(): string;
  /** Every line it printed, when started with `logFile`. */
  logFile?: string;
}

const keepLines = 300;

export function startProcess(name: string, cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; logFile?: string }): HostProcess {
  const proc = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  for (const stream of [proc.stdout!, proc.stderr!]) {
    createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
      lines.push(line);
      if (lines.length > keepLines) lines.shift();
      if (opts.logFile) appendFileSync(opts.logFile, `${line}\n`);
    });
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.once('close', (code, signal) => resolve({ code, signal }));
    proc.once('error', (err) => {
      lines.push(`spawn failed: ${err.message}`);
      resolve({ code: 127, signal: null });
    });
  });
  return { name, proc, exited, output: () => lines.join('\n'), ...(opts.logFile ? { logFile: opts.logFile } : {}) };
}

/** Environment without the runner's own CPS_* settings, so a host gets only what it is given. */
export function cleanEnv(extra: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CPS_')) env[k] = v;
  return { ...env, ...extra };
}
