import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readdir, readFile, realpath, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ProblemError } from '@cps/common';
import { z } from 'zod';
import { checkSuite, packagesDigest } from './debian-release.ts';
import { isInside, type StorageLayout } from './paths.ts';
import type { RunTool } from './tool.ts';

/** One apt source: `deb <uri> <suite> main`. */
export interface AptSource {
  uri: string;
  suite: string;
}

/** A file the recipe writes into the root file system after the packages are installed. */
export interface GuestFile {
  path: string;
  content: string;
  mode: number;
}

/**
 * Everything that decides what an image holds besides the mirror's package versions. Its JSON is
 * half of the input hash: changing any field (a package, a file, the size) makes a new build.
 */
export interface ImageRecipe {
  id: string;
  name: string;
  description: string;
  os: string;
  desktop: boolean;
  sources: AptSource[];
  variant: 'minbase';
  packages: string[];
  files: GuestFile[];
  /** systemd units to enable (multi-user.target.wants links). */
  enable: string[];
  /** Files removed after the install, so every task makes its own (SSH host keys). */
  remove: string[];
  /** The ext4 root file system's size; the task's overlay may be larger and cloud-init grows it. */
  rootMiB: number;
  cmdline: string;
}

const mirror = 'http://deb.debian.org/debian';

/** The guest side of bootstrap disks, as the tiny image's /bin/cps-bootstrap does it. */
const bootstrapScript = `#!/bin/sh
# Runs run.sh from the disk labelled CPSBOOT (storage's bootstrap disk), as the tiny image does.
# virtio disks probe asynchronously: give a late one a few seconds.
dev=
for _ in 1 2 3 4 5 6 7 8 9 10; do
  dev=$(blkid -L CPSBOOT 2>/dev/null) && break
  sleep 0.5
done
[ -n "$dev" ] || exit 0
mkdir -p /bootstrap
mount -t ext4 "$dev" /bootstrap || exit 0
[ -f /bootstrap/run.sh ] || exit 0
echo "cps-guest: bootstrap starting"
cd /bootstrap && sh /bootstrap/run.sh
echo "cps-guest: bootstrap done rc=$?"
`;

const bootstrapUnit = `[Unit]
Description=CPS: run run.sh from the bootstrap disk (label CPSBOOT)
# Not after cloud-final: that one orders itself after multi-user.target, which wants this unit.
After=local-fs.target

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/cps-bootstrap
StandardOutput=journal+console
StandardError=journal+console
RemainAfterExit=yes

[Install]
WantedBy=multi-user.target
`;

/** cloud-init only looks for the seed storage attaches; probing other clouds waits on the network. */
const cloudCfg = `# CPS: the task's seed is a NoCloud ISO (storage's seed.iso); no other cloud is probed.
datasource_list: [NoCloud, None]
# No locales package: en_US.UTF-8 (cloud-init's default) does not exist here, C.UTF-8 always does.
locale: C.UTF-8
`;

export const debian12Server: ImageRecipe = {
  id: 'debian-12-server',
  name: 'Debian 12 server',
  description: 'Debian 12 (bookworm) cloud kernel, cloud-init (NoCloud seed), qemu-guest-agent, OpenSSH server, serial console on ttyS0; runs run.sh from a disk labelled CPSBOOT',
  os: 'debian-12',
  desktop: false,
  sources: [
    { uri: mirror, suite: 'bookworm' },
    { uri: mirror, suite: 'bookworm-updates' },
    { uri: 'http://deb.debian.org/debian-security', suite: 'bookworm-security' },
  ],
  variant: 'minbase',
  packages: ['linux-image-cloud-amd64', 'systemd-sysv', 'udev', 'cloud-init', 'qemu-guest-agent', 'openssh-server', 'sudo', 'ifupdown', 'isc-dhcp-client', 'e2fsprogs'],
  files: [
    { path: 'etc/fstab', content: 'LABEL=cps-root / ext4 errors=remount-ro 0 1\n', mode: 0o644 },
    { path: 'etc/cloud/cloud.cfg.d/90-cps.cfg', content: cloudCfg, mode: 0o644 },
    { path: 'usr/local/sbin/cps-bootstrap', content: bootstrapScript, mode: 0o755 },
    { path: 'etc/systemd/system/cps-bootstrap.service', content: bootstrapUnit, mode: 0o644 },
  ],
  enable: ['cps-bootstrap.service'],
  remove: ['etc/ssh/ssh_host_ecdsa_key', 'etc/ssh/ssh_host_ecdsa_key.pub', 'etc/ssh/ssh_host_ed25519_key', 'etc/ssh/ssh_host_ed25519_key.pub', 'etc/ssh/ssh_host_rsa_key', 'etc/ssh/ssh_host_rsa_key.pub'],
  rootMiB: 1024,
  cmdline: 'root=/dev/vda rw console=tty0 console=ttyS0,115200 panic=-1',
};

