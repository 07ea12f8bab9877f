import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ProblemError } from '@cps/common';
import { buildImage, debian12Server, parsePackageList, removeWork, type ImageRecipe } from '../src/image-build.ts';
import { packagesDigest } from '../src/debian-release.ts';
import { ImageLibrary } from '../src/images.ts';
import { StorageLayout } from '../src/paths.ts';
import type { RunTool } from '../src/tool.ts';
import { planDisks } from '../src/task-plan.ts';
import { memoryLogger } from './fixture.ts';

const kver = '6.1.0-99-cloud-amd64';
const release = (sha: string) =>
  [
    '-----BEGIN PGP SIGNED MESSAGE-----',
    'Hash: SHA512',
    '',
    'Origin: Debian',
    'Suite: stable',
    'MD5Sum:',
    ` ${'0'.repeat(32)}  1234 main/binary-amd64/Packages.xz`,
    'SHA256:',
    ` ${'e'.repeat(64)}  999 contrib/binary-amd64/Packages.xz`,
    ` ${sha}  8815332 main/binary-amd64/Packages.xz`,
    ` ${'f'.repeat(64)}  777 main/binary-arm64/Packages.xz`,
    '-----BEGIN PGP SIGNATURE-----',
    '',
    'abc',
    '-----END PGP SIGNATURE-----',
    '',
  ].join('\n');

interface Fake {
  run: RunTool;
  calls: Array<{ cmd: string; args: readonly string[] }>;
  /** What the root held when mkfs.ext4 read it. */
  rootSeen: { files: string[]; unitLink?: string; cfg?: string };
  mirrorSha: string;
  fail?: string;
}

function fakeTools(): Fake {
  const f: Fake = {
    calls: [],
    rootSeen: { files: [] },
    mirrorSha: 'a'.repeat(64),
    run: async (cmd, args) => {
      f.calls.push({ cmd, args });
      if (f.fail === cmd) throw new ProblemError('tool-failed', `${cmd} exited with status 1: it broke`);
      const after = (flag: string) => args[args.indexOf(flag) + 1]!;
      if (cmd === 'curl') await writeFile(after('-o'), release(f.mirrorSha));
      else if (cmd === 'mmdebstrap') {
        const root = args[args.length - 1 - debian12Server.sources.length]!;
        await mkdir(path.join(root, 'boot'), { recursive: true });
        await mkdir(path.join(root, 'etc/ssh'), { recursive: true });
        await mkdir(path.join(root, 'var/lib/dpkg'), { recursive: true });
        await writeFile(path.join(root, 'boot', `vmlinuz-${kver}`), 'kernel bytes');
        await writeFile(path.join(root, 'boot', `initrd.img-${kver}`), 'initrd bytes');
        await writeFile(path.join(root, 'etc/ssh/ssh_host_ed25519_key'), 'secret shared by every task');
      } else if (cmd === 'dpkg-query') return { stdout: 'cloud-init\t22.4.2-1+deb12u1\nbase-files\t12.4+deb12u15\nlibc6:amd64\t2.36-9+deb12u10\n', stderr: '' };
      else if (cmd === 'mkfs.ext4') {
        const root = after('-d');
        const unit = path.join(root, 'etc/systemd/system/multi-user.target.wants/cps-bootstrap.service');
        f.rootSeen = {
          files: await listAll(root),
          unitLink: (await lstat(unit)).isSymbolicLink() ? await readlink(unit) : 'not a link',
          cfg: await readFile(path.join(root, 'etc/cloud/cloud.cfg.d/90-cps.cfg'), 'utf8'),
        };
        await writeFile(args[args.length - 2]!, 'raw ext4');
      } else if (cmd === 'qemu-img') await writeFile(args[args.length - 1]!, 'compressed qcow2');
      return { stdout: '', stderr: '' };
    },
  };
  return f;
}

async function listAll(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await listAll(path.join(dir, e.name), rel)));
    else out.push(rel);
  }
  return out;
}

