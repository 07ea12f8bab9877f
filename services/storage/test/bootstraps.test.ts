import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { getRequestListener } from '@hono/node-server';
import { Contract } from '@cps/common';
import { specFiles } from '@cps/openapi';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeFixture, taskId, type Fixture } from './fixture.ts';
import { paxEntry, tar, tarEntry } from './tar-builder.ts';

const contract = Contract.fromFile(specFiles.storage);
const problem = (t: string) => `urn:cps:problem:${t}`;

let f: Fixture;
let api: ReturnType<typeof request>;
beforeEach(async () => {
  f = await makeFixture();
  api = request(getRequestListener(f.app.fetch));
});
afterEach(() => f.cleanup());

const sendTar = (body: Buffer) => api.post('/bootstraps').set('content-type', 'application/x-tar').send(body);
const putDisks = (id: string, body: unknown) => api.put(`/disks/${id}`).set('content-type', 'application/json').send(JSON.stringify(body));
/** A file read straight out of an ext4 image, without mounting it. */
const debugfsCat = (image: string, file: string) => execFileSync('debugfs', ['-R', `cat ${file}`, image], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const runSh = '#!/bin/sh\necho "hello from run.sh"\n';

/** A tar made by GNU tar from a folder, as a user would. */
async function realTar(files: Record<string, string>): Promise<Buffer> {
  const dir = path.join(f.root, `src-${Math.random().toString(16).slice(2)}`);
  for (const [name, body] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), body);
  }
  return execFileSync('tar', ['-C', dir, '-cf', '-', '.']);
}

const expectNothingLeft = async () => {
  expect(await readdir(f.layout.tmpDir)).toEqual([]);
  expect(await readdir(f.layout.bootstrapsDir).catch(() => [])).toEqual([]);
};

