import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@cps/common';
import { accelReader } from '../src/accel.ts';
import { createApp } from '../src/app.ts';
import { connectLibvirt, type Hypervisor } from '../src/hypervisor.ts';
import { probeMemoryCapMode } from '../src/memoryCap.ts';
import { until } from '../../../tests/helpers/until.ts';

// A real tiny guest through suspend, resume, checkpoint, destroy and restore: its serial counter
// must go on from where it stopped instead of starting again.
const uri = process.env.CPS_LIBVIRT_URI ?? 'qemu:///system';
const dataDir = resolve(process.env.CPS_DATA_DIR ?? '/var/lib/cps');
const image = join(dataDir, 'images', 'tiny');
const taskId = `t-${randomBytes(4).toString('hex')}`;
const domain = `cps-${taskId}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const virsh = (...args: string[]) => execFileSync('virsh', ['-c', uri, ...args], { encoding: 'utf8', timeout: 30_000 });

let hv: Hypervisor;
let app: ReturnType<typeof createApp>;

const serial = async () => (await app.request(`/vms/${taskId}/serial`)).text();
const ticks = (log: string) => [...log.matchAll(/cps-guest: tick (\d+)/g)].map((m) => Number(m[1]));
// The serial log last read, for the message when a tick does not come.
let lastLog = '';
const lastTick = async () => {
  lastLog = await serial();
  return Math.max(0, ...ticks(lastLog));
};
const waitForTick = (above: number): Promise<number> => until(`a tick above ${above} in the serial log`, lastTick, (t) => t > above, 60_000, () => lastLog);
const post = (op: string, body?: unknown) =>
  app.request(`/vms/${taskId}/${op}`, {
    method: 'POST',
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });

beforeAll(async () => {
  if (!existsSync(join(image, 'vmlinuz'))) throw new Error(`no tiny image in ${image}: run scripts/build-tiny-image.sh first`);
  hv = await connectLibvirt(uri);
  const log = createLogger('provisioner-slow', 'silent');
  app = createApp({ hypervisor: hv, dataDir, accelerator: accelReader(dataDir, log), memoryCap: probeMemoryCapMode(), log });
});

afterAll(async () => {
  await hv?.remove(domain).catch(() => undefined);
  await hv?.close();
  rmSync(join(dataDir, 'checkpoints', taskId), { recursive: true, force: true });
  rmSync(join(dataDir, 'logs', `${taskId}.serial`), { force: true });
});

describe('the lifecycle of a real guest under QEMU', () => {
  it('boots, suspends, resumes, checkpoints, is destroyed, and restores where it stopped', async () => {
    const meta = JSON.parse(readFileSync(join(image, 'image.json'), 'utf8')) as { cmdline: string };
    const spec = JSON.stringify({
      name: 'lifecycle',
      vcpus: 1,
      memoryMiB: 128,
      disks: [],
      boot: { kind: 'kernel', kernel: join(image, 'vmlinuz'), initrd: join(image, 'initrd.img'), cmdline: meta.cmdline },
    });
    const putSpec = () => app.request(`/vms/${taskId}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: spec });
    const put = await putSpec();
    expect(put.status, await put.clone().text()).toBe(201);
    const password = (await put.clone().json()).console.vnc.password;
    expect(password).toMatch(/^[A-Za-z0-9]{8}$/);
    await waitForTick(1);

    const paused = await post('suspend');
    expect(paused.status).toBe(200);
    expect((await paused.json()).state).toBe('paused');
    expect(virsh('domstate', domain).trim()).toBe('paused');
    const atPause = await lastTick();
    await sleep(2500);
    // A paused guest gets no CPU: not a single tick more (one may still be on its way through virtlogd).
    expect(await lastTick()).toBeLessThanOrEqual(atPause + 1);

    expect((await (await post('resume')).json()).state).toBe('running');
    const resumed = await waitForTick(atPause + 1);

    const cpRes = await post('checkpoint');
    const cp = await cpRes.json();
    expect(cpRes.status, JSON.stringify(cp)).toBe(200);
    expect(cp).toMatchObject({ taskId, path: join(dataDir, 'checkpoints', taskId, 'state.sav'), running: false, memoryMiB: 128 });
    expect(cp.sizeBytes).toBeGreaterThan(1024 * 1024);
    expect(virsh('list', '--all', '--name').split('\n').map((l) => l.trim())).not.toContain(domain);
    const atCheckpoint = await lastTick();
    expect(atCheckpoint).toBeGreaterThanOrEqual(resumed);

    // Destroying a checkpointed task's guest is a no-op; the checkpoint stays.
    expect((await app.request(`/vms/${taskId}`, { method: 'DELETE' })).status).toBe(204);
    expect((await app.request(`/vms/${taskId}/checkpoint`)).status).toBe(200);
    await sleep(1500);
    expect(await lastTick()).toBe(atCheckpoint);

    const restored = await post('restore');
    expect(restored.status, await restored.clone().text()).toBe(201);
    expect((await restored.json()).state).toBe('running');
    // The restored guest keeps its VNC password, and is held to its share again.
    expect((await (await app.request(`/vms/${taskId}`)).json()).console.vnc.password).toBe(password);
    expect(virsh('memtune', domain)).toMatch(/hard_limit\s*:\s*524288/);
    expect(virsh('schedinfo', domain)).toMatch(/vcpu_quota\s*:\s*100000/);
    // It keeps its default user-mode NIC, and its spec digest: the same PUT again is the same guest.
    expect(virsh('dumpxml', domain)).toContain("<interface type='user'>");
    expect((await putSpec()).status).toBe(200);
    const after = await waitForTick(atCheckpoint + 1);
    expect(after).toBeGreaterThan(atCheckpoint);

    // One boot only, and the counter never went back: the restored guest went on where it stopped.
    const log = await serial();
    expect(log.match(/cps-guest: up/g)).toHaveLength(1);
    const all = ticks(log);
    for (let i = 1; i < all.length; i++) expect(all[i]).toBeGreaterThan(all[i - 1]!);
    expect(all).toContain(atCheckpoint + 1);

    // A checkpoint in passing (what periodic checkpoints take): the guest runs on.
    const passing = await post('checkpoint', { leaveRunning: true });
    expect(passing.status, await passing.clone().text()).toBe(200);
    expect((await passing.json()).running).toBe(true);
    expect(virsh('domstate', domain).trim()).toBe('running');
    expect(virsh('memtune', domain)).toMatch(/hard_limit\s*:\s*524288/);
    await waitForTick((await lastTick()) + 1);

    expect((await app.request(`/vms/${taskId}`, { method: 'DELETE' })).status).toBe(204);
  });
});
