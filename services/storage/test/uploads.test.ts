import { execFileSync } from 'node:child_process';
import { randomBytes, createHash } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { getRequestListener, serve } from '@hono/node-server';
import { Contract } from '@cps/common';
import { specFiles } from '@cps/openapi';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { makeFixture, taskId, type Fixture } from './fixture.ts';

const contract = Contract.fromFile(specFiles.storage);
const problem = (t: string) => `urn:cps:problem:${t}`;

let f: Fixture;
let api: ReturnType<typeof request>;
let work: string;
beforeEach(async () => {
  f = await makeFixture({ maxUploadBytes: 4 * 1024 * 1024 });
  api = request(getRequestListener(f.app.fetch));
  work = path.join(f.root, 'work');
  await mkdir(work);
});
afterEach(() => f.cleanup());

const upload = (body: Buffer, query: Record<string, string> = { name: 'My image' }) =>
  api.post(`/images?${new URLSearchParams(query)}`).set('content-type', 'application/octet-stream').send(body);
const expectProblem = (res: request.Response, status: number, type: string) => {
  expect(res.headers['content-type']).toBe('application/problem+json');
  expect({ status: res.status, type: res.body.type }).toEqual({ status, type: problem(type) });
};
const qemuImg = (...args: string[]) => execFileSync('qemu-img', args, { stdio: 'pipe' });
const makeQcow2 = async (...opts: string[]) => {
  const file = path.join(work, `q-${Math.random().toString(16).slice(2)}.qcow2`);
  qemuImg('create', '-q', '-f', 'qcow2', ...opts, file, '4M');
  return readFile(file);
};
/** Nothing of a refused upload stays: images/ holds only tiny, the staging area is empty. */
const expectNothingLeft = async () => {
  expect(await readdir(path.join(f.root, 'images'))).toEqual(['tiny']);
  expect(await readdir(f.layout.tmpDir)).toEqual([]);
};
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('image uploads', () => {
  it('takes a raw image: id from its SHA-256, listed, and the same bytes again answer 200', async () => {
    const bytes = randomBytes(256 * 1024);
    const res = await upload(bytes).expect(201);
    contract.check('Image', res.body);
    expect(res.body).toMatchObject({ id: `img-${sha(bytes).slice(0, 24)}`, name: 'My image', kind: 'disk', format: 'raw', builtin: false, sizeBytes: bytes.length, sha256: sha(bytes) });
    expect(await readFile(path.join(f.root, 'images', res.body.id, 'disk.raw'))).toEqual(bytes);
    const again = await upload(bytes, { name: 'Other name' }).expect(200);
    expect(again.body).toEqual(res.body);
    const list = await api.get('/images').expect(200);
    expect(list.body.items.map((i: { id: string }) => i.id).sort()).toEqual([res.body.id, 'tiny'].sort());
    expect((await api.get(`/images/${res.body.id}`).expect(200)).body).toEqual(res.body);
    expect(await readdir(f.layout.tmpDir)).toEqual([]);
    expect(f.logs().filter((l) => l.msg === 'image skipped')).toEqual([]);
  });

  it('detects qcow2 and ISO, and a task can boot from them', async () => {
    const q = await upload(await makeQcow2(), { name: 'q', format: 'qcow2' }).expect(201);
    expect(q.body).toMatchObject({ kind: 'disk', format: 'qcow2' });
    await writeFile(path.join(work, 'hello.txt'), 'hello');
    const iso = path.join(work, 'x.iso');
    execFileSync('xorriso', ['-as', 'mkisofs', '-quiet', '-V', 'TEST', '-o', iso, path.join(work, 'hello.txt')], { stdio: 'pipe' });
    const i = await upload(await readFile(iso), { name: 'an iso' }).expect(201);
    expect(i.body).toMatchObject({ kind: 'iso', format: 'iso' });

    const t = taskId();
    const disks = await api.put(`/disks/${t}`).set('content-type', 'application/json').send({ image: q.body.id, diskMiB: 8 }).expect(201);
    expect(disks.body.boot).toEqual({ kind: 'disk' });
    const info = JSON.parse(execFileSync('qemu-img', ['info', '--output=json', disks.body.disks[0].path], { encoding: 'utf8' }));
    expect(info['backing-filename']).toBe(path.join(f.root, 'images', q.body.id, 'disk.qcow2'));
  });

  it('refuses a qcow2 with a backing file, with an external data file, a vmdk, a wrong declared format, and an empty body', async () => {
    const backed = await makeQcow2('-b', '/etc/passwd', '-F', 'raw');
    const r1 = await upload(backed);
    expectProblem(r1, 422, 'image-rejected');
    expect(r1.body.detail).toContain('backing file');
    await writeFile(path.join(work, 'data.raw'), Buffer.alloc(0));
    expectProblem(await upload(await makeQcow2('-o', `data_file=${path.join(work, 'data.raw')}`)), 422, 'image-rejected');
    const vmdk = path.join(work, 'x.vmdk');
    qemuImg('create', '-q', '-f', 'vmdk', vmdk, '1M');
    const r3 = await upload(await readFile(vmdk));
    expectProblem(r3, 422, 'image-rejected');
    expect(r3.body.detail).toContain('vmdk');
    const r4 = await upload(randomBytes(4096), { name: 'x', format: 'qcow2' });
    expectProblem(r4, 422, 'image-rejected');
    expect(r4.body.detail).toContain('declared qcow2');
    expectProblem(await upload(Buffer.alloc(0)), 422, 'image-rejected');
    // A damaged qcow2: a real header with its tables cut away.
    expectProblem(await upload((await makeQcow2()).subarray(0, 1024)), 422, 'image-rejected');
    await expectNothingLeft();
  });

  it('refuses oversize bodies, by Content-Length and by counting a chunked one', async () => {
    expectProblem(await upload(Buffer.alloc(5 * 1024 * 1024)), 413, 'payload-too-large');
    let sent = 0;
    const chunks = new ReadableStream<Uint8Array>({
      pull(ctl) {
        if (sent++ < 80) ctl.enqueue(new Uint8Array(64 * 1024));
        else ctl.close();
      },
    });
    const res = await f.app.request('/images?name=big', {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: chunks,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(413);
    expect((await res.json()).type).toBe(problem('payload-too-large'));
    await expectNothingLeft();
  });

  it('refuses a body whose hash differs from the declared one, bad names, and other media types', async () => {
    expectProblem(await upload(randomBytes(1024), { name: 'x', sha256: 'a'.repeat(64) }), 400, 'upload-incomplete');
    for (const name of ['../etc', '/etc/passwd', '.hidden', 'a/b', '', 'x'.repeat(101)]) {
      expectProblem(await upload(randomBytes(1024), { name }), 400, 'validation-failed');
    }
    expectProblem(await upload(randomBytes(1024), {}), 400, 'validation-failed');
    expectProblem(await upload(randomBytes(1024), { name: 'x', format: 'vmdk' }), 400, 'validation-failed');
    expectProblem(await api.post('/images?name=x').set('content-type', 'application/json').send('{}'), 415, 'unsupported-media-type');
    expectProblem(await api.delete('/images/..%2Fetc'), 400, 'validation-failed');
    await expectNothingLeft();
  });

  it('an upload cut off half-way over real HTTP leaves nothing behind', async () => {
    const server = serve({ fetch: f.app.fetch, port: 0, hostname: '127.0.0.1' });
    await new Promise((r) => server.once('listening', r));
    try {
      const { port } = server.address() as AddressInfo;
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/images?name=cut', headers: { 'content-type': 'application/octet-stream', 'content-length': 2 * 1024 * 1024 } });
      req.on('error', () => undefined);
      req.write(randomBytes(512 * 1024));
      // Wait until the service is really writing the upload, then cut the connection.
      await vi.waitFor(async () => expect((await readdir(f.layout.tmpDir)).length).toBe(1), { timeout: 10_000 });
      req.destroy();
      await vi.waitFor(async () => expect(await readdir(f.layout.tmpDir)).toEqual([]), { timeout: 10_000 });
      await expectNothingLeft();
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('deletes an image, but not while a task uses it, and never a built-in one', async () => {
    const img = (await upload(await makeQcow2(), { name: 'q' }).expect(201)).body;
    const t = taskId();
    await api.put(`/disks/${t}`).set('content-type', 'application/json').send({ image: img.id, diskMiB: 8 }).expect(201);
    const busy = await api.delete(`/images/${img.id}`);
    expectProblem(busy, 409, 'image-in-use');
    expect(busy.body.tasks).toEqual([t]);
    await api.delete(`/disks/${t}`).expect(204);
    await api.delete(`/images/${img.id}`).expect(204);
    await api.delete(`/images/${img.id}`).expect(204);
    expectProblem(await api.get(`/images/${img.id}`), 404, 'image-not-found');
    expectProblem(await api.delete('/images/tiny'), 409, 'conflict');
    await expectNothingLeft();
  });
});
