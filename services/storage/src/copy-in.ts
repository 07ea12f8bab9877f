import { lstat, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { ProblemError, type Logger } from '@cps/common';
import type { StorageSchemas } from '@cps/openapi';
import type { BootstrapStore } from './bootstraps.ts';
import type { DiskFormat } from './qemu-img.ts';
import type { RunTool } from './tool.ts';

export type CopyInRequest = StorageSchemas['CopyIn'];

export interface GuestCopyDeps {
  bootstraps: BootstrapStore;
  run: RunTool;
  /** Where the bootstrap's files are unpacked for the copy (tmp/storage). */
  tmpDir: string;
  /** For guestfish: LIBGUESTFS_BACKEND=direct and, where KVM hangs, LIBGUESTFS_BACKEND_SETTINGS=force_tcg. */
  env: Record<string, string>;
  timeoutMs: number;
  guestfishBin?: string;
  debugfsBin?: string;
  log: Logger;
}

const maxTargetLength = 1024;
const targetChars = /^\/[A-Za-z0-9._+@=,~/-]*$/;
// The task's disk is the appliance's only added disk, so /dev/sda; /dev/sdb is the appliance's own
// root, which guestfish mounts (and "copies into") without a word. VG/LV names for LVM guests.
const filesystemPattern = /^\/dev\/(sda[0-9]{0,3}|[A-Za-z0-9_+-][A-Za-z0-9_.+-]*\/[A-Za-z0-9_+-][A-Za-z0-9_.+-]*)$/;

/**
 * A folder in the guest's file system as guestfish will be given it: absolute, of plain
 * characters, no `.` or `..` part, no empty part. The contract says the same; this is checked
 * again because the value becomes a guestfish argument (where a lone `:` would start a new command).
 */
export function checkGuestPath(p: string): string {
  const bad = (why: string) => new ProblemError('path-not-allowed', `copyIn.target ${JSON.stringify(p.slice(0, 80))} ${why}`);
  if (p.length > maxTargetLength) throw bad(`is longer than ${maxTargetLength} characters`);
  if (!targetChars.test(p)) throw bad('must be an absolute path of letters, digits and ._+@=,~- only');
  const parts = p.split('/').slice(1);
  if (p !== '/' && parts.some((s, i) => s === '.' || s === '..' || (s === '' && i < parts.length - 1))) {
    throw bad('must not have `.`, `..` or empty parts');
  }
  return p === '/' ? p : p.replace(/\/$/, '');
}

/** A libguestfs device name on the task's disk (/dev/sda1, /dev/sda, /dev/VG/LV). */
export function checkFilesystem(fs: string): string {
  if (fs.length > 64 || !filesystemPattern.test(fs)) {
    throw new ProblemError('bad-request', `copyIn.filesystem ${JSON.stringify(fs.slice(0, 80))} is not a device of the task's disk such as /dev/sda1, /dev/sda or /dev/VG/LV`);
  }
  return fs;
}

/**
 * The libguestfs path of the paper: the files of an uploaded bootstrap archive (already read by
 * our strict tar reader and made into an ext4 disk) are copied into the file system of a task's
 * disk with guestfish, which runs its own small appliance VM and never mounts the (untrusted)
 * image on the host. The caller passes the task's staging copy, so a failure leaves nothing.
 */
export class GuestCopy {
  constructor(private readonly d: GuestCopyDeps) {}

  async copyIn(disk: string, format: DiskFormat, req: CopyInRequest): Promise<void> {
    const target = checkGuestPath(req.target);
    const fs = req.filesystem === undefined ? undefined : checkFilesystem(req.filesystem);
    const { path: bootDisk, bootstrap } = await this.d.bootstraps.diskOf(req.bootstrap);
    await mkdir(this.d.tmpDir, { recursive: true, mode: 0o755 });
    const work = await mkdtemp(path.join(this.d.tmpDir, 'copy-in-'));
    try {
      const files = path.join(work, 'files');
      await mkdir(files, { mode: 0o755 });
      // debugfs reads the CPSBOOT disk without mounting it; it splits -R on spaces, so it is
      // given a path relative to its working folder, never the data dir's (which may hold spaces).
      await this.d.run(this.d.debugfsBin ?? 'debugfs', ['-R', 'rdump / files', bootDisk], { cwd: work, timeoutMs: 5 * 60_000 });
      await rm(path.join(files, 'lost+found'), { recursive: true, force: true }); // mkfs.ext4's, not the user's
      // debugfs reports errors on stderr but exits 0: check that every file came out whole.
      for (const f of bootstrap.files) {
        const s = await lstat(path.join(files, f.path)).catch(() => null);
        if (!s?.isFile() || s.size !== f.sizeBytes) throw new ProblemError('tool-failed', `debugfs did not unpack ${f.path} of bootstrap ${bootstrap.id}`);
      }
      const entries = (await readdir(files)).sort().map((e) => path.join(files, e));
      const args = ['--rw', `--format=${format}`, '-a', disk, ...(fs ? ['-m', fs] : ['-i']), 'mkdir-p', target];
      if (entries.length) args.push(':', 'copy-in', ...entries, target);
      await this.d.run(this.d.guestfishBin ?? 'guestfish', args, { env: this.d.env, timeoutMs: this.d.timeoutMs });
      this.d.log.info({ disk, bootstrapId: bootstrap.id, target, filesystem: fs ?? 'inspected', files: bootstrap.files.length }, 'files copied into the guest file system');
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }
}
