import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
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
    // Owner first off unless a test asks: the machine's load here is the test run (Chromium, other
    // QEMUs), and a guest suspended for it mid-test would fail the test for no fault of the path.
    env: { ...process.env, CPS_PEP_PORT: String(portsBase + 9), CPS_LOG_LEVEL: 'info', CPS_OWNER_FIRST: '0', ...env },
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

/**
 * A user of a node made straight in its registry (WAL: beside a running coordinator), with an
 * API token: tests sign in without depending on which `cps up` made the first admin.
 */
export async function makeUser(dataDir: string, role: 'user' | 'admin' = 'user'): Promise<{ name: string; password: string; token: string }> {
  const { Accounts } = await import('@cps/coordinator/accounts/accounts.ts');
  const { openRegistry, registryPath } = await import('@cps/coordinator/registry/db.ts');
  const now = () => new Date();
  const registry = openRegistry(registryPath(dataDir), { now });
  try {
    const accounts = new Accounts({ store: registry.accounts, now });
    const name = `test-${randomBytes(4).toString('hex')}`;
    const password = randomBytes(12).toString('base64url');
    const user = await accounts.createUser({ name, password, role });
    const { value } = await accounts.createToken(user.id, 'tests');
    return { name, password, token: value };
  } finally {
    registry.close();
  }
}

/** The first admin's password as the first `cps up` of a data dir prints it; undefined on later runs. */
export const firstAdminPassword = (output: string): string | undefined => /first admin of this node's portal: name admin, password (\S+) /.exec(output)?.[1];
