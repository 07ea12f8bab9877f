import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

export interface RunningNode {
  proc: ChildProcess;
  portal: string;
  output(): string;
  /** Ctrl-C, as a person would; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** Starts a whole one-node CPS with `cps up` on shifted ports, and waits for its portal URL line. */
export async function startNode(portsBase: number, env: NodeJS.ProcessEnv = {}, timeoutMs = 120_000): Promise<RunningNode> {
  const proc = spawn(process.execPath, ['cli/bin/cps.js', 'up', '--ports-base', String(portsBase)], {
    cwd: root,
    env: { ...process.env, CPS_PEP_PORT: String(portsBase + 9), CPS_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const portal = `http://localhost:${portsBase}`;
  const deadline = Date.now() + timeoutMs;
  while (!out.includes(portal)) {
    if (proc.exitCode !== null) throw new Error(`cps up exited with ${proc.exitCode}:\n${out}`);
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`cps up did not print ${portal} in time:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    proc,
    portal,
    output: () => out,
    async stop() {
      if (proc.exitCode !== null) return proc.exitCode;
      proc.kill('SIGINT');
      const [code] = (await Promise.race([once(proc, 'exit'), new Promise((r) => setTimeout(() => r([null]), 20_000))])) as [number | null];
      if (proc.exitCode === null) proc.kill('SIGKILL');
      return code;
    },
  };
}
