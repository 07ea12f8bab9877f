// Child processes the bench starts: each one tracked, told to stop, and killed if it does not.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { once } from 'node:events';

export interface Child {
  proc: ChildProcess;
  pid: number;
  output(): string;
  /** Resolves with the first stdout line matching `re`, or rejects when the child exits first or time runs out. */
  waitFor(re: RegExp, timeoutMs: number): Promise<RegExpExecArray>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of live) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
});

export function startChild(cmd: string, args: string[], o: SpawnOptions = {}): Child {
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...o });
  live.add(proc);
  proc.once('exit', () => live.delete(proc));
  let out = '';
  proc.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
  proc.stderr?.setEncoding('utf8').on('data', (d: string) => (out += d));
  proc.on('error', (err) => (out += `\n[spawn error] ${err.message}`));
  const exited = once(proc, 'exit').catch(() => undefined);
  return {
    proc,
    pid: proc.pid ?? -1,
    output: () => out,
    waitFor(re, timeoutMs) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => done(new Error(`${cmd} did not print ${re} within ${timeoutMs} ms:\n${out.slice(-2000)}`)), timeoutMs);
        const check = () => {
          const m = re.exec(out);
          if (m) done(undefined, m);
        };
        const onExit = () => done(new Error(`${cmd} exited (${proc.exitCode ?? proc.signalCode}) before printing ${re}:\n${out.slice(-2000)}`));
        const done = (err?: Error, m?: RegExpExecArray) => {
          clearTimeout(timer);
          proc.stdout?.off('data', check);
          proc.stderr?.off('data', check);
          proc.off('exit', onExit);
          if (err) reject(err);
          else resolve(m!);
        };
        proc.stdout?.on('data', check);
        proc.stderr?.on('data', check);
        proc.once('exit', onExit);
        check();
      });
    },
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill(signal);
      const t = setTimeout(() => proc.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(t);
    },
  };
}
