import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MiB } from '../src/capacity.ts';
import { makeFixture, taskId, tinyCmdline, writeImage, type Fixture } from './fixture.ts';

let f: Fixture;
beforeEach(async () => {
  f = await makeFixture();
});
afterEach(() => f.cleanup());

const qemuInfo = (file: string) =>
  JSON.parse(execFileSync('qemu-img', ['info', '-U', '--output=json', file], { encoding: 'utf8' })) as Record<string, unknown>;
const creates = () => f.toolCalls.filter((c) => c.args[0] === 'create').length;
const disksFolder = async () => (await readdir(path.join(f.root, 'disks'))).sort();

describe('TaskDiskStore with the real qemu-img', () => {
  it('creates an empty qcow2 data disk and a kernel boot for a kernel image', async () => {
    const id = taskId();
    const { created, disks } = await f.store.create(id, { image: 'tiny', diskMiB: 64 });
    const dir = path.join(f.root, 'disks', id);
    expect(created).toBe(true);
    expect(disks).toEqual({
      taskId: id,
      image: 'tiny',
      disks: [{ path: path.join(dir, 'data.qcow2'), format: 'qcow2', device: 'disk' }],
      boot: {
        kind: 'kernel',
        kernel: path.join(f.root, 'images/tiny/vmlinuz'),
        initrd: path.join(f.root, 'images/tiny/initrd.img'),
        cmdline: tinyCmdline,
      },
    });
    const info = qemuInfo(disks.disks[0]!.path);
    expect(info.format).toBe('qcow2');
    expect(info['virtual-size']).toBe(64 * MiB);
    expect(await disksFolder()).toEqual([id]); // no staging folder left beside it
    expect(await f.store.get(id)).toEqual(disks);
  });

  it('is idempotent by task id: same disks, created false, no second qemu-img run', async () => {
    const id = taskId();
    const first = await f.store.create(id, { image: 'tiny', diskMiB: 16 });
    const second = await f.store.create(id, { image: 'tiny', diskMiB: 16 });
    expect(second).toEqual({ created: false, disks: first.disks });
    expect(creates()).toBe(1);
  });

  it('creates once when the same PUT arrives twice at the same time', async () => {
    const id = taskId();
    const [a, b] = await Promise.all([f.store.create(id, { image: 'tiny', diskMiB: 16 }), f.store.create(id, { image: 'tiny', diskMiB: 16 })]);
    expect([a.created, b.created].sort()).toEqual([false, true]);
    expect(a.disks).toEqual(b.disks);
    expect(creates()).toBe(1);
  });

  it('a discard sent while a create runs waits for it, then removes everything', async () => {
    const id = taskId();
    const [made, discarded] = await Promise.all([f.store.create(id, { image: 'tiny', diskMiB: 16 }), f.store.discard(id)]);
    expect(made.created).toBe(true);
    expect(discarded).toBe(true);
    expect(await disksFolder()).toEqual([]);
  });

  it('refuses a second create with other parameters as a conflict', async () => {
    const id = taskId();
    await f.store.create(id, { image: 'tiny', diskMiB: 16 });
    await expect(f.store.create(id, { image: 'tiny', diskMiB: 32 })).rejects.toMatchObject({ problemType: 'conflict' });
  });

  it('discards the whole task folder, idempotently, and never the image', async () => {
    const id = taskId();
    await f.store.create(id, { image: 'tiny', diskMiB: 16 });
    expect(await f.store.discard(id)).toBe(true);
    expect(existsSync(path.join(f.root, 'disks', id))).toBe(false);
    expect(existsSync(path.join(f.root, 'images/tiny/vmlinuz'))).toBe(true);
    expect(await f.store.discard(id)).toBe(false);
    await expect(f.store.get(id)).rejects.toMatchObject({ problemType: 'not-found' });
  });

  it.each([
    ['inside the data dir', 'images/tiny'],
    ['outside the data dir', '..'],
  ])('removes a planted symlink leading %s as a link, leaving its target alone', async (_, rel) => {
    const id = taskId();
    const target = path.resolve(f.root, rel);
    await symlink(target, path.join(f.root, 'disks', id));
    await expect(f.store.get(id)).rejects.toMatchObject({ problemType: 'path-not-allowed' }); // both leave disks/
    expect(await f.store.discard(id)).toBe(true);
    expect(existsSync(path.join(f.root, 'images/tiny/vmlinuz'))).toBe(true);
    expect(existsSync(path.join(f.root, 'disks', id))).toBe(false);
  });

  it('makes a copy-on-write overlay on a disk image, with a disk boot', async () => {
    const dir = await writeImage(f.root, 'base', { id: 'base', name: 'Base', kind: 'disk', format: 'qcow2', file: 'disk.qcow2' });
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', path.join(dir, 'disk.qcow2'), '32M']);
    const id = taskId();
    const { disks } = await f.store.create(id, { image: 'base', diskMiB: 48 });
    expect(disks.boot).toEqual({ kind: 'disk' });
    expect(disks.disks).toEqual([{ path: path.join(f.root, 'disks', id, 'root.qcow2'), format: 'qcow2', device: 'disk' }]);
    const info = qemuInfo(disks.disks[0]!.path);
    expect(info['backing-filename']).toBe(path.join(dir, 'disk.qcow2'));
    expect(info['backing-filename-format']).toBe('qcow2');
    expect(info['virtual-size']).toBe(48 * MiB);
  });

  it('refuses an overlay smaller than its base image', async () => {
    const dir = await writeImage(f.root, 'base', { id: 'base', name: 'Base', kind: 'disk', format: 'qcow2', file: 'disk.qcow2' });
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', path.join(dir, 'disk.qcow2'), '32M']);
    await expect(f.store.create(taskId(), { image: 'base', diskMiB: 31 })).rejects.toMatchObject({ problemType: 'bad-request' });
  });

  it('gives an iso image a data disk and a read-only cdrom, booting from the cdrom', async () => {
    await writeImage(f.root, 'inst', { id: 'inst', name: 'Installer', kind: 'iso', file: 'x.iso' }, { 'x.iso': 'iso' });
    const id = taskId();
    const { disks } = await f.store.create(id, { image: 'inst', diskMiB: 16 });
    expect(disks.boot).toEqual({ kind: 'cdrom' });
    expect(disks.disks).toEqual([
      { path: path.join(f.root, 'disks', id, 'data.qcow2'), format: 'qcow2', device: 'disk' },
      { path: path.join(f.root, 'images/inst/x.iso'), format: 'raw', device: 'cdrom', readonly: true },
    ]);
  });

  it('answers image-not-found for an unknown image and creates nothing', async () => {
    await expect(f.store.create(taskId(), { image: 'nope', diskMiB: 16 })).rejects.toMatchObject({ problemType: 'image-not-found' });
    expect(await disksFolder()).toEqual([]);
  });

  it('refuses a disk larger than the free space minus the reserve', async () => {
    const g = await makeFixture({ freeBytes: async () => 1000 * MiB, reserveMiB: 100 });
    try {
      await expect(g.store.create(taskId(), { image: 'tiny', diskMiB: 901 })).rejects.toMatchObject({
        problemType: 'insufficient-capacity',
        extensions: { wantMiB: 901, usableMiB: 900 },
      });
      expect((await g.store.create(taskId(), { image: 'tiny', diskMiB: 900 })).created).toBe(true);
    } finally {
      await g.cleanup();
    }
  });

  it('counts what earlier thin disks may still grow by as promised', async () => {
    const g = await makeFixture({ freeBytes: async () => 1000 * MiB, reserveMiB: 100 });
    try {
      const first = taskId();
      await g.store.create(first, { image: 'tiny', diskMiB: 500 });
      const space = await g.store.space();
      expect(space.promisedBytes).toBeGreaterThan(499 * MiB); // the empty qcow2 holds only its metadata
      expect(space.promisedBytes).toBeLessThanOrEqual(500 * MiB);
      await expect(g.store.create(taskId(), { image: 'tiny', diskMiB: 401 })).rejects.toMatchObject({ problemType: 'insufficient-capacity' });
      await g.store.discard(first);
      expect((await g.store.space()).promisedBytes).toBe(0);
      expect((await g.store.create(taskId(), { image: 'tiny', diskMiB: 800 })).created).toBe(true);
    } finally {
      await g.cleanup();
    }
  });

  it('does not promise the same space to two tasks created at once', async () => {
    const g = await makeFixture({ freeBytes: async () => 1000 * MiB, reserveMiB: 100 });
    try {
      const results = await Promise.allSettled([taskId(), taskId(), taskId()].map((id) => g.store.create(id, { image: 'tiny', diskMiB: 400 })));
      expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'fulfilled', 'rejected']);
    } finally {
      await g.cleanup();
    }
  });

  it('refuses a base image that has a backing file of its own', async () => {
    const dir = await writeImage(f.root, 'chained', { id: 'chained', name: 'C', kind: 'disk', format: 'qcow2', file: 'disk.qcow2' });
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', path.join(dir, 'under.qcow2'), '8M']);
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', path.join(dir, 'under.qcow2'), '-F', 'qcow2', path.join(dir, 'disk.qcow2'), '8M']);
    await expect(f.store.create(taskId(), { image: 'chained', diskMiB: 8 })).rejects.toMatchObject({ problemType: 'image-not-found' });
    expect(await disksFolder()).toEqual([]);
  });

  it('turns a failing qemu-img into tool-failed with its stderr, leaving no staging folder', async () => {
    const dir = await writeImage(f.root, 'broken', { id: 'broken', name: 'B', kind: 'disk', format: 'qcow2', file: 'disk.qcow2' });
    await writeFile(path.join(dir, 'disk.qcow2'), 'this is not a qcow2 file');
    const err = await f.store.create(taskId(), { image: 'broken', diskMiB: 16 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ problemType: 'tool-failed' });
    expect((err as Error).message).toMatch(/qemu-img info exited with status 1: .*not in qcow2 format/i);
    expect(await disksFolder()).toEqual([]);
  });

  it('says so when qemu-img is not installed', async () => {
    const g = await makeFixture({ qemuImgBin: '/nonexistent/qemu-img' });
    try {
      const err = await g.store.create(taskId(), { image: 'tiny', diskMiB: 16 }).catch((e: unknown) => e);
      expect(err).toMatchObject({ problemType: 'tool-failed' });
      expect((err as Error).message).toMatch(/not installed/);
      expect(await readdir(path.join(g.root, 'disks'))).toEqual([]);
    } finally {
      await g.cleanup();
    }
  });

  it('removes unfinished staging folders at start', async () => {
    await mkdir(path.join(f.root, 'disks', '.staging-t-1-abc'));
    await f.store.prepare();
    expect(await disksFolder()).toEqual([]);
  });

  it('refuses to create over a task folder that holds no complete set', async () => {
    const id = taskId();
    await mkdir(path.join(f.root, 'disks', id));
    await expect(f.store.create(id, { image: 'tiny', diskMiB: 16 })).rejects.toMatchObject({ problemType: 'conflict' });
    await expect(f.store.get(id)).rejects.toMatchObject({ problemType: 'not-found' });
  });

  it("leaves folders and files open to libvirt's qemu user (0755 folders, 0644 files)", async () => {
    const id = taskId();
    const { disks } = await f.store.create(id, { image: 'tiny', diskMiB: 16 });
    const mode = async (p: string) => (await stat(p)).mode & 0o777;
    expect(await mode(path.join(f.root, 'disks'))).toBe(0o755);
    expect(await mode(path.join(f.root, 'disks', id))).toBe(0o755);
    expect(await mode(disks.disks[0]!.path)).toBe(0o644);
  });

  it.runIf(process.getuid?.() === 0 && hasUser('libvirt-qemu'))('lets the libvirt-qemu user read the disk it will be given', async () => {
    const { disks } = await f.store.create(taskId(), { image: 'tiny', diskMiB: 16 });
    const out = execFileSync('runuser', ['-u', 'libvirt-qemu', '--', 'qemu-img', 'info', '-U', '--output=json', disks.disks[0]!.path], {
      encoding: 'utf8',
    });
    expect(JSON.parse(out).format).toBe('qcow2');
  });
});

function hasUser(name: string): boolean {
  try {
    execFileSync('id', [name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
