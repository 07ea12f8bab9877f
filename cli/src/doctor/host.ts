import type { Check } from './types.ts';
import { whyFailed } from './types.ts';
import { planNode, portKey, serviceNames } from '../up/services.ts';

/** The repo's engines field asks for 20.19; Debian's Node 18 runs the services too (container image). */
export const checkNode: Check = async (d) => {
  const m = /^v?(\d+)\.(\d+)/.exec(d.nodeVersion);
  const major = m ? Number(m[1]) : 0;
  const minor = m ? Number(m[2]) : 0;
  const name = 'node';
  if (major > 20 || (major === 20 && minor >= 19)) return { name, status: 'ok', detail: `Node ${d.nodeVersion}` };
  if (major >= 18) return { name, status: 'warn', detail: `Node ${d.nodeVersion} is older than the 20.19 CPS is tested on`, hint: 'install Node 20 LTS (e.g. the nodesource nodejs package)' };
  return { name, status: 'FAIL', detail: `Node ${d.nodeVersion} is too old`, hint: 'install Node 20 LTS' };
};

export const checkQemuImg: Check = async (d) => {
  const r = await d.run('qemu-img', ['--version'], { timeoutMs: 5_000 });
  if (r.code === 0) return { name: 'qemu-img', status: 'ok', detail: r.stdout.split('\n')[0]!.trim() };
  return { name: 'qemu-img', status: 'FAIL', detail: `qemu-img does not run: ${whyFailed(r, 5_000)}`, hint: 'apt-get install qemu-utils' };
};

const GiB = 1024 ** 3;

export const checkDisk: Check = async (d) => {
  const name = 'disk';
  let free: number;
  try {
    free = await d.freeBytes(d.dataDir);
  } catch (err) {
    return { name, status: 'FAIL', detail: `cannot see free space for ${d.dataDir}: ${(err as Error).message}`, hint: 'create the data dir or set CPS_DATA_DIR' };
  }
  const detail = `${(free / GiB).toFixed(1)} GiB free for ${d.dataDir}`;
  if (free < 0.5 * GiB) return { name, status: 'FAIL', detail, hint: 'free space or point CPS_DATA_DIR at a bigger disk; task disks need room' };
  if (free < 5 * GiB) return { name, status: 'warn', detail: `${detail} (less than 5 GiB)`, hint: 'task disks need room; free space or move CPS_DATA_DIR' };
  return { name, status: 'ok', detail };
};

/** The five ports must be free for `cps up`, or already answering as the CPS service meant to be there. */
export const checkPorts: Check = async (d) => {
  const name = 'ports';
  const { ports } = planNode(d.env, {});
  const problems: string[] = [];
  const cps: string[] = [];
  for (const svc of serviceNames) {
    const port = ports[portKey[svc]];
    const use = await d.probePort(port);
    if (use.state === 'cps') (use.service === svc ? cps : problems).push(`${port} ${use.service === svc ? `(${svc} running)` : `is used by CPS ${use.service}, not ${svc}`}`);
    else if (use.state === 'other') problems.push(`${port} (${svc}) is used by something else: ${use.detail}`);
  }
  const list = serviceNames.map((s) => ports[portKey[s]]).join(', ');
  if (problems.length) return { name, status: 'FAIL', detail: problems.join('; '), hint: 'stop what holds the port (ss -ltnp) or move CPS with CPS_*_PORT / cps up --ports-base' };
  if (cps.length) return { name, status: 'ok', detail: `${list}: ${cps.length === 5 ? 'CPS is running' : `free, except ${cps.join(', ')}`}` };
  return { name, status: 'ok', detail: `${list} free` };
};