let root: string;
let layout: StorageLayout;
let lines: string[];
const at = new Date('2026-12-02T18:00:00Z');
const deps = (fake: Fake) => ({ run: fake.run, layout, now: () => at, progress: (l: string) => lines.push(l) });
const imageDir = () => path.join(root, 'images', debian12Server.id);

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'cps-build-'));
  layout = new StorageLayout(root);
  lines = [];
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('buildImage', () => {
  it('runs the recipe: mmdebstrap with the packages and suites, the guest files, ext4, compressed qcow2, and describes it', async () => {
    const fake = fakeTools();
    const r = await buildImage(debian12Server, deps(fake));
    expect(r.cached).toBe(false);
    expect(fake.calls.map((c) => c.cmd)).toEqual(['curl', 'gpgv', 'curl', 'gpgv', 'curl', 'gpgv', 'mmdebstrap', 'dpkg-query', 'mkfs.ext4', 'qemu-img']);
    expect(fake.calls[0]!.args.at(-1)).toBe('http://deb.debian.org/debian/dists/bookworm/InRelease');
    expect(fake.calls[4]!.args.at(-1)).toBe('http://deb.debian.org/debian-security/dists/bookworm-security/InRelease');
    const mm = fake.calls.find((c) => c.cmd === 'mmdebstrap')!.args;
    expect(mm).toContain('--variant=minbase');
    expect(mm).toContain(`--include=${debian12Server.packages.join(',')}`);
    for (const p of ['linux-image-cloud-amd64', 'cloud-init', 'qemu-guest-agent', 'openssh-server']) expect(debian12Server.packages).toContain(p);
    expect(mm.slice(-3)).toEqual(['deb http://deb.debian.org/debian bookworm main', 'deb http://deb.debian.org/debian bookworm-updates main', 'deb http://deb.debian.org/debian-security bookworm-security main']);

    // The guest as mkfs.ext4 saw it: CPS's files in, the unit enabled, no shared SSH host key.
    expect(fake.rootSeen.files).toEqual(expect.arrayContaining(['usr/local/sbin/cps-bootstrap', 'etc/systemd/system/cps-bootstrap.service', 'etc/fstab']));
    expect(fake.rootSeen.files.filter((n) => n.startsWith('etc/ssh/ssh_host_'))).toEqual([]);
    expect(fake.rootSeen.unitLink).toBe('/etc/systemd/system/cps-bootstrap.service');
    expect(fake.rootSeen.cfg).toContain('datasource_list: [NoCloud, None]');
    const mkfs = fake.calls.find((c) => c.cmd === 'mkfs.ext4')!.args;
    expect(mkfs).toEqual(expect.arrayContaining(['-L', 'cps-root', '1024M']));
    expect(fake.calls.find((c) => c.cmd === 'qemu-img')!.args.slice(0, 7)).toEqual(['convert', '-q', '-c', '-f', 'raw', '-O', 'qcow2']);

    const tag = r.inputHash.slice(0, 16);
    const files = (await readdir(imageDir())).sort();
    expect(files).toEqual(['image.json', `disk-${tag}.qcow2`, `initrd-${tag}.img`, `vmlinuz-${tag}`].sort());
    const meta = JSON.parse(await readFile(path.join(imageDir(), 'image.json'), 'utf8'));
    expect(meta).toMatchObject({
      id: 'debian-12-server',
      kind: 'disk',
      format: 'qcow2',
      boot: 'kernel',
      file: `disk-${tag}.qcow2`,
      kernel: `vmlinuz-${tag}`,
      initrd: `initrd-${tag}.img`,
      os: 'debian-12',
      desktop: false,
      kernelVersion: kver,
      builtAt: '2026-12-02T18:00:00.000Z',
      inputHash: r.inputHash,
      sizeBytes: 'compressed qcow2'.length + 'kernel bytes'.length + 'initrd bytes'.length,
    });
    expect(meta.packages).toEqual([
      { name: 'base-files', version: '12.4+deb12u15' },
      { name: 'cloud-init', version: '22.4.2-1+deb12u1' },
      { name: 'libc6:amd64', version: '2.36-9+deb12u10' },
    ]);
    expect(meta.cmdline).toContain('root=/dev/vda');
    expect(await readdir(layout.tmpDir)).toEqual([]);
    expect(lines.some((l) => l.includes('mmdebstrap'))).toBe(true);

    // The library offers it as a disk booted with its own kernel.
    const lib = new ImageLibrary(layout, memoryLogger().log);
    const rec = await lib.get('debian-12-server');
    expect(rec.image).toMatchObject({ kind: 'disk', os: 'debian-12', desktop: false, inputHash: r.inputHash });
    expect(rec.source).toEqual({
      kind: 'disk',
      format: 'qcow2',
      file: path.join(imageDir(), `disk-${tag}.qcow2`),
      kernelBoot: { kernel: path.join(imageDir(), `vmlinuz-${tag}`), initrd: path.join(imageDir(), `initrd-${tag}.img`), cmdline: debian12Server.cmdline },
    });
  });

  it('does not rebuild unchanged inputs; a new mirror state or recipe builds anew and keeps the old files for tasks resting on them', async () => {
    const fake = fakeTools();
    const first = await buildImage(debian12Server, deps(fake));
    fake.calls.length = 0;
    const again = await buildImage(debian12Server, deps(fake));
    expect(again).toEqual({ ...first, cached: true });
    expect(fake.calls.map((c) => c.cmd)).toEqual(['curl', 'gpgv', 'curl', 'gpgv', 'curl', 'gpgv']);

    fake.mirrorSha = 'b'.repeat(64);
    const updated = await buildImage(debian12Server, deps(fake));
    expect(updated.cached).toBe(false);
    expect(updated.inputHash).not.toBe(first.inputHash);
    const files = await readdir(imageDir());
    expect(files).toContain(`disk-${first.inputHash.slice(0, 16)}.qcow2`);
    expect(files).toContain(`disk-${updated.inputHash.slice(0, 16)}.qcow2`);

    const changed: ImageRecipe = { ...debian12Server, packages: [...debian12Server.packages, 'htop'] };
    const other = await buildImage(changed, deps(fake));
    expect(other.inputHash).not.toBe(updated.inputHash);
  });

  it('removes builds older than the previous one, unless a task disk rests on them', async () => {
    const fake = fakeTools();
    const inner = fake.run;
    let backing: string | undefined;
    fake.run = async (cmd, args, opts) => {
      if (cmd === 'qemu-img' && args[0] === 'info') return { stdout: JSON.stringify({ format: 'qcow2', 'virtual-size': 1, ...(backing ? { 'backing-filename': backing } : {}) }), stderr: '' };
      return inner(cmd, args, opts);
    };
    const tags: string[] = [];
    const buildWith = async (sha: string) => {
      fake.mirrorSha = sha;
      const r = await buildImage(debian12Server, deps(fake));
      tags.push(r.inputHash.slice(0, 16));
      // mtimes order the builds; the fake makes them within the same millisecond.
      const at = new Date(Date.UTC(2026, 0, tags.length));
      await utimes(path.join(imageDir(), `disk-${tags.at(-1)}.qcow2`), at, at);
    };
    const disksOf = async () => (await readdir(imageDir())).filter((n) => n.startsWith('disk-')).sort();
    const disk = (i: number) => `disk-${tags[i]}.qcow2`;

    // A task's overlay rests on the first build.
    await mkdir(path.join(root, 'disks', 't-1'), { recursive: true });
    await writeFile(path.join(root, 'disks', 't-1', 'root.qcow2'), 'overlay');
    await buildWith('1'.repeat(64));
    backing = path.join(imageDir(), disk(0));
    await buildWith('2'.repeat(64));
    await buildWith('3'.repeat(64));
    expect(await disksOf()).toEqual([disk(0), disk(1), disk(2)].sort());

    // The task is gone: the first build goes; the one before the newest stays.
    backing = undefined;
    await buildWith('4'.repeat(64));
    expect(await disksOf()).toEqual([disk(2), disk(3)].sort());
    expect((await readdir(imageDir())).filter((n) => n.includes(tags[0]!) || n.includes(tags[1]!))).toEqual([]);
    expect(lines.some((l) => l.includes('removed 2 older build(s)'))).toBe(true);
  });

  it.each(['mmdebstrap', 'mkfs.ext4', 'qemu-img', 'gpgv'])('a failing %s leaves nothing: no image, an empty tmp/', async (tool) => {
    const fake = fakeTools();
    fake.fail = tool;
    await expect(buildImage(debian12Server, deps(fake))).rejects.toThrow(/it broke/);
    expect(existsSync(path.join(imageDir(), 'image.json'))).toBe(false);
    expect(await readdir(layout.tmpDir)).toEqual([]);
    if (tool === 'gpgv') expect(fake.calls.map((c) => c.cmd)).not.toContain('mmdebstrap');
  });

  it('a failed rebuild leaves the previous build as it was', async () => {
    const fake = fakeTools();
    await buildImage(debian12Server, deps(fake));
    const before = await readFile(path.join(imageDir(), 'image.json'), 'utf8');
    const filesBefore = (await readdir(imageDir())).sort();
    fake.mirrorSha = 'c'.repeat(64);
    fake.fail = 'qemu-img';
    await expect(buildImage(debian12Server, deps(fake))).rejects.toThrow();
    expect(await readFile(path.join(imageDir(), 'image.json'), 'utf8')).toBe(before);
    expect((await readdir(imageDir())).sort()).toEqual(filesBefore);
  });

  it.each([
    ['not JSON', '{"id": '],
    ['no inputHash', JSON.stringify({ id: 'debian-12-server' })],
    ['a file name leading out', (h: string) => JSON.stringify({ id: 'debian-12-server', inputHash: h, file: '../../etc/passwd', kernel: 'k', initrd: 'i' })],
    ['files that are not there', (h: string) => JSON.stringify({ id: 'debian-12-server', inputHash: h, file: 'gone.qcow2', kernel: 'k', initrd: 'i' })],
    ['an oversized file', (h: string) => JSON.stringify({ id: 'debian-12-server', inputHash: h, pad: 'x'.repeat(5 * 1024 * 1024) })],
  ])('a hostile image.json (%s) is not taken for a cached build: it is rebuilt', async (_what, body) => {
    const fake = fakeTools();
    const first = await buildImage(debian12Server, deps(fake));
    await writeFile(path.join(imageDir(), 'image.json'), typeof body === 'string' ? body : body(first.inputHash));
    fake.calls.length = 0;
    const r = await buildImage(debian12Server, deps(fake));
    expect(r.cached).toBe(false);
    expect(fake.calls.map((c) => c.cmd)).toContain('mmdebstrap');
    expect(JSON.parse(await readFile(path.join(imageDir(), 'image.json'), 'utf8')).inputHash).toBe(first.inputHash);
  });

  it('never writes through the root\'s symlinks onto the host', async () => {
    const host = path.join(root, 'host-etc');
    await mkdir(host);
    await writeFile(path.join(host, 'fstab'), 'the host fstab');
    const fake = fakeTools();
    const inner = fake.run;
    fake.run = async (cmd, args, opts) => {
      const r = await inner(cmd, args, opts);
      if (cmd === 'mmdebstrap') await symlink(path.join(host, 'fstab'), path.join(args[args.length - 4]!, 'etc', 'fstab'));
      return r;
    };
    await buildImage(debian12Server, deps(fake));
    expect(await readFile(path.join(host, 'fstab'), 'utf8')).toBe('the host fstab');

    const fake2 = fakeTools();
    const inner2 = fake2.run;
    fake2.run = async (cmd, args, opts) => {
      const r = await inner2(cmd, args, opts);
      if (cmd === 'mmdebstrap') await symlink(host, path.join(args[args.length - 4]!, 'etc', 'cloud'));
      return r;
    };
    fake2.mirrorSha = 'd'.repeat(64);
    await expect(buildImage(debian12Server, deps(fake2))).rejects.toThrow(/leads out/);
    expect(await readdir(host)).toEqual(['fstab']);

    // Removing the SSH host keys must not remove the host's.
    await writeFile(path.join(host, 'ssh_host_ed25519_key'), 'the host key');
    const fake3 = fakeTools();
    const inner3 = fake3.run;
    fake3.run = async (cmd, args, opts) => {
      const r = await inner3(cmd, args, opts);
      if (cmd === 'mmdebstrap') {
        await rm(path.join(args[args.length - 4]!, 'etc', 'ssh'), { recursive: true });
        await symlink(host, path.join(args[args.length - 4]!, 'etc', 'ssh'));
      }
      return r;
    };
    fake3.mirrorSha = 'e'.repeat(64);
    await expect(buildImage(debian12Server, deps(fake3))).rejects.toThrow(/leads out/);
    expect(await readFile(path.join(host, 'ssh_host_ed25519_key'), 'utf8')).toBe('the host key');
  });

  it('refuses a root with two kernels or none rather than guessing', async () => {
    const fake = fakeTools();
    const inner = fake.run;
    fake.run = async (cmd, args, opts) => {
      const r = await inner(cmd, args, opts);
      if (cmd === 'mmdebstrap') await writeFile(path.join(args[args.length - 4]!, 'boot', 'vmlinuz-6.1.0-98-cloud-amd64'), 'another');
      return r;
    };
    await expect(buildImage(debian12Server, deps(fake))).rejects.toThrow(/holds 2 kernels/);
    expect(await readdir(layout.tmpDir)).toEqual([]);
  });
});