describe('bootstrap disks', () => {
  it('builds an ext4 disk labelled CPSBOOT holding the files, content-addressed', async () => {
    const archive = await realTar({ 'run.sh': runSh, 'data/input.txt': 'some input\n' });
    const res = await sendTar(archive).expect(201);
    contract.check('Bootstrap', res.body);
    const sha = createHash('sha256').update(archive).digest('hex');
    expect(res.body).toMatchObject({ id: `b-${sha.slice(0, 24)}`, sha256: sha });
    expect([...res.body.files].sort((a: { path: string }, b: { path: string }) => a.path.localeCompare(b.path))).toEqual([
      { path: 'data/input.txt', sizeBytes: 11 },
      { path: 'run.sh', sizeBytes: runSh.length },
    ]);
    expect((await sendTar(archive).expect(200)).body).toEqual(res.body);
    expect((await api.get(`/bootstraps/${res.body.id}`).expect(200)).body).toEqual(res.body);

    const disk = path.join(f.layout.bootstrapsDir, res.body.id, 'disk.raw');
    expect(debugfsCat(disk, '/run.sh')).toBe(runSh);
    expect(debugfsCat(disk, '/data/input.txt')).toBe('some input\n');
    expect(execFileSync('blkid', ['-o', 'value', '-s', 'LABEL', disk], { encoding: 'utf8' }).trim()).toBe('CPSBOOT');
    expect(await readdir(f.layout.tmpDir)).toEqual([]);
  });

  it('gives a task its own copy as a raw data disk, and a cloud-init seed as a read-only cdrom', async () => {
    const boot = (await sendTar(await realTar({ 'run.sh': runSh })).expect(201)).body;
    const t = taskId();
    const cloudInit = { userData: '#cloud-config\nhostname: demo\n' };
    const res = await putDisks(t, { image: 'tiny', diskMiB: 8, bootstrap: boot.id, cloudInit }).expect(201);
    const dir = path.join(f.root, 'disks', t);
    expect(res.body.disks).toEqual([
      { path: path.join(dir, 'data.qcow2'), format: 'qcow2', device: 'disk' },
      { path: path.join(dir, 'bootstrap.raw'), format: 'raw', device: 'disk' },
      { path: path.join(dir, 'seed.iso'), format: 'raw', device: 'cdrom', readonly: true },
    ]);
    expect(debugfsCat(path.join(dir, 'bootstrap.raw'), '/run.sh')).toBe(runSh);
    // The same request again is the same disks; a different cloud-init is a conflict.
    expect((await putDisks(t, { image: 'tiny', diskMiB: 8, bootstrap: boot.id, cloudInit }).expect(200)).body).toEqual(res.body);
    expect((await putDisks(t, { image: 'tiny', diskMiB: 8, bootstrap: boot.id, cloudInit: { userData: 'other' } })).status).toBe(409);

    const iso = path.join(dir, 'seed.iso');
    expect(execFileSync('xorriso', ['-indev', iso, '-pvd_info'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })).toMatch(/Volume Id\s*:\s*cidata/);
    const out = path.join(f.root, 'seed-out');
    execFileSync('xorriso', ['-osirrox', 'on', '-indev', iso, '-extract', '/', out], { stdio: 'pipe' });
    expect((await readdir(out)).sort()).toEqual(['meta-data', 'user-data']);
    expect(execFileSync('cat', [path.join(out, 'user-data')], { encoding: 'utf8' })).toBe(cloudInit.userData);
    expect(execFileSync('cat', [path.join(out, 'meta-data')], { encoding: 'utf8' })).toBe(`instance-id: ${t}\nlocal-hostname: ${t}\n`);

    // The bootstrap may go; the task keeps its copy.
    await api.delete(`/bootstraps/${boot.id}`).expect(204);
    expect((await api.get(`/bootstraps/${boot.id}`)).body.type).toBe(problem('not-found'));
    expect(debugfsCat(path.join(dir, 'bootstrap.raw'), '/run.sh')).toBe(runSh);
  });

  it('answers not-found for a task asking for a bootstrap that is not here', async () => {
    const res = await putDisks(taskId(), { image: 'tiny', diskMiB: 8, bootstrap: `b-${'0'.repeat(24)}` });
    expect({ status: res.status, type: res.body.type }).toEqual({ status: 404, type: problem('not-found') });
  });

  it.each([
    ['a parent-folder name', () => tar(tarEntry('../evil.sh', 'x'))],
    ['a nested parent-folder name', () => tar(tarEntry('a/../../evil.sh', 'x'))],
    ['an absolute name', () => tar(tarEntry('/etc/cron.d/evil', 'x'))],
    ['a symlink', () => tar(tarEntry('link', '', { type: '2', linkname: '/etc/shadow' }))],
    ['a hard link', () => tar(tarEntry('link', '', { type: '1', linkname: '/etc/shadow' }))],
    ['a character device', () => tar(tarEntry('null', '', { type: '3' }))],
    ['a block device', () => tar(tarEntry('sda', '', { type: '4' }))],
    ['a fifo', () => tar(tarEntry('pipe', '', { type: '6' }))],
    ['a pax path with ..', () => tar(paxEntry({ path: '../../evil' }), tarEntry('harmless', 'x'))],
    ['a GNU long name with ..', () => tar(tarEntry('././@LongLink', '../../evil\0', { type: 'L' }), tarEntry('harmless', 'x'))],
    ['a bad checksum', () => tar(tarEntry('run.sh', 'x', { badChecksum: true }))],
    ['a file cut short', () => tarEntry('run.sh', 'x'.repeat(600)).subarray(0, 700)],
    ['a size beyond the archive', () => tar(tarEntry('run.sh', 'x', { sizeField: 1 << 20 }))],
    ['the same file twice', () => tar(tarEntry('run.sh', 'a'), tarEntry('run.sh', 'b'))],
    ['a file where a folder must be', () => tar(tarEntry('a', 'x'), tarEntry('a/b', 'y'))],
    ['not a tar at all', () => Buffer.from('PK\u0003\u0004 this is a zip, honest'.padEnd(1024, '!'))],
  ])('refuses %s with archive-rejected and keeps nothing', async (_what, make) => {
    const res = await sendTar(make());
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect({ status: res.status, type: res.body.type }).toEqual({ status: 422, type: problem('archive-rejected') });
    await expectNothingLeft();
    // Nothing escaped the staging folder either.
    expect((await readdir(f.root)).sort()).toEqual(['disks', 'images', 'tmp']);
  });

  it('refuses another media type and an oversize archive', async () => {
    expect((await api.post('/bootstraps').set('content-type', 'application/zip').send(Buffer.alloc(10))).status).toBe(415);
    const big = await sendTar(Buffer.alloc(17 * 1024 * 1024));
    expect({ status: big.status, type: big.body.type }).toEqual({ status: 413, type: problem('payload-too-large') });
    expect((await api.get('/bootstraps/..%2Fx')).status).toBe(400);
    await expectNothingLeft();
  });
});
