export type Status = 'ok' | 'warn' | 'FAIL';

/** One line of `cps doctor`: what was checked, how it went, and how to fix it. */
export interface CheckResult {
  name: string;
  status: Status;
  detail: string;
  hint?: string;
}

export interface RunResult {
  /** null when the command could not be started or was killed. */
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut?: boolean;
  /** Why it could not run at all (e.g. "not found"). */
  error?: string;
}

/** Runs a command without a shell and never for longer than `timeoutMs`. */
export type Runner = (cmd: string, args: string[], opts?: { timeoutMs?: number; env?: NodeJS.ProcessEnv }) => Promise<RunResult>;

export type PortUse = { state: 'free' } | { state: 'cps'; service: string } | { state: 'other'; detail: string };

/** Everything the checks look at, passed in so tests can fake the machine. */
export interface DoctorDeps {
  run: Runner;
  /** Rejects (ENOENT, …) when the file cannot be read. */
  readFile(path: string): Promise<string>;
  exists(path: string): Promise<boolean>;
  /** Free bytes for an unprivileged writer on the filesystem holding `path` (or its nearest existing parent). */
  freeBytes(path: string): Promise<number>;
  probePort(port: number): Promise<PortUse>;
  /** Opens a libvirt connection through the Node binding and returns the hypervisor version. */
  libvirtBinding?(uri: string): Promise<string>;
  nodeVersion: string;
  /** The clock (ms since the epoch): TSIG signs with it and checks the server's answer against it. */
  now: () => number;
  dataDir: string;
  env: NodeJS.ProcessEnv;
}

export type Check = (d: DoctorDeps) => Promise<CheckResult>;

/** How a failed command reads in one line. */
export function whyFailed(r: RunResult, timeoutMs?: number): string {
  if (r.error) return r.error;
  if (r.timedOut) return `no answer within ${Math.round((timeoutMs ?? 0) / 1000)} s`;
  const text = (r.stderr.trim() || r.stdout.trim()).split('\n')[0] ?? '';
  return `exit code ${r.code}${text ? `: ${text}` : ''}`;
}