describe('packagesDigest (the mirror\'s InRelease, hostile input)', () => {
  const sha = '1'.repeat(64);
  it('takes main/binary-amd64/Packages.xz from the SHA256 section only', () => {
    expect(packagesDigest(release(sha))).toBe(sha);
    expect(packagesDigest(release(sha).replace(/\n/g, '\r\n'))).toBe(sha);
  });
  it.each([
    ['no SHA256 section', release(sha).replace('SHA256:', 'SHA1:')],
    ['the entry only in MD5Sum', release(sha).replace(` ${sha}  8815332 main/binary-amd64/Packages.xz\n`, '')],
    ['the entry only after the signature', release(sha).replace(` ${sha}  8815332 main/binary-amd64/Packages.xz\n`, '').replace('abc', ` ${sha}  1 main/binary-amd64/Packages.xz`)],
    ['a short digest', release('1'.repeat(63))],
    ['empty', ''],
    ['binary noise', '\u0000\uffff'.repeat(1000)],
  ])('refuses %s', (_what, text) => {
    expect(() => packagesDigest(text)).toThrow(ProblemError);
  });
  it('refuses an entry listed twice and an oversized file', () => {
    const twice = release(sha).replace('-----BEGIN PGP SIGNATURE', ` ${'2'.repeat(64)}  1 main/binary-amd64/Packages.xz\n-----BEGIN PGP SIGNATURE`);
    expect(() => packagesDigest(twice)).toThrow(/twice/);
    expect(() => packagesDigest(`SHA256:\n${' '.repeat(5 * 1024 * 1024)}`)).toThrow(/larger/);
  });
});

