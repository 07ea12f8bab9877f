import { chmod, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ProblemError, type Logger } from '@cps/common';
import type { StorageSchemas } from '@cps/openapi';
import type { KeptDisk } from './disks.ts';
import { fileNamePattern, isTaskId, type StorageLayout } from './paths.ts';
import type { QemuImg } from './qemu-img.ts';
import { sha256File } from './receive.ts';

export type Export = StorageSchemas['Export'];
type ExportFile = StorageSchemas['ExportFile'];

export interface ExportDeps {
  layout: StorageLayout;
  qemuImg: QemuImg;
  /** How long a copy is kept after its task ended. */
  retentionMs: number;
  now: () => Date;
  log: Logger;
}

const jsonName = 'export.json';

/**
 * Compressed copies of ended tasks' disks (exports/<task>/), kept for a retention period and then
 * swept. Each copy is a flattened qcow2 made with `qemu-img convert -c` in tmp/ and renamed into
 * place with its manifest, so a listed export is always whole.
 */
export class ExportStore {
  constructor(private readonly d: ExportDeps) {}

  async keep(taskId: string, disks: KeptDisk[]): Promise<Export> {
    await mkdir(this.d.layout.tmpDir, { recursive: true, mode: 0o755 });
    const staging = await mkdtemp(path.join(this.d.layout.tmpDir, 'export-'));
    try {
      const files: ExportFile[] = [];
      for (const disk of disks) {
        const name = `${path.basename(disk.name, path.extname(disk.name))}.qcow2`;
        const out = path.join(staging, name);
        await this.d.qemuImg.convertCompressed(disk.path, disk.format, out);
        await chmod(out, 0o644);
        files.push({ name, sizeBytes: (await stat(out)).size, sha256: await sha256File(out) });
      }
      const now = this.d.now();
      const exp: Export = { taskId, createdAt: now.toISOString(), expiresAt: new Date(now.getTime() + this.d.retentionMs).toISOString(), files };
      await writeFile(path.join(staging, jsonName), `${JSON.stringify(exp, null, 2)}\n`, { mode: 0o644 });
      await chmod(staging, 0o755);
      await mkdir(this.d.layout.exportsDir, { recursive: true, mode: 0o755 });
      await this.remove(taskId); // a task id reused: the newer copy wins
      await rename(staging, this.d.layout.exportDir(taskId));
      this.d.log.info({ taskId, files: files.map((f) => f.name), expiresAt: exp.expiresAt }, 'disk copy kept');
      return exp;
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }

  async list(): Promise<Export[]> {
    const out: Export[] = [];
    for (const id of await this.ids()) {
      const e = await this.read(id);
      if (e && !this.expired(e)) out.push(e);
    }
    return out;
  }

  /** The export, or not-found (also once it has expired, even before the sweeper ran). */
  async get(taskId: string): Promise<Export> {
    const e = await this.read(taskId);
    if (!e || this.expired(e)) throw new ProblemError('not-found', `there is no kept copy of task ${taskId}'s disks`);
    return e;
  }

  async file(taskId: string, name: string): Promise<{ path: string; file: ExportFile }> {
    const e = await this.get(taskId);
    const file = e.files.find((f) => f.name === name);
    if (!file || !fileNamePattern.test(name)) throw new ProblemError('not-found', `the copy of task ${taskId} has no file ${JSON.stringify(name.slice(0, 80))}`);
    return { path: path.join(this.d.layout.exportDir(taskId), name), file };
  }

  async delete(taskId: string): Promise<void> {
    this.d.layout.exportDir(taskId); // validates the id
    await this.remove(taskId);
  }

  /** Removes every expired copy; returns their task ids. */
  async sweep(): Promise<string[]> {
    const gone: string[] = [];
    for (const id of await this.ids()) {
      const e = await this.read(id);
      if (e && !this.expired(e)) continue;
      await this.remove(id);
      gone.push(id);
    }
    if (gone.length) this.d.log.info({ taskIds: gone }, 'expired disk copies removed');
    return gone;
  }

  private expired(e: Export): boolean {
    return Date.parse(e.expiresAt) <= this.d.now().getTime();
  }

  private async ids(): Promise<string[]> {
    try {
      return (await readdir(this.d.layout.exportsDir)).filter(isTaskId).sort();
    } catch {
      return [];
    }
  }

  private async read(taskId: string): Promise<Export | null> {
    try {
      return JSON.parse(await readFile(path.join(this.d.layout.exportDir(taskId), jsonName), 'utf8')) as Export;
    } catch {
      return null;
    }
  }

  private async remove(taskId: string): Promise<void> {
    const dir = this.d.layout.exportDir(taskId);
    try {
      await stat(dir);
    } catch {
      return;
    }
    // Renamed away first so a half-removed copy is never served.
    await mkdir(this.d.layout.tmpDir, { recursive: true, mode: 0o755 });
    const gone = await mkdtemp(path.join(this.d.layout.tmpDir, 'deleted-'));
    await rename(dir, path.join(gone, 'x'));
    await rm(gone, { recursive: true, force: true });
  }
}
