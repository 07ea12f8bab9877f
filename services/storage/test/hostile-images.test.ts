import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { getRequestListener } from '@hono/node-server';
import { Contract, ProblemError } from '@cps/common';
import { specFiles } from '@cps/openapi';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MiB } from '../src/capacity.ts';
import { QemuImg } from '../src/qemu-img.ts';
import { runTool, type RunTool } from '../src/tool.ts';
import { ImageUploads, maxTaskDiskBytes } from '../src/uploads.ts';
import { makeFixture, memoryLogger, type Fixture } from './fixture.ts';

// Polyglots and other hostile uploads, made with the real qemu-img and xorriso.
const problem = (t: string) => `urn:cps:problem:${t}`;

let f: Fixture;
let api: ReturnType<typeof request>;
let work: string;
beforeEach(async () => {
  f = await makeFixture();
  api = request(getRequestListener(f.app.fetch));
  work = path.join(f.root, 'work');
  await mkdir(work);
});
afterEach(() => f.cleanup());

const upload = (body: Buffer, query: Record<string, string> = {}) =>
  api.post(`/images?${new URLSearchParams({ name: 'hostile', ...query })}`).set('content-type', 'application/octet-stream').send(body);
const expectRejected = (res: request.Response, detail: string | RegExp) => {
  expect(res.headers['content-type']).toBe('application/problem+json');
  expect({ status: res.status, type: res.body.type }).toEqual({ status: 422, type: problem('image-rejected') });
  expect(res.body.detail).toMatch(detail);
};
const expectNothingLeft = async () => {
  expect(await readdir(path.join(f.root, 'images'))).toEqual(['tiny']);
  expect(await readdir(f.layout.tmpDir)).toEqual([]);
};
const qemuImg = (...args: string[]) => execFileSync('qemu-img', args, { stdio: 'pipe' });
const makeQcow2 = async (size: string, ...opts: string[]) => {
  const file = path.join(work, `q-${randomBytes(4).toString('hex')}.qcow2`);
  qemuImg('create', '-q', '-f', 'qcow2', ...opts, file, size);
  return readFile(file);
};
const withIsoMarker = (b: Buffer) => {
  const out = Buffer.concat([b, Buffer.alloc(Math.max(0, 0x8800 - b.length))]);
  out.write('\x01CD001\x01', 0x8000, 'latin1');
  return out;
};
const makeIso = async () => {
  await writeFile(path.join(work, 'hello.txt'), 'hello');
  const iso = path.join(work, `x-${randomBytes(4).toString('hex')}.iso`);
  execFileSync('xorriso', ['-as', 'mkisofs', '-quiet', '-V', 'TEST', '-o', iso, path.join(work, 'hello.txt')], { stdio: 'pipe' });
  return readFile(iso);
};

