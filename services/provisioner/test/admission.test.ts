import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@cps/common';
import { createApp, type AppDeps } from '../src/app.ts';
import { connectLibvirt, type Hypervisor } from '../src/hypervisor.ts';

// The donor's share, enforced at admission and shown to discovery through GET /capacity.
let hv: Hypervisor;
const dataDir = mkdtempSync(join(tmpdir(), 'cps-prov-admit-'));
const made = new Set<string>();
const newTask = () => {
  const id = `t-${randomBytes(4).toString('hex')}`;
  made.add(id);
  return id;
};
const spec = (memoryMiB: number) => ({
  name: 'admission',
  vcpus: 1,
  memoryMiB,
  disks: [],
  boot: { kind: 'kernel', kernel: join(dataDir, 'images/tiny/vmlinuz'), initrd: join(dataDir, 'images/tiny/initrd.img') },
});
const appWith = (over: Partial<AppDeps>) =>
  createApp({ hypervisor: hv, dataDir, accelerator: async () => 'tcg', log: createLogger('t', 'silent'), ...over });
const put = (app: ReturnType<typeof createApp>, id: string, memoryMiB: number) =>
  app.request(`/vms/${id}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(spec(memoryMiB)) });

beforeAll(async () => {
  hv = await connectLibvirt('test:///default');
});
afterEach(async () => {
  for (const id of made) await hv.remove(`cps-${id}`);
  made.clear();
});
afterAll(async () => {
  await hv.close();
});

describe('admission against the share policy', () => {
  it('with a share of 1 vCPU and 512 MiB, takes one 512 MiB task and refuses a second with insufficient-capacity', async () => {
    const app = appWith({ share: { vcpus: 1, memoryMiB: 512, hours: [] } });
    expect((await put(app, newTask(), 512)).status).toBe(201);
    const second = newTask();
    const r = await put(app, second, 512);
    expect(r.status).toBe(409);
    const p = await r.json();
    expect(p).toMatchObject({ type: 'urn:cps:problem:insufficient-capacity', short: ['vcpus', 'memoryMiB'] });
    expect(p.detail).toBe('not enough free capacity on this peer (vcpus: want 1, free 0; memoryMiB: want 512, free 0)');
    expect(await hv.inspect(`cps-${second}`)).toBeUndefined();
  });

  it('reports zero free and refuses every task outside the lending hours, and lends again inside them', async () => {
    let now = new Date(2026, 10, 25, 12, 0);
    const app = appWith({ share: { vcpus: 2, memoryMiB: 1024, hours: ['18:00-08:00'] }, now: () => now });
    const closed = await (await app.request('/capacity')).json();
    expect(closed.free).toEqual({ vcpus: 0, memoryMiB: 0, diskMiB: 0 });
    expect(closed.total).toMatchObject({ vcpus: 2, memoryMiB: 1024 });
    expect(closed.lending).toEqual({ open: false, hours: ['18:00-08:00'], ownerBusy: false });
    const r = await put(app, newTask(), 128);
    expect(r.status).toBe(409);
    expect((await r.json()).detail).toBe('this peer lends nothing now: outside the lending hours (18:00-08:00)');

    now = new Date(2026, 10, 25, 19, 30);
    const open = await (await app.request('/capacity')).json();
    expect(open.free).toMatchObject({ vcpus: 2, memoryMiB: 1024 });
    expect(open.lending.open).toBe(true);
    expect((await put(app, newTask(), 128)).status).toBe(201);
  });

  it('lends nothing while the owner is busy', async () => {
    const app = appWith({ share: { vcpus: 2, memoryMiB: 1024 }, ownerBusy: () => true });
    const cap = await (await app.request('/capacity')).json();
    expect(cap.free.vcpus).toBe(0);
    expect(cap.lending).toMatchObject({ open: false, ownerBusy: true });
    const r = await put(app, newTask(), 128);
    expect((await r.json()).detail).toBe('this peer lends nothing now: its owner is using it');
  });
});