export const imageRecipes: ReadonlyMap<string, ImageRecipe> = new Map([[debian12Server.id, debian12Server]]);

export interface BuildDeps {
  run: RunTool;
  layout: StorageLayout;
  now: () => Date;
  /** One human-readable line per step. */
  progress: (line: string) => void;
  keyring?: string;
}

export interface BuildResult {
  id: string;
  inputHash: string;
  /** True when an image with the same input hash was already there: nothing was built. */
  cached: boolean;
  dir: string;
}

/** What a build writes to image.json beside the fields every image has (images.ts reads them). */
const builtImageJson = z.object({
  id: z.string(),
  inputHash: z.string().regex(/^[0-9a-f]{64}$/),
  file: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/),
  kernel: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/),
  initrd: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/),
});

const maxImageJsonBytes = 4 * 1024 * 1024;
const minute = 60_000;

/**
 * Builds `recipe` into images/<id>/ with mmdebstrap, unless a build of the same inputs (the recipe
 * and the mirror's package lists) is already there. Work happens in tmp/storage/ (emptied when
 * storage starts, so a killed build leaves nothing) and the finished files are renamed into the
 * image folder under names carrying the input hash, image.json last: a reader sees the old build
 * or the new one, never half of one, and a task whose overlay rests on an older build keeps its base.
 */