describe('polyglot uploads', () => {
  it('refuses a qcow2 naming /etc/passwd as its backing file that also carries an ISO marker, however it is declared', async () => {
    const polyglot = withIsoMarker(await makeQcow2('4M', '-b', '/etc/passwd', '-F', 'raw'));
    for (const q of [{}, { format: 'iso' }, { format: 'raw' }, { format: 'qcow2' }] as Array<Record<string, string>>) {
      expectRejected(await upload(polyglot, q), /backing file \("\/etc\/passwd"\)/);
    }
    await expectNothingLeft();
  });

  it('refuses a flat qcow2 that is also an ISO as ambiguous', async () => {
    const r = await upload(withIsoMarker(await makeQcow2('4M')), { format: 'iso' });
    expectRejected(r, /qcow2 and ISO 9660 \(a polyglot\)/);
    await expectNothingLeft();
  });

  it('refuses a real ISO whose free system area holds a qcow2 header naming a backing file', async () => {
    const iso = await makeIso();
    const header = (await makeQcow2('4M', '-b', '/etc/shadow', '-F', 'raw')).subarray(0, 4096);
    header.copy(iso, 0);
    expectRejected(await upload(iso), /backing file \("\/etc\/shadow"\)/);
    expectRejected(await upload(iso, { format: 'iso' }), /backing file/);
    await expectNothingLeft();
  });

  it('refuses a qcow2 with an external data file that is presented as an ISO', async () => {
    await writeFile(path.join(work, 'd.raw'), Buffer.alloc(0));
    const q = withIsoMarker(await makeQcow2('1M', '-o', `data_file=${path.join(work, 'd.raw')}`));
    expectRejected(await upload(q, { format: 'iso' }), /external data file/);
    await expectNothingLeft();
  });

  it('refuses a vmdk descriptor naming a host file as its extent before any qemu tool opens it', async () => {
    const descriptor = Buffer.from('# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType="monolithicFlat"\n\nRW 8 FLAT "/etc/shadow" 0\n');
    const body = Buffer.concat([descriptor, Buffer.alloc(4096 - descriptor.length)]);
    const before = f.toolCalls.length;
    const r = await upload(body, { format: 'raw' });
    expectRejected(r, /"vmdk"/);
    expect(f.toolCalls.slice(before).filter((c) => c.cmd === 'qemu-img')).toEqual([]);
    await expectNothingLeft();
  });

  it('refuses raw bytes that carry another format\'s signature (vdi at 0x40, QED, VHD)', async () => {
    const vdi = randomBytes(8192);
    vdi.writeUInt32LE(0xbeda107f, 0x40);
    expectRejected(await upload(vdi, { format: 'raw' }), /"vdi"/);
    const qed = Buffer.concat([Buffer.from('QED\0'), randomBytes(8188)]);
    expectRejected(await upload(qed), /"qed"/);
    const vpc = Buffer.concat([Buffer.from('conectix'), randomBytes(8184)]);
    expectRejected(await upload(vpc, { format: 'raw' }), /"vpc"/);
    await expectNothingLeft();
  });

  it('still takes a plain ISO, a flat qcow2 and raw bytes', async () => {
    expect((await upload(await makeIso()).expect(201)).body).toMatchObject({ kind: 'iso', format: 'iso' });
    expect((await upload(await makeQcow2('4M')).expect(201)).body).toMatchObject({ kind: 'disk', format: 'qcow2' });
    expect((await upload(randomBytes(64 * 1024)).expect(201)).body).toMatchObject({ kind: 'disk', format: 'raw' });
    // Other shapes qemu-img writes: version 2 headers, the smallest and the largest clusters.
    for (const opts of ['compat=0.10', 'cluster_size=512', 'cluster_size=2M', 'compat=1.1,lazy_refcounts=on,extended_l2=on']) {
      const r = await upload(await makeQcow2('8M', '-o', opts), { format: 'qcow2' });
      expect({ opts, status: r.status, detail: r.body.detail }).toMatchObject({ opts, status: 201 });
    }
  });
});

describe('virtual size', () => {
  const body = (b: Buffer) => new Blob([new Uint8Array(b)]).stream() as ReadableStream<Uint8Array>;
  const uploadsWith = (over: { maxVirtualBytes?: number; quotaBytes?: number }, run: RunTool = runTool) =>
    new ImageUploads({ layout: f.layout, images: f.images, qemuImg: new QemuImg(run), users: f.store, maxUploadBytes: 64 * MiB, log: memoryLogger().log, ...over });
  const refusal = async (p: Promise<unknown>) => {
    const err = await p.then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ProblemError);
    expect((err as ProblemError).problemType).toBe('image-rejected');
    return (err as ProblemError).message;
  };

  it('refuses a 1 PiB qcow2 by default: no task disk can be that large', async () => {
    const r = await upload(await makeQcow2('1P', '-o', 'cluster_size=2M'));
    expectRejected(r, /virtual size is 1048576 GiB, more than the 4096 GiB any disk on this node can be \(the largest task disk\)/);
    await expectNothingLeft();
  });

  it('the default limit is the contract\'s largest diskMiB', () => {
    const contract = Contract.fromFile(specFiles.storage);
    const diskMiB = maxTaskDiskBytes / MiB;
    expect(() => contract.check('TaskDisksRequest', { image: 'tiny', diskMiB })).not.toThrow();
    expect(() => contract.check('TaskDisksRequest', { image: 'tiny', diskMiB: diskMiB + 1 })).toThrow();
  });

  it('refuses beyond CPS_STORAGE_MAX_VIRTUAL_GIB and beyond the quota, takes what fits', async () => {
    const q64 = await makeQcow2('64M');
    const small = uploadsWith({ maxVirtualBytes: 32 * MiB });
    expect(await refusal(small.upload({ body: body(q64), name: 'x' }))).toMatch(/virtual size is 0\.1 GiB.*\(CPS_STORAGE_MAX_VIRTUAL_GIB\)/);
    expect(await refusal(uploadsWith({ quotaBytes: 16 * MiB, maxVirtualBytes: 1024 * MiB }).upload({ body: body(q64), name: 'x' }))).toMatch(/donor's disk quota/);
    // Raw: its virtual size is its length.
    expect(await refusal(uploadsWith({ maxVirtualBytes: 1 * MiB }).upload({ body: body(randomBytes(2 * MiB)), name: 'x' }))).toMatch(/virtual size/);
    const ok = await uploadsWith({ maxVirtualBytes: 64 * MiB }).upload({ body: body(q64), name: 'fits' });
    expect(ok).toMatchObject({ created: true, image: { format: 'qcow2' } });
  });
});