describe('parsePackageList', () => {
  it('refuses lines that are not name<TAB>version, and an empty list', () => {
    expect(() => parsePackageList('cloud-init 22.4\n')).toThrow(ProblemError);
    expect(() => parsePackageList('x\t1\n\u001b[31m\tevil\n')).toThrow(ProblemError);
    expect(() => parsePackageList('\n')).toThrow(/no packages/);
  });
});

describe('a task of a built image', () => {
  it('boots its kernel with the overlay as vda, and gets the seed as a read-only virtio disk (the cloud kernel has no SATA)', async () => {
    const r = await buildImage(debian12Server, deps(fakeTools()));
    const rec = await new ImageLibrary(layout, memoryLogger().log).get('debian-12-server');
    const tag = r.inputHash.slice(0, 16);
    const { disks, own } = planDisks('t1', '/d/t1', rec, { image: 'debian-12-server', diskMiB: 2048, bootstrap: 'b-' + '0'.repeat(24), cloudInit: { userData: '#cloud-config\n' } });
    expect(own.map((o) => o.name)).toEqual(['root.qcow2', 'bootstrap.raw', 'seed.iso']);
    expect(disks.disks).toEqual([
      { path: '/d/t1/root.qcow2', format: 'qcow2', device: 'disk' },
      { path: '/d/t1/bootstrap.raw', format: 'raw', device: 'disk' },
      { path: '/d/t1/seed.iso', format: 'raw', device: 'disk', readonly: true },
    ]);
    expect(disks.boot).toEqual({ kind: 'kernel', kernel: path.join(imageDir(), `vmlinuz-${tag}`), initrd: path.join(imageDir(), `initrd-${tag}.img`), cmdline: debian12Server.cmdline });
  });
});

