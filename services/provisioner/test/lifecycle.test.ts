import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@cps/common';
import { provisionerClient, viaApp } from '@cps/openapi';
import { createApp } from '../src/app.ts';
import { EventBus } from '../src/events.ts';
import { connectLibvirt, type Hypervisor } from '../src/hypervisor.ts';

// Suspend, resume, shutdown, checkpoint and restore against libvirt's test:///default driver.
let hv: Hypervisor;
let app: ReturnType<typeof createApp>;
const events = new EventBus();
const dataDir = mkdtempSync(join(tmpdir(), 'cps-prov-life-'));
const made = new Set<string>();
const newTask = () => {
  const id = `t-${randomBytes(4).toString('hex')}`;
  made.add(id);
  return id;
};
const spec = {
  name: 'life',
  vcpus: 1,
  memoryMiB: 256,
  disks: [],
  boot: { kind: 'kernel', kernel: join(dataDir, 'images/tiny/vmlinuz'), initrd: join(dataDir, 'images/tiny/initrd.img') },
};
const json = { 'content-type': 'application/json' };
const put = (id: string) => app.request(`/vms/${id}`, { method: 'PUT', headers: json, body: JSON.stringify(spec) });
const post = (id: string, op: string, body?: unknown) =>
  app.request(`/vms/${id}/${op}`, { method: 'POST', ...(body === undefined ? {} : { headers: json, body: JSON.stringify(body) }) });

beforeAll(async () => {
  hv = await connectLibvirt('test:///default');
  app = createApp({
    hypervisor: hv,
    dataDir,
    accelerator: async () => 'tcg',
    share: { vcpus: 2, memoryMiB: 512, diskMiB: 100 },
    log: createLogger('provisioner-test', 'silent'),
    events,
  });
});

afterEach(async () => {
  for (const id of made) await hv.remove(`cps-${id}`);
  made.clear();
});

afterAll(async () => {
  await hv.close();
});

