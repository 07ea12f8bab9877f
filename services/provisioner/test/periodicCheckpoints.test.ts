import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@cps/common';
import { createProvisioner } from '../src/app.ts';
import { connectLibvirt, type Hypervisor } from '../src/hypervisor.ts';
import { PeriodicCheckpoints } from '../src/periodicCheckpoints.ts';

// Periodic checkpoints over libvirt's test driver, on a hand-driven clock.
let hv: Hypervisor;
const dataDir = mkdtempSync(join(tmpdir(), 'cps-prov-periodic-'));
const ids = [0, 1].map(() => `t-${randomBytes(4).toString('hex')}`);
const spec = (every?: number) => ({
  name: 'periodic',
  vcpus: 1,
  memoryMiB: 64,
  disks: [],
  boot: { kind: 'kernel', kernel: join(dataDir, 'images/k'), initrd: join(dataDir, 'images/i') },
  ...(every ? { checkpointEverySec: every } : {}),
});

beforeAll(async () => {
  hv = await connectLibvirt('test:///default');
});
afterAll(async () => {
  for (const id of ids) await hv.remove(`cps-${id}`);
  await hv.close();
});

describe('periodic checkpoints', () => {
  it('checkpoints a guest that asked for it when due, leaves it running, and leaves other guests alone', async () => {
    let nowMs = Date.parse('2026-11-25T20:00:00Z');
    const log = createLogger('t', 'silent');
    const p = createProvisioner({ hypervisor: hv, dataDir, accelerator: async () => 'tcg', share: { vcpus: 4, memoryMiB: 1024 }, log });
    const [a, b] = ids as [string, string];
    const put = (id: string, body: unknown) =>
      p.app.request(`/vms/${id}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const made = await put(a, spec(60));
    expect(made.status).toBe(201);
    expect((await made.json()).checkpointEverySec).toBe(60);
    expect((await put(b, spec())).status).toBe(201);

    const periodic = new PeriodicCheckpoints({ vms: p.vms, lifecycle: p.lifecycle, checkpoints: p.checkpoints, log, now: () => nowMs });
    await periodic.tick(); // first seen now
    nowMs += 59_000;
    await periodic.tick();
    expect(await p.checkpoints.read(a)).toBeUndefined();
    nowMs += 2_000;
    await periodic.tick();
    const first = await p.checkpoints.read(a);
    expect(first).toBeDefined();
    expect((await p.vms.get(a)).state).toBe('running');
    expect(await p.checkpoints.read(b)).toBeUndefined();
    expect(p.events.recent().filter((e) => e.taskId === a).map((e) => `${e.kind}:${e.detail}`)).toEqual(['checkpointed:left running']);

    // The next one is counted from the checkpoint on disk (its real time), not from the clock here.
    nowMs = Date.parse(first!.createdAt) + 30_000;
    await periodic.tick();
    expect((await p.checkpoints.read(a))!.createdAt).toBe(first!.createdAt);
    // A paused guest waits.
    await p.lifecycle.suspend(a);
    nowMs = Date.parse(first!.createdAt) + 120_000;
    await periodic.tick();
    expect((await p.checkpoints.read(a))!.createdAt).toBe(first!.createdAt);
  });

  it('refuses a checkpoint interval out of range', async () => {
    const p = createProvisioner({ hypervisor: hv, dataDir, accelerator: async () => 'tcg', log: createLogger('t', 'silent') });
    for (const every of [5, 0, 1.5, 10_000_000]) {
      const r = await p.app.request(`/vms/t-range`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...spec(), checkpointEverySec: every }) });
      expect(r.status).toBe(400);
    }
  });
});