describe('a built image.json in the library (hostile)', () => {
  it('a boot:kernel disk whose kernel is missing is skipped, not offered', async () => {
    const fake = fakeTools();
    const r = await buildImage(debian12Server, deps(fake));
    await rm(path.join(imageDir(), `vmlinuz-${r.inputHash.slice(0, 16)}`));
    const lib = new ImageLibrary(layout, memoryLogger().log);
    expect((await lib.list()).map((i) => i.image.id)).not.toContain('debian-12-server');
    await expect(lib.get('debian-12-server')).rejects.toThrow(/missing/);
  });
  it('a package list of the wrong shape makes the image unusable, not a crash', async () => {
    const fake = fakeTools();
    await buildImage(debian12Server, deps(fake));
    const file = path.join(imageDir(), 'image.json');
    const meta = JSON.parse(await readFile(file, 'utf8'));
    await writeFile(file, JSON.stringify({ ...meta, packages: [{ name: 1 }] }));
    const lib = new ImageLibrary(layout, memoryLogger().log);
    await expect(lib.get('debian-12-server')).rejects.toThrow(/packages/);
    expect((await stat(file)).isFile()).toBe(true);
  });
});

describe('removeWork (a killed mmdebstrap leaves the host\'s /dev, /proc, /sys mounted in the root)', () => {
  const mountinfo = (work: string, extra: string[] = []) =>
    [
      '22 1 0:21 / /proc rw,nosuid - proc proc rw',
      `97 30 0:5 /null ${work}/root/dev/null rw - devtmpfs udev rw`,
      `98 30 0:22 / ${work}/root/dev/pts rw - devpts devpts rw`,
      `99 30 0:23 / ${work}/root/sys rw - sysfs sysfs rw`,
      `100 30 0:24 / ${work}-other/x rw - tmpfs tmpfs rw`,
      ...extra,
      '',
    ].join('\n');

  it('unmounts what is mounted below the folder, deepest first, then removes it', async () => {
    const work = path.join(root, 'tmp', 'w');
    await mkdir(path.join(work, 'root', 'dev'), { recursive: true });
    const info = path.join(root, 'mountinfo');
    await writeFile(info, mountinfo(work, [`101 30 0:25 / ${work}/root/a\\040b rw - tmpfs tmpfs rw`]));
    const umounted: string[] = [];
    await removeWork(work, async (cmd, args) => {
      expect(cmd).toBe('umount');
      umounted.push(args.at(-1)!);
      if (umounted.length === 4) await writeFile(info, '22 1 0:21 / /proc rw - proc proc rw\n');
      return { stdout: '', stderr: '' };
    }, info);
    expect(umounted).toHaveLength(4);
    expect(umounted).toContain(`${work}/root/a b`);
    expect(umounted).not.toContain(`${work}-other/x`);
    expect(umounted[0]).toBe(`${work}/root/dev/null`);
    expect(umounted).toEqual([...umounted].sort((a, b) => b.length - a.length));
    expect(existsSync(work)).toBe(false);
  });

  it('leaves the folder in place when something stays mounted below it', async () => {
    const work = path.join(root, 'tmp', 'w');
    await mkdir(path.join(work, 'root', 'dev'), { recursive: true });
    await writeFile(path.join(work, 'root', 'dev', 'keep'), 'x');
    const info = path.join(root, 'mountinfo');
    await writeFile(info, mountinfo(work));
    await expect(removeWork(work, async () => ({ stdout: '', stderr: '' }), info)).rejects.toThrow(/still mounted/);
    expect(existsSync(path.join(work, 'root', 'dev', 'keep'))).toBe(true);
  });
});
