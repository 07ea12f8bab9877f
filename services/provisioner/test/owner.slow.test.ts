import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@cps/common';
import { accelReader } from '../src/accel.ts';
import { createProvisioner } from '../src/app.ts';
import { EventBus } from '../src/events.ts';
import { nextEvent } from './vm-event-reader.ts';
import { connectLibvirt, type Hypervisor } from '../src/hypervisor.ts';
import { probeMemoryCapMode } from '../src/memoryCap.ts';
import { OwnerFirst } from '../src/ownerFirst.ts';
import { OwnerSampler } from '../src/ownerSampler.ts';
import { ownerSchema } from '../src/sharePolicy.ts';

// The owner's own load (a busy loop outside any guest) suspends a real guest; when it stops,
// the guest resumes. The events are read from GET /events.
const uri = process.env.CPS_LIBVIRT_URI ?? 'qemu:///system';
const dataDir = resolve(process.env.CPS_DATA_DIR ?? '/var/lib/cps');
const image = join(dataDir, 'images', 'tiny');
const taskId = `t-${randomBytes(4).toString('hex')}`;
const domain = `cps-${taskId}`;
const virsh = (...args: string[]) => execFileSync('virsh', ['-c', uri, ...args], { encoding: 'utf8', timeout: 30_000 });
// One core of a busy loop is 1/nproc of the host: the threshold sits below that.
const cores = Number(execFileSync('nproc', { encoding: 'utf8' }).trim());
const thresholds = ownerSchema.parse({ cpuBusyPercent: Math.max(5, Math.floor(60 / cores)), graceSec: 2, resumeAfterSec: 2, sampleSec: 0.5 });

let hv: Hypervisor;
let owner: OwnerFirst;
let app: ReturnType<typeof createProvisioner>['app'];
let burner: ChildProcess | undefined;

beforeAll(async () => {
  if (!existsSync(join(image, 'vmlinuz'))) throw new Error(`no tiny image in ${image}: run scripts/build-tiny-image.sh first`);
  hv = await connectLibvirt(uri);
  const log = createLogger('provisioner-slow', 'silent');
  const events = new EventBus();
  const p = createProvisioner({
    hypervisor: hv,
    dataDir,
    accelerator: accelReader(dataDir, log),
    memoryCap: probeMemoryCapMode(),
    events,
    ownerBusy: () => owner?.busy ?? false,
    log,
  });
  app = p.app;
  owner = new OwnerFirst({ sampler: new OwnerSampler(), thresholds, vms: p.vms, lifecycle: p.lifecycle, events, log });
});

afterAll(async () => {
  burner?.kill('SIGKILL');
  await owner?.stop();
  await hv?.remove(domain).catch(() => undefined);
  await hv?.close();
  rmSync(join(dataDir, 'logs', `${taskId}.serial`), { force: true });
});

describe('owner first on a real host', () => {
  it('suspends the guest while the owner keeps the CPU busy, and resumes it after', async () => {
    const meta = JSON.parse(readFileSync(join(image, 'image.json'), 'utf8')) as { cmdline: string };
    const put = await app.request(`/vms/${taskId}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'owner first',
        vcpus: 1,
        memoryMiB: 128,
        disks: [],
        boot: { kind: 'kernel', kernel: join(image, 'vmlinuz'), initrd: join(image, 'initrd.img'), cmdline: meta.cmdline },
      }),
    });
    expect(put.status, await put.clone().text()).toBe(201);
    const reader = (await app.request('/events')).body!.getReader();
    owner.start();

    burner = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
    const startedAt = Date.now();
    const busy = await nextEvent(reader, taskId, 'owner-busy', 30_000);
    expect(busy.detail).toMatch(/^suspended: owner CPU \d+% > \d+%/);
    expect(virsh('domstate', domain).trim()).toBe('paused');
    console.info(`owner first: suspended ${Date.parse(busy.at) - startedAt} ms after the load began (grace ${thresholds.graceSec} s)`);
    expect((await (await app.request('/capacity')).json()).lending).toMatchObject({ open: false, ownerBusy: true });

    burner.kill('SIGKILL');
    const stoppedAt = Date.now();
    const idle = await nextEvent(reader, taskId, 'owner-idle', 60_000);
    expect(idle.state).toBe('running');
    expect(virsh('domstate', domain).trim()).toBe('running');
    console.info(`owner first: resumed ${Date.parse(idle.at) - stoppedAt} ms after the load ended (resume after ${thresholds.resumeAfterSec} s)`);
    await reader.cancel();
    expect((await app.request(`/vms/${taskId}`, { method: 'DELETE' })).status).toBe(204);
  });
});
