import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { getRequestListener } from '@hono/node-server';
import { Contract } from '@cps/common';
import { specFiles } from '@cps/openapi';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeFixture, taskId, writeImage, type Fixture } from './fixture.ts';

const storageContract = Contract.fromFile(specFiles.storage);
const provisionerContract = Contract.fromFile(specFiles.provisioner);
const problem = (t: string) => `urn:cps:problem:${t}`;

let f: Fixture;
let http: ReturnType<typeof request>;
let siblingsBefore: string[];
beforeEach(async () => {
  f = await makeFixture();
  http = request(getRequestListener(f.app.fetch));
  siblingsBefore = await readdir(path.dirname(f.root));
});
afterEach(() => f.cleanup());

const put = (id: string, body: unknown) => http.put(`/disks/${id}`).set('content-type', 'application/json').send(JSON.stringify(body));
const expectProblem = (res: request.Response, status: number, type: string) => {
  expect(res.headers['content-type']).toBe('application/problem+json');
  expect({ status: res.status, type: res.body.type }).toEqual({ status, type: problem(type) });
  expect(res.body.status).toBe(status);
};

describe('storage API over HTTP', () => {
  it('reports health with its data dir', async () => {
    const res = await http.get('/healthz').expect(200);
    expect(res.body).toEqual({ status: 'ok', service: 'storage', dataDir: f.root });
    storageContract.check('Health', res.body);
  });

  it('lists and gets images, skipping a corrupt one', async () => {
    await writeImage(f.root, 'broken', '{not json');
    const list = await http.get('/images').expect(200);
    expect(list.body.items.map((i: { id: string }) => i.id)).toEqual(['tiny']);
    expect((await http.get('/images/tiny').expect(200)).body).toMatchObject({ id: 'tiny', kind: 'kernel', builtin: true });
    expectProblem(await http.get('/images/nope'), 404, 'image-not-found');
    expectProblem(await http.get('/images/broken'), 404, 'image-not-found');
    expectProblem(await http.get('/images/Tiny'), 400, 'validation-failed');
  });

  it('creates (201), re-creates (200, same body), gets, discards (204, twice) and then 404s', async () => {
    const id = taskId();
    const created = await put(id, { image: 'tiny', diskMiB: 32 }).expect(201);
    storageContract.check('TaskDisks', created.body);
    // The coordinator hands `disks` and `boot` to the provisioner unchanged: they must pass its contract too.
    for (const d of created.body.disks) provisionerContract.check('DiskSpec', d);
    provisionerContract.check('BootSpec', created.body.boot);
    expect(created.body.disks[0].path).toBe(path.join(f.root, 'disks', id, 'data.qcow2'));

    const again = await put(id, { image: 'tiny', diskMiB: 32 }).expect(200);
    expect(again.body).toEqual(created.body);
    expect((await http.get(`/disks/${id}`).expect(200)).body).toEqual(created.body);
    expectProblem(await put(id, { image: 'tiny', diskMiB: 64 }), 409, 'conflict');

    await http.delete(`/disks/${id}`).expect(204);
    await http.delete(`/disks/${id}`).expect(204);
    expectProblem(await http.get(`/disks/${id}`), 404, 'not-found');
  });

  it('reports capacity, which shrinks by what a new disk may grow to', async () => {
    const before = (await http.get('/capacity').expect(200)).body;
    storageContract.check('StorageCapacity', before);
    expect(before).toMatchObject({ promisedBytes: 0, reserveBytes: 64 * 1024 * 1024 });
    await put(taskId(), { image: 'tiny', diskMiB: 1024 }).expect(201);
    const after = (await http.get('/capacity').expect(200)).body;
    expect(before.availableMiB - after.availableMiB).toBeGreaterThan(1023);
    expect(before.availableMiB - after.availableMiB).toBeLessThanOrEqual(1024);
  });

  it('answers image-not-found for an unknown image', async () => {
    expectProblem(await put(taskId(), { image: 'nope', diskMiB: 8 }), 404, 'image-not-found');
  });

  it('answers insufficient-capacity for the largest disk the contract allows', async () => {
    expectProblem(await put(taskId(), { image: 'tiny', diskMiB: 4194304 }), 409, 'insufficient-capacity');
  });

  it('answers tool-failed, with the tool stderr in the detail, when qemu-img fails', async () => {
    const dir = await writeImage(f.root, 'broken', { id: 'broken', name: 'B', kind: 'disk', format: 'qcow2', file: 'd.qcow2' });
    await writeFile(path.join(dir, 'd.qcow2'), 'garbage');
    const res = await put(taskId(), { image: 'broken', diskMiB: 8 });
    expectProblem(res, 500, 'tool-failed');
    expect(res.body.detail).toMatch(/qemu-img info .*not in qcow2 format/);
  });

  describe('hostile task ids never touch a file outside the data dir', () => {
    const ids = [
      '..', '../etc', '..%2Fetc', '..%2F..%2Fetc%2Fpasswd', '%2e%2e', '%2E%2E%2Fetc', '.', '%00', 'a%00b', 'a%2Fb',
      'A', 'UPPER', 'x'.repeat(10_000), '-lead', 'a_b', '%C3%A9', 'a%5Cb',
    ];
    it.each(ids)('%s', async (id) => {
      for (const res of [
        await put(id, { image: 'tiny', diskMiB: 8 }),
        await http.get(`/disks/${id}`),
        await http.delete(`/disks/${id}`),
      ]) {
        expect(res.headers['content-type']).toBe('application/problem+json');
        expect([problem('validation-failed'), problem('route-not-found'), problem('not-found')]).toContain(res.body.type);
        expect([400, 404]).toContain(res.status);
      }
      expect(await readdir(path.join(f.root, 'disks'))).toEqual([]);
      expect(await readdir(path.dirname(f.root))).toEqual(siblingsBefore);
    });
  });

  describe('hostile image ids in the body', () => {
    it.each(['../etc', '..', '%2e%2e', 'tiny/../tiny', 'a\u0000', 'x'.repeat(10_000), 'TINY', '', '.hidden'])('%j → validation-failed', async (image) => {
      expectProblem(await put(taskId(), { image, diskMiB: 8 }), 400, 'validation-failed');
      expect(await readdir(path.join(f.root, 'disks'))).toEqual([]);
    });
  });

  describe('hostile bodies get a problem with a stable type', () => {
    it.each([
      ['image of the wrong type', { image: 1, diskMiB: 8 }],
      ['diskMiB as a string', { image: 'tiny', diskMiB: '8' }],
      ['an extra field', { image: 'tiny', diskMiB: 8, path: '/etc/passwd' }],
      ['diskMiB zero', { image: 'tiny', diskMiB: 0 }],
      ['diskMiB negative', { image: 'tiny', diskMiB: -1 }],
      ['diskMiB fractional', { image: 'tiny', diskMiB: 1.5 }],
      ['diskMiB over the maximum', { image: 'tiny', diskMiB: 4194305 }],
      ['diskMiB huge', { image: 'tiny', diskMiB: 1e308 }],
      ['no image', { diskMiB: 8 }],
      ['null', null],
      ['an array', [{ image: 'tiny', diskMiB: 8 }]],
      ['a string', 'tiny'],
      ['a prototype key', JSON.parse('{"image":"tiny","diskMiB":8,"__proto__":{"x":1}}')],
    ])('%s → 400 validation-failed', async (_, body) => {
      const res = await put(taskId(), body);
      expectProblem(res, 400, 'validation-failed');
      expect(res.body.errors.length).toBeGreaterThan(0);
    });

    it('malformed JSON → 400 bad-request', async () => {
      const res = await http.put(`/disks/${taskId()}`).set('content-type', 'application/json').send('{"image": "tiny", ');
      expectProblem(res, 400, 'bad-request');
    });

    it('no content-type → 415 unsupported-media-type', async () => {
      const res = await http.put(`/disks/${taskId()}`).send(Buffer.from(JSON.stringify({ image: 'tiny', diskMiB: 8 })));
      expectProblem(res, 415, 'unsupported-media-type');
    });

    it('text/plain → 415 unsupported-media-type', async () => {
      const res = await http.put(`/disks/${taskId()}`).set('content-type', 'text/plain').send(JSON.stringify({ image: 'tiny', diskMiB: 8 }));
      expectProblem(res, 415, 'unsupported-media-type');
    });

    it('a 200 kB body → 413 payload-too-large', async () => {
      const res = await put(taskId(), { image: 'tiny', diskMiB: 8, pad: 'x'.repeat(200_000) });
      expectProblem(res, 413, 'payload-too-large');
    });

    it('a large body streamed with no content-length → 413 payload-too-large', async () => {
      const chunk = new TextEncoder().encode(' '.repeat(4096));
      let sent = 0;
      const body = new ReadableStream<Uint8Array>({
        pull(c) {
          if (sent++ < 64) c.enqueue(chunk);
          else c.close();
        },
      });
      const res = await f.app.request(`/disks/${taskId()}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body,
        duplex: 'half',
      } as RequestInit);
      expect(res.status).toBe(413);
      expect((await res.json()).type).toBe(problem('payload-too-large'));
      expect(sent).toBeLessThan(64); // it stopped reading early
    });

    it('an empty body → 400', async () => {
      const res = await http.put(`/disks/${taskId()}`).set('content-type', 'application/json').send('');
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toBe('application/problem+json');
    });
  });

  it('answers route-not-found for what is not in the contract', async () => {
    expectProblem(await http.post(`/disks/${taskId()}`).send({}), 404, 'route-not-found');
    expectProblem(await http.get('/disks'), 404, 'route-not-found');
  });
});
