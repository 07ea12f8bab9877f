import { mkdir, mkdtemp, open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ProblemError, type Logger } from '@cps/common';
import type { StorageSchemas } from '@cps/openapi';
import { MiB } from './capacity.ts';
import { extractTar } from './extract-tar.ts';
import { bootstrapIdPattern, type StorageLayout } from './paths.ts';
import { receiveToFile } from './receive.ts';
import type { RunTool } from './tool.ts';

export type Bootstrap = StorageSchemas['Bootstrap'];

export interface BootstrapDeps {
  layout: StorageLayout;
  run: RunTool;
  maxArchiveBytes: number;
  log: Logger;
  mkfsBin?: string;
}

/** The label the tiny guest looks for (scripts/guest/bin/cps-bootstrap). */
export const bootstrapLabel = 'CPSBOOT';
export const bootstrapDiskName = 'disk.raw';
const jsonName = 'bootstrap.json';
const maxEntries = 10_000;

/**
 * ext4 needs room beyond the files (inodes, folders, the journal) and the guest's run.sh may
 * write results beside them: a quarter more, 4 KiB a file, and 16 MiB, in whole MiB.
 */
export function bootstrapDiskMiB(files: ReadonlyArray<{ sizeBytes: number }>): number {
  const data = files.reduce((n, f) => n + Math.ceil(f.sizeBytes / 4096) * 4096 + 4096, 0);
  return Math.ceil((data * 1.25) / MiB) + 16;
}

/**
 * Bootstrap disks: a tar of the user's files becomes a raw ext4 disk labelled CPSBOOT, built in
 * tmp/ with `mkfs.ext4 -d` (no mount, no root tricks) and renamed to bootstraps/<id> when done.
 * A task that asks for one gets its own copy (the guest may write to it).
 */
export class BootstrapStore {
  constructor(private readonly d: BootstrapDeps) {}

  async upload(body: ReadableStream<Uint8Array> | null, contentLength?: number): Promise<{ created: boolean; bootstrap: Bootstrap }> {
    await mkdir(this.d.layout.tmpDir, { recursive: true, mode: 0o755 });
    const staging = await mkdtemp(path.join(this.d.layout.tmpDir, 'bootstrap-'));
    try {
      const archive = path.join(staging, 'archive.tar');
      const got = await receiveToFile(body, archive, {
        maxBytes: this.d.maxArchiveBytes,
        ...(contentLength !== undefined ? { expectedBytes: contentLength } : {}),
      });
      const id = `b-${got.sha256.slice(0, 24)}`;
      const existing = await this.find(id);
      if (existing) return { created: false, bootstrap: existing };

      const files = path.join(staging, 'files');
      await mkdir(files, { mode: 0o755 });
      const list = await extractTar(archive, files, { maxEntries });
      await rm(archive);
      const out = path.join(staging, 'disk');
      await mkdir(out, { mode: 0o755 });
      const disk = path.join(out, bootstrapDiskName);
      const sizeBytes = bootstrapDiskMiB(list) * MiB;
      const fh = await open(disk, 'wx', 0o644);
      await fh.truncate(sizeBytes);
      await fh.close();
      // -d copies the folder in as the file system's root; root_owner keeps it root's, not ours.
      await this.d.run(this.d.mkfsBin ?? 'mkfs.ext4', ['-q', '-F', '-L', bootstrapLabel, '-m', '0', '-E', 'root_owner=0:0', '-d', files, disk], { timeoutMs: 5 * 60_000 });
      const bootstrap: Bootstrap = { id, sha256: got.sha256, sizeBytes, files: list };
      await writeFile(path.join(out, jsonName), `${JSON.stringify(bootstrap, null, 2)}\n`, { mode: 0o644 });
      await mkdir(this.d.layout.bootstrapsDir, { recursive: true, mode: 0o755 });
      try {
        await rename(out, this.d.layout.bootstrapDir(id));
      } catch (err) {
        const raced = await this.find(id);
        if (raced) return { created: false, bootstrap: raced };
        throw err;
      }
      this.d.log.info({ bootstrapId: id, files: list.length, sizeBytes }, 'bootstrap disk built');
      return { created: true, bootstrap };
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }

  async get(id: string): Promise<Bootstrap> {
    const b = await this.find(id);
    if (!b) throw new ProblemError('not-found', `there is no bootstrap ${id} on this peer`);
    return b;
  }

  /** The disk file a task copies. */
  async diskOf(id: string): Promise<{ path: string; bootstrap: Bootstrap }> {
    const bootstrap = await this.get(id);
    return { path: path.join(this.d.layout.bootstrapDir(id), bootstrapDiskName), bootstrap };
  }

  async delete(id: string): Promise<void> {
    if (!(await this.find(id))) return;
    await mkdir(this.d.layout.tmpDir, { recursive: true, mode: 0o755 });
    const gone = await mkdtemp(path.join(this.d.layout.tmpDir, 'deleted-'));
    await rename(this.d.layout.bootstrapDir(id), path.join(gone, 'b'));
    await rm(gone, { recursive: true, force: true });
    this.d.log.info({ bootstrapId: id }, 'bootstrap deleted');
  }

  private async find(id: string): Promise<Bootstrap | null> {
    if (!bootstrapIdPattern.test(id)) throw new ProblemError('not-found', `${JSON.stringify(id.slice(0, 80))} is not a bootstrap id`);
    try {
      return JSON.parse(await readFile(path.join(this.d.layout.bootstrapDir(id), jsonName), 'utf8')) as Bootstrap;
    } catch {
      return null;
    }
  }
}
