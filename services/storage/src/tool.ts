import { execFile } from 'node:child_process';
import { ProblemError } from '@cps/common';

export interface ToolResult {
  stdout: string;
  stderr: string;
}

/** Runs an external program; injectable so tests can count calls or make a tool fail. */
export type RunTool = (cmd: string, args: readonly string[], opts?: ToolOptions) => Promise<ToolResult>;

export interface ToolOptions {
  timeoutMs?: number;
  /** Added to this process's environment. */
  env?: Record<string, string>;
  cwd?: string;
}

const defaultTimeoutMs = 60_000;
const maxOutputBytes = 4 * 1024 * 1024;

/**
 * execFile with an argument array (never a shell, so ids and paths are never interpreted), a
 * timeout, and a bounded output. Any failure becomes a `tool-failed` problem carrying the
 * tool's stderr, because that text is what an operator needs to fix the cause.
 */
export const runTool: RunTool = (cmd, args, opts = {}) =>
  new Promise((resolve, reject) => {
    const timeout = opts.timeoutMs ?? defaultTimeoutMs;
    execFile(
      cmd,
      [...args],
      { timeout, maxBuffer: maxOutputBytes, encoding: 'utf8', killSignal: 'SIGKILL', env: { ...process.env, ...opts.env, LC_ALL: 'C' }, ...(opts.cwd ? { cwd: opts.cwd } : {}) },
      (err, stdout, stderr) => {
        if (!err) return resolve({ stdout, stderr });
        const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: unknown };
        const what = `${cmd} ${args[0] ?? ''}`.trim();
        let why: string;
        if (e.code === 'ENOENT') why = `${cmd} is not installed (or not on PATH)`;
        else if (e.killed) why = `${what} did not finish within ${timeout} ms`;
        else why = `${what} exited with ${typeof e.code === 'number' ? `status ${e.code}` : String(e.code ?? e.message)}`;
        const tail = stderr.trim().slice(-2000);
        reject(new ProblemError('tool-failed', tail ? `${why}: ${tail}` : why, { tool: cmd }));
      },
    );
  });