export async function buildImage(recipe: ImageRecipe, d: BuildDeps): Promise<BuildResult> {
  const dir = d.layout.imageDir(recipe.id);
  await mkdir(d.layout.tmpDir, { recursive: true, mode: 0o755 });
  const work = await mkdtemp(path.join(d.layout.tmpDir, `image-build-`));
  try {
    d.progress(`${recipe.id}: reading the mirror's package lists`);
    const suites = [];
    for (const s of recipe.sources) suites.push({ suite: checkSuite(s.suite), packagesSha256: await mirrorState(s, work, d) });
    const inputHash = sha256(JSON.stringify({ recipe, suites }));
    const tag = inputHash.slice(0, 16);

    const have = await existingBuild(dir);
    if (have === inputHash) {
      d.progress(`${recipe.id}: up to date (input ${tag}), nothing to build`);
      return { id: recipe.id, inputHash, cached: true, dir };
    }

    const root = path.join(work, 'root');
    d.progress(`${recipe.id}: installing ${recipe.packages.length} packages and their dependencies with mmdebstrap (about a minute)`);
    await d.run(
      'mmdebstrap',
      [`--variant=${recipe.variant}`, '--mode=root', '--format=directory', `--include=${recipe.packages.join(',')}`, recipe.sources[0]!.suite, root, ...recipe.sources.map((s) => `deb ${s.uri} ${s.suite} main`)],
      { timeoutMs: 30 * minute },
    );

    d.progress(`${recipe.id}: configuring the guest`);
    for (const f of recipe.files) {
      const target = path.join(root, checkRelative(f.path));
      // The root's own symlinks point at absolute paths, which out here are the host's: never
      // write through one (the folder must resolve inside the root; the file is made anew, O_EXCL).
      await checkInsideRoot(root, path.dirname(target));
      await mkdir(path.dirname(target), { recursive: true, mode: 0o755 });
      await rm(target, { force: true });
      await writeFile(target, f.content, { mode: f.mode, flag: 'wx' });
      await chmod(target, f.mode);
    }
    for (const unit of recipe.enable) {
      const wants = path.join(root, 'etc/systemd/system/multi-user.target.wants');
      await checkInsideRoot(root, wants);
      await mkdir(wants, { recursive: true, mode: 0o755 });
      await rm(path.join(wants, unit), { force: true });
      await symlink(`/etc/systemd/system/${checkRelative(unit)}`, path.join(wants, unit));
    }
    for (const f of recipe.remove) {
      const target = path.join(root, checkRelative(f));
      await checkInsideRoot(root, path.dirname(target));
      await rm(target, { force: true });
    }

    const listed = await d.run('dpkg-query', [`--admindir=${path.join(root, 'var/lib/dpkg')}`, '-W', '-f', '${Package}\\t${Version}\\n'], { timeoutMs: minute });
    const packages = parsePackageList(listed.stdout);
    const kver = await kernelVersion(path.join(root, 'boot'));

    const out = path.join(work, 'out');
    await mkdir(out, { mode: 0o755 });
    const names = { file: `disk-${tag}.qcow2`, kernel: `vmlinuz-${tag}`, initrd: `initrd-${tag}.img` };
    // Copied out of the root before it becomes a disk: the provisioner boots them directly.
    await copyFile(path.join(root, 'boot', `vmlinuz-${kver}`), path.join(out, names.kernel));
    await copyFile(path.join(root, 'boot', `initrd.img-${kver}`), path.join(out, names.initrd));

    d.progress(`${recipe.id}: making a ${recipe.rootMiB} MiB ext4 root file system`);
    const raw = path.join(work, 'root.raw');
    await d.run('mkfs.ext4', ['-q', '-F', '-L', 'cps-root', '-E', 'root_owner=0:0', '-d', root, raw, `${recipe.rootMiB}M`], { timeoutMs: 15 * minute });
    await rm(root, { recursive: true, force: true });

    d.progress(`${recipe.id}: compressing to qcow2`);
    await d.run('qemu-img', ['convert', '-q', '-c', '-f', 'raw', '-O', 'qcow2', raw, path.join(out, names.file)], { timeoutMs: 30 * minute });
    await rm(raw, { force: true });

    let sizeBytes = 0;
    for (const n of Object.values(names)) {
      await chmod(path.join(out, n), 0o644);
      sizeBytes += (await stat(path.join(out, n))).size;
    }
    const meta = {
      id: recipe.id,
      name: recipe.name,
      description: recipe.description,
      kind: 'disk',
      format: 'qcow2',
      file: names.file,
      boot: 'kernel',
      kernel: names.kernel,
      initrd: names.initrd,
      cmdline: recipe.cmdline,
      sizeBytes,
      sha256: await fileSha256(path.join(out, names.file)),
      os: recipe.os,
      desktop: recipe.desktop,
      kernelVersion: kver,
      packages,
      builtAt: d.now().toISOString(),
      inputHash,
    };

    await mkdir(dir, { recursive: true, mode: 0o755 });
    await chmod(dir, 0o755);
    for (const n of Object.values(names)) await rename(path.join(out, n), path.join(dir, n));
    await writeFile(path.join(work, 'image.json'), `${JSON.stringify(meta, null, 2)}\n`, { mode: 0o644 });
    await rename(path.join(work, 'image.json'), path.join(dir, 'image.json'));
    const pruned = await pruneOldBuilds(dir, tag, d).catch((err: Error) => (d.progress(`${recipe.id}: old builds kept: ${err.message}`), 0));
    if (pruned > 0) d.progress(`${recipe.id}: removed ${pruned} older build(s) no task disk rests on`);
    d.progress(`${recipe.id}: built (input ${tag}, ${packages.length} packages, ${Math.round(sizeBytes / 1024 / 1024)} MiB) in ${dir}`);
    return { id: recipe.id, inputHash, cached: false, dir };
  } finally {
    // Its failure must not hide the build's own error; the folder then waits for storage's next start.
    await removeWork(work, d.run).catch((err: Error) => d.progress(`${recipe.id}: ${err.message}`));
  }
}

