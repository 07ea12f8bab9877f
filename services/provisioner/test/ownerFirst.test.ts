import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@cps/common';
import { createProvisioner } from '../src/app.ts';
import { EventBus } from '../src/events.ts';
import { connectLibvirt, type Hypervisor } from '../src/hypervisor.ts';
import { OwnerFirst } from '../src/ownerFirst.ts';
import type { OwnerSample } from '../src/ownerRules.ts';
import { ownerSchema } from '../src/sharePolicy.ts';

// The owner-first monitor over libvirt's test driver, with a scripted owner.
let hv: Hypervisor;
const dataDir = mkdtempSync(join(tmpdir(), 'cps-prov-owner-'));
const ids = [0, 1, 2].map(() => `t-${randomBytes(4).toString('hex')}`);
const spec = {
  name: 'owned',
  vcpus: 1,
  memoryMiB: 64,
  disks: [],
  boot: { kind: 'kernel', kernel: join(dataDir, 'images/k'), initrd: join(dataDir, 'images/i') },
};

beforeAll(async () => {
  hv = await connectLibvirt('test:///default');
});
afterAll(async () => {
  for (const id of ids) await hv.remove(`cps-${id}`);
  await hv.close();
});

describe('OwnerFirst', () => {
  it('suspends every running guest when the owner is busy past the grace, resumes only those, asks to vacate, and lends nothing meanwhile', async () => {
    let sec = 0;
    let cpu = 0;
    const sampler = { sample: async (): Promise<OwnerSample> => ({ atMs: sec * 1000, ownerCpuPercent: cpu, memoryPressurePercent: 0 }) };
    const events = new EventBus();
    let owner: OwnerFirst | undefined;
    const log = createLogger('t', 'silent');
    const p = createProvisioner({
      hypervisor: hv,
      dataDir,
      accelerator: async () => 'tcg',
      share: { vcpus: 8, memoryMiB: 4096 },
      events,
      ownerBusy: () => owner?.busy ?? false,
      log,
    });
    const thresholds = ownerSchema.parse({ cpuBusyPercent: 50, graceSec: 2, resumeAfterSec: 2, vacateAfterSec: 5 });
    owner = new OwnerFirst({ sampler, thresholds, vms: p.vms, lifecycle: p.lifecycle, events, log });
    const [a, b, c] = ids as [string, string, string];
    for (const id of [a, b, c]) {
      const r = await p.app.request(`/vms/${id}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(spec) });
      expect(r.status).toBe(201);
    }
    // The coordinator paused c itself: not the owner's to resume.
    await p.app.request(`/vms/${c}/suspend`, { method: 'POST' });
    const state = async (id: string) => (await p.vms.get(id)).state;
    const step = async (s: number, load: number) => {
      sec = s;
      cpu = load;
      await owner!.tick();
    };

    await step(0, 0); // baseline
    await step(1, 90);
    await step(2, 90);
    expect(await state(a)).toBe('running');
    // Busy, but within the grace: still lending.
    expect(owner.busy).toBe(false);
    await step(3, 90); // busy for 2 s
    expect([await state(a), await state(b)]).toEqual(['paused', 'paused']);
    expect(owner.busy).toBe(true);
    const cap = await (await p.app.request('/capacity')).json();
    expect(cap.free.vcpus).toBe(0);
    expect(cap.lending).toMatchObject({ open: false, ownerBusy: true });

    await step(8, 90); // suspended 5 s
    await step(9, 90);
    await step(10, 5);
    await step(11, 5);
    expect(await state(a)).toBe('paused');
    await step(12, 5); // idle for 2 s
    expect([await state(a), await state(b), await state(c)]).toEqual(['running', 'running', 'paused']);
    expect(owner.busy).toBe(false);

    const kinds = (id: string) => events.recent().filter((e) => e.taskId === id && e.kind.match(/owner|vacate/)).map((e) => e.kind);
    expect(kinds(a)).toEqual(['owner-busy', 'vacate', 'owner-idle']);
    expect(kinds(b)).toEqual(['owner-busy', 'vacate', 'owner-idle']);
    expect(kinds(c)).toEqual([]);
    expect(events.recent().find((e) => e.kind === 'owner-busy')!.detail).toBe('suspended: owner CPU 90% > 50%');
  });

  it("suspends every running guest the moment the owner's desktop has input, without the grace, once for a burst", async () => {
    let sec = 0;
    const sampler = { sample: async (): Promise<OwnerSample> => ({ atMs: sec * 1000, ownerCpuPercent: 0, memoryPressurePercent: 0 }) };
    const events = new EventBus();
    const log = createLogger('t', 'silent');
    const p = createProvisioner({ hypervisor: hv, dataDir, accelerator: async () => 'tcg', share: { vcpus: 8, memoryMiB: 4096 }, events, log });
    const owner = new OwnerFirst({ sampler, thresholds: ownerSchema.parse({ graceSec: 60, resumeAfterSec: 2, desktopIdleSec: 0 }), vms: p.vms, lifecycle: p.lifecycle, events, log, now: () => sec * 1000 });
    const id = `t-${randomBytes(4).toString('hex')}`;
    ids.push(id);
    expect((await p.app.request(`/vms/${id}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(spec) })).status).toBe(201);
    await owner.tick(); // baseline
    sec = 0.4;
    await Promise.all([owner.input(), owner.input(), owner.input()]);
    expect((await p.vms.get(id)).state).toBe('paused');
    expect(owner.busy).toBe(true);
    const mine = events.recent().filter((e) => e.taskId === id && /owner|vacate/.test(e.kind));
    expect(mine.map((e) => [e.kind, e.detail])).toEqual([['owner-busy', 'suspended: desktop input']]);
    // No input since, the desktop idle: resumed after resumeAfterSec as for CPU load.
    for (const s of [1, 2, 3]) {
      sec = s;
      await owner.tick();
    }
    expect((await p.vms.get(id)).state).toBe('running');
  });

  it('keeps going when a sample fails', async () => {
    const sampler = { sample: async (): Promise<OwnerSample> => { throw new Error('no /proc'); } };
    const p = createProvisioner({ hypervisor: hv, dataDir, accelerator: async () => 'tcg', log: createLogger('t', 'silent') });
    const owner = new OwnerFirst({ sampler, thresholds: ownerSchema.parse({}), vms: p.vms, lifecycle: p.lifecycle, events: new EventBus(), log: createLogger('t', 'silent') });
    await owner.tick();
    expect(owner.busy).toBe(false);
  });
});
