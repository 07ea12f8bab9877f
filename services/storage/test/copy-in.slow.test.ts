import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFixture, taskId, type Fixture } from './fixture.ts';
import { tar, tarEntry } from './tar-builder.ts';

// The real libguestfs (guestfish in its appliance VM under TCG, ~10 s a run) on a real ext4 image.
const problem = (t: string) => `urn:cps:problem:${t}`;
const runSh = '#!/bin/sh\necho "hello from copy-in"\n';
const debugfsCat = (image: string, file: string) => execFileSync('debugfs', ['-R', `cat ${file}`, image], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let f: Fixture;
let imageId: string;
let imageSha: string;
let bootstrapId: string;
beforeAll(async () => {
  f = await makeFixture({ maxUploadBytes: 128 * 1024 * 1024 });
  // An image with a file system and a file of its own: a bare ext4 (no partition table), as /dev/sda.
  const src = path.join(f.root, 'src');
  await mkdir(path.join(src, 'etc'), { recursive: true });
  await writeFile(path.join(src, 'etc', 'hostname'), 'base\n');
  const raw = path.join(f.root, 'base.raw');
  execFileSync('truncate', ['-s', '64M', raw]);
  execFileSync('mkfs.ext4', ['-q', '-F', '-d', src, raw]);
  const bytes = await readFile(raw);
  imageSha = sha(bytes);
  const up = await f.app.request('/images?name=ext4&format=raw', { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: bytes });
  expect(up.status).toBe(201);
  imageId = ((await up.json()) as { id: string }).id;
  const b = await f.app.request('/bootstraps', {
    method: 'POST',
    headers: { 'content-type': 'application/x-tar' },
    body: tar(tarEntry('run.sh', runSh, { mode: 0o755 }), tarEntry('data/in.txt', 'input\n')),
  });
  expect(b.status).toBe(201);
  bootstrapId = ((await b.json()) as { id: string }).id;
}, 60_000);
afterAll(() => f?.cleanup());

const put = (t: string, body: unknown) => f.app.request(`/disks/${t}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('copyIn with the real guestfish', () => {
  it("copies the archive's files into the task's overlay; the image itself is untouched", async () => {
    const t = taskId();
    const res = await put(t, { image: imageId, diskMiB: 64, copyIn: { bootstrap: bootstrapId, target: '/target', filesystem: '/dev/sda' } });
    expect(res.status, await res.clone().text()).toBe(201);
    const overlay = path.join(f.root, 'disks', t, 'root.qcow2');
    execFileSync('qemu-img', ['check', '-q', overlay]);
    const flat = path.join(f.root, 'flat.raw');
    execFileSync('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', overlay, flat]);
    expect(debugfsCat(flat, '/target/run.sh')).toBe(runSh);
    expect(debugfsCat(flat, '/target/data/in.txt')).toBe('input\n');
    expect(debugfsCat(flat, '/etc/hostname')).toBe('base\n');
    expect(execFileSync('debugfs', ['-R', 'stat /target/run.sh', flat], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })).toMatch(/Mode:\s+0755/);
    // The shared image stays as uploaded: other tasks' overlays rest on it.
    expect(sha(await readFile(path.join(f.root, 'images', imageId, 'disk.raw')))).toBe(imageSha);
    expect(await readdir(f.layout.tmpDir)).toEqual([]);
  }, 300_000);

  it("a device the disk lacks fails with guestfish's message and leaves no disks", async () => {
    const t = taskId();
    const res = await put(t, { image: imageId, diskMiB: 64, copyIn: { bootstrap: bootstrapId, target: '/target', filesystem: '/dev/sda1' } }); // a bare file system: no partitions
    const body = (await res.json()) as { type: string; detail: string };
    expect({ status: res.status, type: body.type }).toEqual({ status: 500, type: problem('tool-failed') });
    expect(body.detail).toContain('guestfish');
    expect((await readdir(f.layout.disksDir)).filter((n) => n.includes(t))).toEqual([]);
    expect(await readdir(f.layout.tmpDir)).toEqual([]);
  }, 300_000);
});