/**
 * Removes a build's work folder, but never through a mount: mmdebstrap bind-mounts /dev nodes,
 * /dev/pts, /proc and /sys into the root while it runs and, if it is killed (our timeout sends
 * SIGKILL), leaves them there; a recursive rm would then delete the host's own files. Mounts below
 * the folder are unmounted first (deepest first); if one stays, the folder stays too (storage
 * empties tmp/storage/ at its next start, after a reboot has dropped the mounts).
 */
export async function removeWork(work: string, run: RunTool, mountinfo = '/proc/self/mountinfo'): Promise<void> {
  let mounts = await mountsUnder(work, mountinfo);
  for (const m of mounts) await run('umount', ['-l', m], { timeoutMs: minute }).catch(() => undefined);
  mounts = await mountsUnder(work, mountinfo);
  if (mounts.length > 0) throw new ProblemError('tool-failed', `left ${work} in place: ${mounts.length} file systems are still mounted below it (${mounts[0]})`);
  await rm(work, { recursive: true, force: true });
}

/** Mount points at or below `dir`, deepest first, from mountinfo's fifth field (octal escapes undone). */
async function mountsUnder(dir: string, mountinfo: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(mountinfo, 'utf8');
  } catch {
    return [];
  }
  const root = path.resolve(dir);
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const field = line.split(' ')[4];
    if (!field) continue;
    const mp = field.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (mp === root || mp.startsWith(`${root}/`)) out.push(mp);
  }
  return out.sort((a, b) => b.length - a.length);
}

/** The suite's InRelease, its signature checked with Debian's keyring, reduced to one digest. */
async function mirrorState(s: AptSource, work: string, d: BuildDeps): Promise<string> {
  if (!/^https?:\/\/[A-Za-z0-9.-]+(:[0-9]{1,5})?(\/[A-Za-z0-9._~/-]*)?$/.test(s.uri)) throw new ProblemError('validation-failed', `mirror ${JSON.stringify(s.uri.slice(0, 80))} is not a plain http(s) URL`);
  const file = path.join(work, `${s.suite}.InRelease`);
  await d.run('curl', ['-fsSL', '--max-time', '60', '--max-filesize', String(4 * 1024 * 1024), '-o', file, `${s.uri.replace(/\/$/, '')}/dists/${s.suite}/InRelease`], { timeoutMs: 90_000 });
  await d.run('gpgv', ['--keyring', d.keyring ?? '/usr/share/keyrings/debian-archive-keyring.gpg', file], { timeoutMs: 30_000 });
  return packagesDigest(await readFile(file, 'utf8'));
}

const buildFile = /^(?:disk-([0-9a-f]{16})\.qcow2|vmlinuz-([0-9a-f]{16})|initrd-([0-9a-f]{16})\.img)$/;

/**
 * Removes the files of older builds in the image folder, except the newest of them (a task being
 * created right now may have read the previous image.json) and any whose disk a task's overlay in
 * disks/ (staging folders too) rests on: such an overlay names its base by path. Returns how many
 * builds went.
 */
export async function pruneOldBuilds(dir: string, currentTag: string, d: Pick<BuildDeps, 'run' | 'layout'>): Promise<number> {
  const byTag = new Map<string, string[]>();
  for (const n of await readdir(dir)) {
    const m = buildFile.exec(n);
    const t = m && (m[1] ?? m[2] ?? m[3]);
    if (!t || t === currentTag) continue;
    byTag.set(t, [...(byTag.get(t) ?? []), n]);
  }
  if (byTag.size === 0) return 0;
  const newest = [...byTag.keys()].map((t) => ({ t, at: 0 }));
  for (const e of newest) e.at = (await stat(path.join(dir, `disk-${e.t}.qcow2`)).catch(() => null))?.mtimeMs ?? 0;
  newest.sort((a, b) => b.at - a.at);
  const keep = new Set([newest[0]!.t]);
  const bases = await basesInUse(d);
  for (const t of byTag.keys()) if (bases.has(path.join(dir, `disk-${t}.qcow2`))) keep.add(t);
  let removed = 0;
  for (const [t, files] of byTag) {
    if (keep.has(t)) continue;
    for (const n of files) await rm(path.join(dir, n), { force: true });
    removed++;
  }
  return removed;
}

