import { execFile } from 'node:child_process';
import { access, readFile, statfs } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { dirname } from 'node:path';
import { coordinatorClient } from '@cps/openapi';
import type { DoctorDeps, PortUse, Runner } from './types.ts';

/** The real machine behind DoctorDeps. */
export const runCommand: Runner = (cmd, args, opts = {}) =>
  new Promise((resolve) => {
    execFile(cmd, args, { timeout: opts.timeoutMs ?? 10_000, killSignal: 'SIGKILL', env: opts.env ?? process.env, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { killed?: boolean; code?: unknown }) | null;
      if (e?.code === 'ENOENT') return resolve({ code: null, stdout: '', stderr: '', error: `${cmd}: not found` });
      if (e?.killed) return resolve({ code: null, stdout, stderr, timedOut: true });
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, stdout, stderr });
    });
  });

async function freeBytes(path: string): Promise<number> {
  // The data dir may not exist yet; its nearest existing parent holds it once made.
  for (let p = path; ; p = dirname(p)) {
    try {
      const s = await statfs(p);
      return s.bavail * s.bsize;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || p === dirname(p)) throw err;
    }
  }
}

function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port, timeout: 1_000 });
    const done = (v: boolean) => (s.destroy(), resolve(v));
    s.once('connect', () => done(true));
    s.once('timeout', () => done(true)); // something holds the port but does not accept in time
    s.once('error', () => done(false));
  });
}

async function probePort(port: number): Promise<PortUse> {
  if (!(await connects(port))) return { state: 'free' };
  try {
    // Every CPS service answers /healthz with the same Health shape and names itself in it.
    const r = await coordinatorClient({ baseUrl: `http://127.0.0.1:${port}` }).GET('/healthz', { signal: AbortSignal.timeout(2_000) });
    const body = (r.data ?? r.error) as { service?: unknown } | undefined;
    if (typeof body?.service === 'string') return { state: 'cps', service: body.service };
    return { state: 'other', detail: `answers /healthz with HTTP ${r.response.status} but is not CPS` };
  } catch (err) {
    return { state: 'other', detail: `not an HTTP service (${(err as Error).message})` };
  }
}

async function libvirtBinding(uri: string): Promise<string> {
  const { Hypervisor } = await import('@unraid/libvirt');
  const hv = new Hypervisor({ uri });
  await hv.connectOpen();
  try {
    const info = await hv.nodeGetInfo();
    return `host has ${info.cpus} CPUs`;
  } finally {
    await hv.connectClose();
  }
}

export function machineDeps(env: NodeJS.ProcessEnv, dataDir: string): DoctorDeps {
  return {
    run: runCommand,
    readFile: (p) => readFile(p, 'utf8'),
    exists: (p) => access(p).then(() => true, () => false),
    freeBytes,
    probePort,
    libvirtBinding,
    nodeVersion: process.version,
    now: () => Date.now(),
    dataDir,
    env,
  };
}
