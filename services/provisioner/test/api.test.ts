import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@cps/common';
import { provisionerClient, viaApp } from '@cps/openapi';
import { createApp } from '../src/app.ts';
import { connectLibvirt, type Hypervisor } from '../src/hypervisor.ts';

// libvirt's test driver: a real in-process hypervisor with fake guests, shared by this file's tests.
let hv: Hypervisor;
let app: ReturnType<typeof createApp>;
const dataDir = mkdtempSync(join(tmpdir(), 'cps-prov-api-'));
const made = new Set<string>();
const newTask = () => {
  const id = `t-${randomBytes(4).toString('hex')}`;
  made.add(id);
  return id;
};

const spec = (over: Record<string, unknown> = {}) => ({
  name: 'my machine',
  vcpus: 1,
  memoryMiB: 128,
  disks: [] as unknown[],
  boot: { kind: 'kernel', kernel: join(dataDir, 'images/tiny/vmlinuz'), initrd: join(dataDir, 'images/tiny/initrd.img'), cmdline: 'console=ttyS0' },
  ...over,
});

const put = (taskId: string, body: unknown) =>
  app.request(`/vms/${taskId}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });

beforeAll(async () => {
  hv = await connectLibvirt('test:///default');
  app = createApp({
    hypervisor: hv,
    dataDir,
    accelerator: async () => 'tcg',
    share: { vcpus: 3, memoryMiB: 1024, diskMiB: 100 },
    log: createLogger('provisioner-test', 'silent'),
  });
});

afterEach(async () => {
  for (const id of made) await hv.remove(`cps-${id}`);
  made.clear();
});

afterAll(async () => {
  await hv.close();
});

describe('provisioner API on libvirt test:///default', () => {
  it('is healthy while libvirt answers', async () => {
    const r = await app.request('/healthz');
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({ status: 'ok', service: 'provisioner', libvirt: 'test:///default' });
  });

  it('creates a guest (201), shows it, lists it, and deletes it (204), idempotently', async () => {
    const id = newTask();
    const created = await put(id, spec());
    expect(created.status).toBe(201);
    const vm = await created.json();
    expect(vm).toMatchObject({
      taskId: id,
      domain: `cps-${id}`,
      name: 'my machine',
      state: 'running',
      vcpus: 1,
      memoryMiB: 128,
      accelerator: 'tcg',
      console: { vnc: { host: '127.0.0.1' } },
    });
    expect(typeof vm.console.vnc.port).toBe('number');

    const got = await app.request(`/vms/${id}`);
    expect(got.status).toBe(200);
    expect(await got.json()).toEqual(vm);

    const list = await (await app.request('/vms')).json();
    expect(list.items.map((v: { taskId: string }) => v.taskId)).toContain(id);
    // The test driver's own domain "test" is not ours and is never listed.
    expect(list.items.map((v: { domain: string }) => v.domain)).not.toContain('test');

    expect((await app.request(`/vms/${id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await app.request(`/vms/${id}`)).status).toBe(404);
    expect((await app.request(`/vms/${id}`, { method: 'DELETE' })).status).toBe(204);
    expect(await hv.inspect(`cps-${id}`)).toBeUndefined();
  });

  it('keeps who placed the guest (placedBy) in its metadata and shows it in GET /vms and GET /vms/{id}; a repeat without it is the same spec', async () => {
    const id = newTask();
    const created = await put(id, spec({ placedBy: 'node-a.lan' }));
    expect(created.status).toBe(201);
    expect((await created.json()).placedBy).toBe('node-a.lan');
    expect((await (await app.request(`/vms/${id}`)).json()).placedBy).toBe('node-a.lan');
    const listed = (await (await app.request('/vms')).json()).items.find((v: { taskId: string }) => v.taskId === id);
    expect(listed.placedBy).toBe('node-a.lan');
    expect((await put(id, spec())).status).toBe(200);
    const plain = newTask();
    expect((await (await put(plain, spec())).json()).placedBy).toBeUndefined();
  });

  it.each([['a quote', 'a"/><x/>'], ['a space', 'a b'], ['too long', 'a'.repeat(65)], ['a number', 7]])('refuses placedBy with %s (400)', async (_, placedBy) => {
    const r = await put(newTask(), spec({ placedBy }));
    expect(r.status).toBe(400);
    expect((await r.json()).type).toBe('urn:cps:problem:validation-failed');
  });

  it('answers the same PUT twice with 200 and the existing guest', async () => {
    const id = newTask();
    const first = await put(id, spec());
    expect(first.status).toBe(201);
    const second = await put(id, spec());
    expect(second.status).toBe(200);
    expect(await second.json()).toEqual(await first.json());
  });

  it('refuses a PUT with a different spec for a task that already has a guest (409)', async () => {
    const id = newTask();
    expect((await put(id, spec())).status).toBe(201);
    const r = await put(id, spec({ memoryMiB: 256 }));
    expect(r.status).toBe(409);
    expect((await r.json()).type).toBe('urn:cps:problem:conflict');
  });

  it('creates concurrent PUTs of one task once', async () => {
    const id = newTask();
    const rs = await Promise.all([put(id, spec()), put(id, spec()), put(id, spec())]);
    expect(rs.map((r) => r.status).sort()).toEqual([200, 200, 201]);
  });

  it('runs a DELETE that arrives while a create is starting after it: no guest is left behind', async () => {
    // A hypervisor whose create waits at a gate, so the DELETE surely arrives mid-create.
    let entered!: () => void;
    const inCreate = new Promise<void>((r) => (entered = r));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow: Hypervisor = Object.create(hv, {
      create: { value: async (xml: string) => (entered(), await gate, hv.create(xml)) },
    });
    const gated = createApp({ hypervisor: slow, dataDir, accelerator: async () => 'tcg', share: { vcpus: 3, memoryMiB: 1024 }, log: createLogger('t', 'silent') });
    const id = newTask();
    const creating = gated.request(`/vms/${id}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(spec()) });
    await inCreate;
    const deleting = gated.request(`/vms/${id}`, { method: 'DELETE' });
    release();
    expect((await creating).status).toBe(201);
    expect((await deleting).status).toBe(204);
    expect(await hv.inspect(`cps-${id}`)).toBeUndefined();
  });

  it('works through the typed client too', async () => {
    const client = provisionerClient(viaApp(app));
    const id = newTask();
    const { data, response } = await client.PUT('/vms/{taskId}', { params: { path: { taskId: id } }, body: spec() as never });
    expect(response.status).toBe(201);
    expect(data?.domain).toBe(`cps-${id}`);
    const got = await client.GET('/vms/{taskId}', { params: { path: { taskId: id } } });
    expect(got.data?.state).toBe('running');
  });

  it('gives a 404 problem for an unknown task', async () => {
    const r = await app.request('/vms/t-unknown0');
    expect(r.status).toBe(404);
    expect(r.headers.get('content-type')).toContain('application/problem+json');
    expect(await r.json()).toMatchObject({ type: 'urn:cps:problem:not-found', status: 404 });
    expect((await app.request('/vms/t-unknown0/serial')).status).toBe(404);
  });

  it.each([
    ['upper case', 'T-1', 400],
    ['markup', encodeURIComponent('</name><devices>'), 400],
    ['an encoded slash', encodeURIComponent('a/b'), 400],
    ['a NUL', '%00', 400],
    ['a quote', encodeURIComponent(`a'b`), 400],
    ['too long', 'a'.repeat(64), 400],
    // The URL parser folds "/vms/.." to "/", which is no route at all.
    ['a dot-dot', '..', 404],
  ])('rejects a task id with %s', async (_, taskId, status) => {
    const type = status === 400 ? 'urn:cps:problem:validation-failed' : 'urn:cps:problem:route-not-found';
    for (const [method, path] of [['GET', `/vms/${taskId}`], ['DELETE', `/vms/${taskId}`], ['GET', `/vms/${taskId}/serial`]] as const) {
      const r = await app.request(path, { method });
      expect([path, r.status]).toEqual([path, status]);
      expect((await r.json()).type).toBe(type);
    }
    expect((await put(taskId, spec())).status).toBe(status);
  });

  it.each([
    ['no name', (() => { const s: Record<string, unknown> = spec(); delete s.name; return s; })()],
    ['an extra field', spec({ evil: 1 })],
    ['0 vcpus', spec({ vcpus: 0 })],
    ['a string for memory', spec({ memoryMiB: '128' })],
    ['a name with a newline', spec({ name: 'a\nb' })],
    ['a name with NUL', spec({ name: 'a\u0000b' })],
    ['a 10 kB name', spec({ name: 'x'.repeat(10_000) })],
    ['a name with a C1 control', spec({ name: 'a\u0085b' })],
    ['a name with a line separator', spec({ name: 'a\u2028b' })],
    ['a name with a lone surrogate', spec({ name: 'a\uD800b' })],
    ['a name of markup and a NUL', spec({ name: '</title><devices>\u0000' })],
    ['a bad boot kind', spec({ boot: { kind: 'pxe' } })],
    ['a disk with an unknown format', spec({ disks: [{ path: join(dataDir, 'x'), format: 'vmdk', device: 'disk' }] })],
    ['an array', [1, 2]],
    ['null', null],
  ])('rejects a body with %s (400 validation-failed)', async (_, body) => {
    const id = newTask();
    const r = await put(id, body);
    expect(r.status).toBe(400);
    expect((await r.json()).type).toBe('urn:cps:problem:validation-failed');
    expect(await hv.inspect(`cps-${id}`)).toBeUndefined();
  });

  it.each([
    ['a kernel outside the data dir', spec({ boot: { kind: 'kernel', kernel: '/boot/vmlinuz', initrd: join(dataDir, 'i') } })],
    ['a disk with ..', spec({ disks: [{ path: `${dataDir}/../../etc/shadow`, format: 'raw', device: 'disk' }] })],
    ['another task\'s disk', spec({ disks: [{ path: join(dataDir, 'disks', 't-other', 'root.qcow2'), format: 'qcow2', device: 'disk' }] })],
    ['a relative disk', spec({ disks: [{ path: 'disks/root.qcow2', format: 'raw', device: 'disk' }] })],
  ])('rejects %s (400 path-not-allowed)', async (_, body) => {
    const id = newTask();
    const r = await put(id, body);
    expect(r.status).toBe(400);
    expect((await r.json()).type).toBe('urn:cps:problem:path-not-allowed');
  });

  it('gives the guest its own disks and a shared image as a CD-ROM', async () => {
    const id = newTask();
    // Real files: every disk's backing chain is read before the domain is defined.
    mkdirSync(join(dataDir, 'disks', id), { recursive: true });
    mkdirSync(join(dataDir, 'images', 'install'), { recursive: true });
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', join(dataDir, 'disks', id, 'root.qcow2'), '8M']);
    writeFileSync(join(dataDir, 'images', 'install', 'x.iso'), Buffer.alloc(64 * 1024));
    const disks = [
      { path: join(dataDir, 'disks', id, 'root.qcow2'), format: 'qcow2', device: 'disk' },
      { path: join(dataDir, 'images', 'install', 'x.iso'), format: 'raw', device: 'cdrom', readonly: true },
    ];
    expect((await put(id, spec({ disks, boot: { kind: 'cdrom' } }))).status).toBe(201);
    const xml = (await hv.inspect(`cps-${id}`))!.xml;
    expect(xml).toContain(`<source file='${join(dataDir, 'disks', id, 'root.qcow2')}'/>`);
    expect(xml).toContain("<target dev='sda' bus='sata'/>");
  });

  it('rejects a body that is not JSON', async () => {
    const r = await put(newTask(), '{"name":');
    expect(r.status).toBe(400);
    expect(r.headers.get('content-type')).toContain('application/problem+json');
  });

  it('reports capacity and refuses a guest that does not fit (409 insufficient-capacity)', async () => {
    const before = await (await app.request('/capacity')).json();
    expect(before).toMatchObject({ total: { vcpus: 3, memoryMiB: 1024, diskMiB: 100 }, accelerator: 'tcg' });
    const a = newTask();
    expect((await put(a, spec({ vcpus: 2, memoryMiB: 512 }))).status).toBe(201);
    const after = await (await app.request('/capacity')).json();
    expect(after.free.vcpus).toBe(before.free.vcpus - 2);
    expect(after.free.memoryMiB).toBe(before.free.memoryMiB - 512);
    expect(after.guests).toBe(before.guests + 1);

    const b = newTask();
    const r = await put(b, spec({ vcpus: 2, memoryMiB: 768 }));
    expect(r.status).toBe(409);
    const problem = await r.json();
    expect(problem.type).toBe('urn:cps:problem:insufficient-capacity');
    expect(problem.detail).toMatch(/vcpus: want 2, free 1/);
    expect(problem.detail).toMatch(/memoryMiB: want 768, free 512/);
    expect(await hv.inspect(`cps-${b}`)).toBeUndefined();

    // Once the first is gone, the second fits.
    await app.request(`/vms/${a}`, { method: 'DELETE' });
    expect((await put(b, spec({ vcpus: 2, memoryMiB: 768 }))).status).toBe(201);
  });

  it('serves the serial log as text, its tail only, and an empty log before the guest wrote any', async () => {
    const id = newTask();
    expect((await put(id, spec())).status).toBe(201);
    const empty = await app.request(`/vms/${id}/serial`);
    expect(empty.status).toBe(200);
    expect(await empty.text()).toBe('');
    mkdirSync(join(dataDir, 'logs'), { recursive: true });
    writeFileSync(join(dataDir, 'logs', `${id}.serial`), 'cps-guest: up\ncps-guest: tick 1\n');
    const r = await app.request(`/vms/${id}/serial`);
    expect(r.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await r.text()).toBe('cps-guest: up\ncps-guest: tick 1\n');
  });

  it('does not touch a cps-* domain that a CPS provisioner did not make', async () => {
    const id = newTask();
    await hv.create(`<domain type='test'><name>cps-${id}</name><memory unit='MiB'>64</memory><os><type>hvm</type></os></domain>`);
    expect((await app.request(`/vms/${id}`)).status).toBe(404);
    expect((await app.request(`/vms/${id}`, { method: 'DELETE' })).status).toBe(409);
    expect((await put(id, spec())).status).toBe(409);
    expect((await (await app.request('/vms')).json()).items.map((v: { taskId: string }) => v.taskId)).not.toContain(id);
    expect(await hv.inspect(`cps-${id}`)).toBeDefined();
  });

  it('answers unknown routes with a problem', async () => {
    const r = await app.request('/nope');
    expect(r.status).toBe(404);
    expect((await r.json()).type).toBe('urn:cps:problem:route-not-found');
  });
});