/** The backing files of every qcow2 in disks/<task> and the disks/.staging-* folders (qemu-img info -U). */
async function basesInUse(d: Pick<BuildDeps, 'run' | 'layout'>): Promise<Set<string>> {
  const out = new Set<string>();
  const tasks = await readdir(d.layout.disksDir).catch(() => [] as string[]);
  for (const t of tasks) {
    const files = await readdir(path.join(d.layout.disksDir, t)).catch(() => [] as string[]);
    for (const f of files.filter((n) => n.endsWith('.qcow2'))) {
      const { stdout } = await d.run('qemu-img', ['info', '-U', '--output=json', '-f', 'qcow2', path.join(d.layout.disksDir, t, f)], { timeoutMs: 30_000 });
      const backing = (JSON.parse(stdout) as Record<string, unknown>)['backing-filename'];
      if (typeof backing === 'string') out.add(path.resolve(path.join(d.layout.disksDir, t), backing));
    }
  }
  return out;
}

/** `dir`, or its deepest existing ancestor, resolves inside `root` (no symlink out to the host). */
async function checkInsideRoot(root: string, dir: string): Promise<void> {
  let probe = dir;
  for (;;) {
    const real = await realpath(probe).catch(() => null);
    if (real !== null) {
      if (!isInside(await realpath(root), real)) throw new ProblemError('tool-failed', `${path.relative(root, dir)} leads out of the image's root`);
      return;
    }
    probe = path.dirname(probe);
  }
}

/** The input hash of the build in `dir`, or null when there is none or it is not whole. */
async function existingBuild(dir: string): Promise<string | null> {
  try {
    const file = path.join(dir, 'image.json');
    if ((await stat(file)).size > maxImageJsonBytes) return null;
    const r = builtImageJson.safeParse(JSON.parse(await readFile(file, 'utf8')));
    if (!r.success) return null;
    for (const n of [r.data.file, r.data.kernel, r.data.initrd]) {
      const s = await stat(path.join(dir, n));
      if (!s.isFile() || s.size === 0) return null;
    }
    return r.data.inputHash;
  } catch {
    return null;
  }
}

/** `dpkg-query -W` lines, `name<TAB>version`, as the image's package list. */
export function parsePackageList(text: string): { name: string; version: string }[] {
  const out: { name: string; version: string }[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const m = /^([a-z0-9][a-z0-9+.-]*(?::[a-z0-9]+)?)\t([A-Za-z0-9.+~:-]+)$/.exec(line);
    if (!m) throw new ProblemError('tool-failed', `dpkg-query printed an unexpected line: ${JSON.stringify(line.slice(0, 120))}`);
    out.push({ name: m[1]!, version: m[2]! });
  }
  if (out.length === 0) throw new ProblemError('tool-failed', 'dpkg-query listed no packages');
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The one kernel the root's /boot holds (a second one would make the choice a guess). */
async function kernelVersion(boot: string): Promise<string> {
  const kernels = (await readdir(boot)).filter((n) => n.startsWith('vmlinuz-')).map((n) => n.slice('vmlinuz-'.length));
  if (kernels.length !== 1) throw new ProblemError('tool-failed', `the image's /boot holds ${kernels.length} kernels, expected one`);
  const kver = kernels[0]!;
  const initrd = await stat(path.join(boot, `initrd.img-${kver}`)).catch(() => null);
  if (!initrd?.isFile()) throw new ProblemError('tool-failed', `the image's /boot has no initrd.img-${kver} (initramfs-tools did not run?)`);
  return kver;
}

function checkRelative(p: string): string {
  if (p === '' || path.isAbsolute(p) || p.split('/').some((part) => part === '' || part === '.' || part === '..')) throw new Error(`recipe path ${p} is not a plain relative path`);
  return p;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

function fileSha256(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file)
      .on('data', (c) => h.update(c))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}
