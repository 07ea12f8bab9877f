import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@cps/common';
import { accelReader } from '../src/accel.ts';
import { createProvisioner } from '../src/app.ts';
import { DesktopInput } from '../src/desktopInput.ts';
import { EventBus } from '../src/events.ts';
import { connectLibvirt, type Hypervisor } from '../src/hypervisor.ts';
import { probeMemoryCapMode } from '../src/memoryCap.ts';
import { OwnerFirst } from '../src/ownerFirst.ts';
import { OwnerSampler, xIdleSec } from '../src/ownerSampler.ts';
import { ownerSchema } from '../src/sharePolicy.ts';
import { nextEvent } from './vm-event-reader.ts';

// The owner's desktop, on a virtual X display of this test's own (Xvfb): a key pressed there
// (xdotool, through XTEST as a VNC server's input would be) suspends a real guest at once.
const uri = process.env.CPS_LIBVIRT_URI ?? 'qemu:///system';
const dataDir = resolve(process.env.CPS_DATA_DIR ?? '/var/lib/cps');
const image = join(dataDir, 'images', 'tiny');
const taskId = `t-${randomBytes(4).toString('hex')}`;
const domain = `cps-${taskId}`;
const virsh = (...args: string[]) => execFileSync('virsh', ['-c', uri, ...args], { encoding: 'utf8', timeout: 30_000 });
// A display number no other X server here holds; only this run's Xvfb is stopped afterwards.
const displayNo = (() => {
  for (let n = 90 + Math.floor(Math.random() * 400); ; n++) if (!existsSync(`/tmp/.X11-unix/X${n}`) && !existsSync(`/tmp/.X${n}-lock`)) return n;
})();
const display = `:${displayNo}`;
// CPU load cannot suspend here (grace of an hour), nor sampled idle time (0 s): only the input event can.
const thresholds = ownerSchema.parse({ graceSec: 3600, desktopIdleSec: 0, resumeAfterSec: 2, sampleSec: 0.5 });

let hv: Hypervisor;
let owner: OwnerFirst;
let input: DesktopInput;
let xvfb: ChildProcess | undefined;
let app: ReturnType<typeof createProvisioner>['app'];
const log = createLogger('provisioner-slow', 'silent');

beforeAll(async () => {
  if (!existsSync(join(image, 'vmlinuz'))) throw new Error(`no tiny image in ${image}: run scripts/build-tiny-image.sh first`);
  xvfb = spawn('Xvfb', [display, '-screen', '0', '640x480x24', '-nolisten', 'tcp'], { stdio: 'ignore' });
  const env = { ...process.env, DISPLAY: display };
  for (let i = 0; i < 100 && !existsSync(`/tmp/.X11-unix/X${displayNo}`); i++) await new Promise((r) => setTimeout(r, 100));
  expect(existsSync(`/tmp/.X11-unix/X${displayNo}`), 'Xvfb did not start').toBe(true);
  hv = await connectLibvirt(uri);
  const events = new EventBus();
  const p = createProvisioner({ hypervisor: hv, dataDir, accelerator: accelReader(dataDir, log), memoryCap: probeMemoryCapMode(), events, ownerBusy: () => owner?.busy ?? false, log });
  app = p.app;
  owner = new OwnerFirst({ sampler: new OwnerSampler({ desktopIdleSec: () => xIdleSec(env) }), thresholds, vms: p.vms, lifecycle: p.lifecycle, events, log });
  input = new DesktopInput({ display, onInput: () => void owner.input(), timers: { setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout) }, log, retryMs: 200 });
});

afterAll(async () => {
  input?.close();
  await owner?.stop();
  await hv?.remove(domain).catch(() => undefined);
  await hv?.close();
  xvfb?.kill('SIGTERM');
  rmSync(join(dataDir, 'logs', `${taskId}.serial`), { force: true });
});

describe("owner first: the owner's hand on a real host", () => {
  it('a key pressed on the desktop suspends the running guest at once; idle again, it resumes', async () => {
    const meta = JSON.parse(readFileSync(join(image, 'image.json'), 'utf8')) as { cmdline: string };
    const put = await app.request(`/vms/${taskId}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'owner input', vcpus: 1, memoryMiB: 128, disks: [], boot: { kind: 'kernel', kernel: join(image, 'vmlinuz'), initrd: join(image, 'initrd.img'), cmdline: meta.cmdline } }),
    });
    expect(put.status, await put.clone().text()).toBe(201);
    const reader = (await app.request('/events')).body!.getReader();
    owner.start();
    input.start();
    // xinput reports nothing until it has connected and selected the events.
    await new Promise((r) => setTimeout(r, 1000));
    expect(virsh('domstate', domain).trim()).toBe('running');

    const pressedAt = Date.now();
    execFileSync('xdotool', ['key', 'a'], { env: { ...process.env, DISPLAY: display } });
    const busy = await nextEvent(reader, taskId, 'owner-busy', 20_000);
    expect(busy.detail).toBe('suspended: desktop input');
    expect(virsh('domstate', domain).trim()).toBe('paused');
    // For the report (the bench's fault figures): noise on a shared machine makes it no assertion.
    console.info(`owner first: suspended ${Date.parse(busy.at) - pressedAt} ms after a key press (grace for CPU ${thresholds.graceSec} s)`);

    const idle = await nextEvent(reader, taskId, 'owner-idle', 30_000);
    expect(idle.state).toBe('running');
    expect(virsh('domstate', domain).trim()).toBe('running');
    await reader.cancel();
    expect((await app.request(`/vms/${taskId}`, { method: 'DELETE' })).status).toBe(204);
  });
});