describe('guest lifecycle over the API (test:///default)', () => {
  it('suspends and resumes, idempotently, and records both as events', async () => {
    const id = newTask();
    expect((await put(id)).status).toBe(201);
    for (let i = 0; i < 2; i++) {
      const r = await post(id, 'suspend');
      expect(r.status).toBe(200);
      expect((await r.json()).state).toBe('paused');
    }
    expect((await (await app.request(`/vms/${id}`)).json()).state).toBe('paused');
    for (let i = 0; i < 2; i++) {
      const r = await post(id, 'resume');
      expect(r.status).toBe(200);
      expect((await r.json()).state).toBe('running');
    }
    const mine = events.recent().filter((e) => e.taskId === id).map((e) => e.kind);
    expect(mine).toEqual(['suspended', 'resumed']);
  });

  it('answers 404 for suspend/resume/restore of a task with no guest, 204 for shutdown', async () => {
    const id = newTask();
    for (const op of ['suspend', 'resume', 'restore', 'checkpoint']) {
      const r = await post(id, op);
      expect([op, r.status]).toEqual([op, 404]);
      expect((await r.json()).type).toBe('urn:cps:problem:not-found');
    }
    expect((await post(id, 'shutdown')).status).toBe(204);
    expect((await app.request(`/vms/${id}/checkpoint`)).status).toBe(404);
  });

  it('checkpoints (the guest stops and frees its share), restores (201, then 200), and keeps the file', async () => {
    const id = newTask();
    expect((await put(id)).status).toBe(201);
    const before = (await (await app.request('/capacity')).json()).free;

    const r = await post(id, 'checkpoint');
    expect(r.status).toBe(200);
    const cp = await r.json();
    expect(cp).toMatchObject({ taskId: id, path: join(dataDir, 'checkpoints', id, 'state.sav'), vcpus: 1, memoryMiB: 256, running: false });
    expect(cp.sizeBytes).toBeGreaterThan(0);
    expect(Date.parse(cp.createdAt)).not.toBeNaN();
    expect((await app.request(`/vms/${id}`)).status).toBe(404);
    expect((await (await app.request('/capacity')).json()).free.memoryMiB).toBe(before.memoryMiB + 256);
    // No staging files are left beside the checkpoint.
    expect(readdirSync(join(dataDir, 'checkpoints', id)).sort()).toEqual(['checkpoint.json', 'state.sav']);

    // Repeated after the guest stopped: the same checkpoint, not an error.
    const again = await post(id, 'checkpoint');
    expect(again.status).toBe(200);
    expect((await again.json()).createdAt).toBe(cp.createdAt);

    const restored = await post(id, 'restore');
    expect(restored.status).toBe(201);
    expect(await restored.json()).toMatchObject({ taskId: id, state: 'running', vcpus: 1, memoryMiB: 256 });
    expect((await post(id, 'restore')).status).toBe(200);
    expect((await (await app.request(`/vms/${id}/checkpoint`)).json()).running).toBe(true);

    expect((await app.request(`/vms/${id}/checkpoint`, { method: 'DELETE' })).status).toBe(204);
    expect((await app.request(`/vms/${id}/checkpoint`, { method: 'DELETE' })).status).toBe(204);
    expect(existsSync(join(dataDir, 'checkpoints', id))).toBe(false);
    expect((await app.request(`/vms/${id}/checkpoint`)).status).toBe(404);
  });

  it.each([
    ['not JSON', '{"taskId":'],
    ['another task\'s', null],
    ['a negative memory', JSON.stringify({ taskId: 'X', createdAt: 'now', vcpus: 1, memoryMiB: -5 })],
    ['an array', '[]'],
  ])('treats a checkpoint.json that is %s as no checkpoint', async (_, text) => {
    const id = newTask();
    const dir = join(dataDir, 'checkpoints', id);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'state.sav'), 'x');
    const meta = text ?? JSON.stringify({ taskId: 't-someoneelse', createdAt: new Date().toISOString(), vcpus: 1, memoryMiB: 64 });
    writeFileSync(join(dir, 'checkpoint.json'), meta.replace('"X"', JSON.stringify(id)));
    expect((await app.request(`/vms/${id}/checkpoint`)).status).toBe(404);
    expect((await post(id, 'restore')).status).toBe(404);
  });

  it('takes a checkpoint in passing with leaveRunning: the guest runs on', async () => {
    const id = newTask();
    expect((await put(id)).status).toBe(201);
    const r = await post(id, 'checkpoint', { leaveRunning: true });
    expect(r.status).toBe(200);
    expect((await r.json()).running).toBe(true);
    expect((await (await app.request(`/vms/${id}`)).json()).state).toBe('running');
  });

  it('refuses to restore a checkpoint that no longer fits (409 insufficient-capacity)', async () => {
    const a = newTask();
    const b = newTask();
    expect((await put(a)).status).toBe(201);
    expect((await post(a, 'checkpoint')).status).toBe(200);
    // While a is checkpointed its share is free: b takes it, and two more 256 MiB guests would not fit.
    expect((await put(b)).status).toBe(201);
    const c = newTask();
    expect((await put(c)).status).toBe(201);
    const r = await post(a, 'restore');
    expect(r.status).toBe(409);
    expect((await r.json()).type).toBe('urn:cps:problem:insufficient-capacity');
    expect((await app.request(`/vms/${a}`)).status).toBe(404);
  });

  it('rejects a checkpoint body with unknown fields or bad JSON', async () => {
    const id = newTask();
    expect((await put(id)).status).toBe(201);
    expect((await post(id, 'checkpoint', { leaveRunning: 'yes' })).status).toBe(400);
    expect((await post(id, 'checkpoint', { evil: 1 })).status).toBe(400);
    const bad = await app.request(`/vms/${id}/checkpoint`, { method: 'POST', headers: json, body: '{"leave' });
    expect(bad.status).toBe(400);
    expect((await (await app.request(`/vms/${id}`)).json()).state).toBe('running');
  });

  it('shuts a guest down (202) and it is gone', async () => {
    const id = newTask();
    expect((await put(id)).status).toBe(201);
    const r = await post(id, 'shutdown');
    expect(r.status).toBe(202);
    expect((await r.json()).taskId).toBe(id);
    // The test driver powers off at once; a real guest takes its time.
    expect((await app.request(`/vms/${id}`)).status).toBe(404);
  });

  it('never touches a cps-* domain it did not make', async () => {
    const id = newTask();
    await hv.create(`<domain type='test'><name>cps-${id}</name><memory unit='MiB'>64</memory><os><type>hvm</type></os></domain>`);
    for (const op of ['suspend', 'resume', 'shutdown', 'checkpoint']) {
      const r = await post(id, op);
      expect([op, r.status]).toEqual([op, 409]);
    }
    expect((await hv.inspect(`cps-${id}`))?.state).toBe('running');
  });

  it('works through the typed client', async () => {
    const client = provisionerClient(viaApp(app));
    const id = newTask();
    const path = { params: { path: { taskId: id } } };
    await client.PUT('/vms/{taskId}', { ...path, body: spec as never });
    expect((await client.POST('/vms/{taskId}/suspend', path)).data?.state).toBe('paused');
    expect((await client.POST('/vms/{taskId}/checkpoint', { ...path, body: {} })).data?.running).toBe(false);
    expect((await client.POST('/vms/{taskId}/restore', path)).response.status).toBe(201);
    expect((await client.GET('/vms/{taskId}', path)).data?.taskId).toBe(id);
  });
});
