import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The built-in guest: scripts/build-tiny-image.sh, run into a private data dir so that a rebuild here
// never swaps the image under a guest that another suite is booting.
const repo = resolve(import.meta.dirname, '../..');
const script = (name: string) => join(repo, 'scripts', name);
const realData = process.env.CPS_DATA_DIR ?? '/var/lib/cps';
const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;
// npm ci would delete the node_modules this very test runs from: only run set-up when it will not.
const npmUpToDate = (() => {
  try {
    return statSync(join(repo, 'package-lock.json')).mtimeMs <= statSync(join(repo, 'node_modules/.package-lock.json')).mtimeMs;
  } catch {
    return false;
  }
})();

let data: string;
let tiny: string;
let firstBuild: { stdout: string; stderr: string };

const build = (env: Record<string, string> = {}) =>
  run('bash', [script('build-tiny-image.sh')], { env: { ...process.env, CPS_DATA_DIR: data, ...env }, timeout: 240_000 });

const initrdListing = () => execFileSync('sh', ['-c', `gzip -dc "${tiny}/initrd.img" | cpio -t --quiet`], { encoding: 'utf8' }).split('\n');
const initrdFile = (path: string) =>
  execFileSync('sh', ['-c', `gzip -dc "${tiny}/initrd.img" | cpio -i --to-stdout --quiet "${path}"`], { encoding: 'utf8' });

beforeAll(async () => {
  data = mkdtempSync(join(tmpdir(), 'cps-tiny-test-'));
  tiny = join(data, 'images', 'tiny');
  // Reuse the kernel .deb that set-up already downloaded (26 MB) when there is one.
  if (existsSync(join(realData, 'cache'))) symlinkSync(join(realData, 'cache'), join(data, 'cache'));
  firstBuild = await build();
});

afterAll(() => {
  if (data) rmSync(data, { recursive: true, force: true });
});

describe('build-tiny-image.sh', () => {
  it('writes image.json that describes the kernel and initrd beside it', () => {
    expect(firstBuild.stdout).toMatch(/built tiny/);
    const image = JSON.parse(readFileSync(join(tiny, 'image.json'), 'utf8'));
    expect(image).toMatchObject({ id: 'tiny', name: 'tiny', kind: 'kernel' });
    expect(typeof image.description).toBe('string');
    expect(image.cmdline).toContain('console=tty0');
    expect(image.cmdline).toContain('console=ttyS0,115200');
    const kernel = statSync(join(tiny, 'vmlinuz'));
    const initrd = statSync(join(tiny, 'initrd.img'));
    expect(image.sizeBytes).toBe(kernel.size + initrd.size);
    expect(image.sha256).toBe(createHash('sha256').update(readFileSync(join(tiny, 'initrd.img'))).digest('hex'));
  });

  it('leaves the files world-readable, for libvirt-qemu', () => {
    for (const f of ['vmlinuz', 'initrd.img', 'image.json']) expect(statSync(join(tiny, f)).mode & 0o004).toBe(0o004);
    for (const d of [data, join(data, 'images'), tiny]) expect(statSync(d).mode & 0o005).toBe(0o005);
  });

  it('packs busybox, /init and the virtio modules into a newc initramfs', () => {
    const files = initrdListing();
    for (const f of ['init', 'bin/busybox', 'bin/sh', 'etc/inittab', 'bin/cps-tick', 'bin/cps-bootstrap']) expect(files).toContain(f);
    expect(files.some((f) => /^lib\/modules\/[^/]+\/kernel\/drivers\/block\/virtio_blk\.ko$/.test(f))).toBe(true);
    expect(files.some((f) => /^lib\/modules\/[^/]+\/kernel\/drivers\/virtio\/virtio_pci\.ko$/.test(f))).toBe(true);
    expect(files.some((f) => /^lib\/modules\/[^/]+\/modules\.dep$/.test(f))).toBe(true);
    // busybox's insmod cannot read compressed modules.
    expect(files.filter((f) => /\.ko\.(xz|zst|gz)$/.test(f))).toEqual([]);
  });

  it('has an /init that says it is up and ticks on ttyS0', () => {
    expect(initrdFile('init')).toContain('cps-guest: up');
    expect(initrdFile('bin/cps-tick')).toContain('cps-guest: tick $n');
    expect(initrdFile('bin/cps-bootstrap')).toContain('cps-guest: bootstrap done rc=');
    expect(initrdFile('etc/inittab')).toMatch(/^tty1::respawn:/m);
  });

  it('skips a second build when nothing changed', async () => {
    const before = statSync(join(tiny, 'initrd.img')).mtimeMs;
    const again = await build();
    expect(again.stdout).toMatch(/up to date/);
    expect(statSync(join(tiny, 'initrd.img')).mtimeMs).toBe(before);
  });

  it('rebuilds when the image is older than its sources', async () => {
    const old = new Date('2001-01-01T00:00:00Z');
    utimesSync(join(tiny, 'image.json'), old, old);
    const again = await build();
    expect(again.stdout).toMatch(/built tiny/);
    expect(statSync(join(tiny, 'image.json')).mtimeMs).toBeGreaterThan(old.getTime());
  });
});

describe('probe-accel.sh', () => {
  it('fails loudly, writing nothing, when there is no image to boot', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'cps-probe-test-'));
    try {
      const err = await run('bash', [script('probe-accel.sh')], { env: { ...process.env, CPS_DATA_DIR: empty }, timeout: 60_000 }).catch((e) => e);
      expect(err.code).not.toBe(0);
      expect(err.stderr).toMatch(/no tiny image/);
      expect(existsSync(join(empty, 'accel.json'))).toBe(false);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it.skipIf(!existsSync(join(realData, 'accel.json')))('left an accel.json that says kvm or tcg, when and why', () => {
    const accel = JSON.parse(readFileSync(join(realData, 'accel.json'), 'utf8'));
    expect(['kvm', 'tcg']).toContain(accel.accelerator);
    expect(Number.isNaN(Date.parse(accel.probedAt))).toBe(false);
    expect(accel.detail).toMatch(/tcg: /);
  });
});

describe('setup.sh', () => {
  it.skipIf(!isRoot || !npmUpToDate)('runs a second time without redoing anything', async () => {
    // CI has just run set-up; on a developer machine the first call here may do the real work.
    await run('bash', [script('setup.sh')], { cwd: tmpdir(), timeout: 280_000 });
    const { stdout } = await run('bash', [script('setup.sh')], { cwd: tmpdir(), timeout: 280_000 });
    expect(stdout).toMatch(/setup: Debian packages already installed/);
    expect(stdout).toMatch(/setup: libvirtd already running/);
    expect(stdout).toMatch(/setup: npm packages up to date/);
    expect(stdout).toMatch(/setup: tiny image up to date/);
    expect(stdout).toMatch(/setup: accelerator already probed/);
    expect(stdout).toMatch(/setup: done/);
  });
});
