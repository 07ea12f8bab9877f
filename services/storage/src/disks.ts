import { constants } from 'node:fs';
import { access, chmod, lstat, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ProblemError, type Logger } from '@cps/common';
import type { StorageSchemas } from '@cps/openapi';
import { checkCapacity, MiB, type FreeBytes, type Space } from './capacity.ts';
import type { ImageLibrary, ImageRecord } from './images.ts';
import { KeyedLock } from './keyed-lock.ts';
import { isTaskId, type StorageLayout } from './paths.ts';
import type { QemuImg } from './qemu-img.ts';

export type TaskDisks = StorageSchemas['TaskDisks'];
export type TaskDisksRequest = StorageSchemas['TaskDisksRequest'];
type DiskSpec = StorageSchemas['DiskSpec'];
type BootSpec = StorageSchemas['BootSpec'];

export interface TaskDiskDeps {
  layout: StorageLayout;
  images: ImageLibrary;
  qemuImg: QemuImg;
  freeBytes: FreeBytes;
  /** Free space kept back for the host, logs and images; a disk must fit beside it. */
  reserveBytes: number;
  log: Logger;
}

/** disks/<task>/task.json: what was asked and what was made; written last, so its presence means "complete". */
interface Manifest {
  request: TaskDisksRequest;
  disks: TaskDisks;
  createdAt: string;
}

const manifestName = 'task.json';
const stagingPrefix = '.staging-';
// libvirt's qemu user must traverse the folders and read the files before dynamic_ownership
// chowns the disk to it at domain start (and restores it at stop); umask must not take that away.
const dirMode = 0o755;
const fileMode = 0o644;

/**
 * A task's disks on this peer. Each task's files are built in a staging folder beside
 * disks/<task> and renamed into place as a whole, so disks/<task> either holds a complete set
 * with its manifest or does not exist; a crash leaves only a staging folder that `prepare` removes.
 */
export class TaskDiskStore {
  private readonly lock = new KeyedLock();
  private readonly spaceLock = new KeyedLock();

  constructor(private readonly d: TaskDiskDeps) {}

  /** Idempotent by task id: the same request again gives the same disks and `created: false`. */
  create(taskId: string, req: TaskDisksRequest): Promise<{ created: boolean; disks: TaskDisks }> {
    const dir = this.d.layout.taskDir(taskId);
    return this.lock.run(taskId, async () => {
      const existing = await this.readManifest(dir);
      if (existing) {
        if (existing.request.image !== req.image || existing.request.diskMiB !== req.diskMiB) {
          throw new ProblemError(
            'conflict',
            `task ${taskId} already has disks from image ${existing.request.image} with ${existing.request.diskMiB} MiB; discard them first`,
          );
        }
        return { created: false, disks: existing.disks };
      }
      if (await exists(dir)) {
        throw new ProblemError('conflict', `disks/${taskId} exists but holds no complete disk set; discard it first`);
      }
      // One check-and-build at a time across tasks, so two tasks cannot both be promised the same
      // free space (building is only qemu-img create, a few ms), and an image in use is never deleted.
      const disks = await this.spaceLock.run('space', async () => {
        const image = await this.d.images.get(req.image);
        await this.checkSize(image, req.diskMiB);
        checkCapacity(req.diskMiB * MiB, await this.space());
        return this.build(taskId, dir, image, req);
      });
      this.d.log.info({ taskId, image: req.image, diskMiB: req.diskMiB }, 'task disks created');
      return { created: true, disks };
    });
  }

  /** Tasks on this peer whose disks were made from `imageId`. */
  async tasksUsingImage(imageId: string): Promise<string[]> {
    const out: string[] = [];
    for (const [taskId, m] of await this.manifests()) if (m.request.image === imageId) out.push(taskId);
    return out;
  }

  /** Runs `work` while no task's disks are being built or counted. */
  exclusive<T>(work: () => Promise<T>): Promise<T> {
    return this.spaceLock.run('space', work);
  }

  /** Every complete task disk set on this peer, by task id. */
  private async manifests(): Promise<Array<[string, Manifest]>> {
    let names: string[];
    try {
      names = await readdir(this.d.layout.disksDir);
    } catch {
      return [];
    }
    const out: Array<[string, Manifest]> = [];
    for (const name of names.sort()) {
      if (!isTaskId(name)) continue;
      const m = await this.readManifest(path.join(this.d.layout.disksDir, name));
      if (m) out.push([name, m]);
    }
    return out;
  }

  /** The task's disks, or a `not-found` problem. */
  async get(taskId: string): Promise<TaskDisks> {
    const dir = this.d.layout.taskDir(taskId);
    const m = await this.readManifest(dir);
    if (!m) throw new ProblemError('not-found', `task ${taskId} has no disks on this peer`);
    return m.disks;
  }

  /** Removes disks/<task> entirely; true when there was something to remove. */
  discard(taskId: string): Promise<boolean> {
    const dir = this.d.layout.taskEntry(taskId);
    return this.lock.run(taskId, async () => {
      let st;
      try {
        st = await lstat(dir);
      } catch {
        return false;
      }
      // A symlink planted here is removed as a link; its target is never followed.
      await rm(dir, { recursive: st.isDirectory(), force: true });
      this.d.log.info({ taskId }, 'task disks discarded');
      return true;
    });
  }

  /** The data dir's space, net of what existing task disks may still grow by. */
  async space(): Promise<Space> {
    return {
      freeBytes: await this.d.freeBytes(this.d.layout.root),
      reserveBytes: this.d.reserveBytes,
      promisedBytes: await this.promisedBytes(),
    };
  }

  private async promisedBytes(): Promise<number> {
    let names: string[];
    try {
      names = await readdir(this.d.layout.disksDir);
    } catch {
      return 0;
    }
    let total = 0;
    for (const name of names) {
      if (!isTaskId(name)) continue;
      const dir = path.join(this.d.layout.disksDir, name);
      const m = await this.readManifest(dir);
      if (!m) continue;
      // Only the files in the task's folder grow; a cdrom is shared and read-only.
      const own = m.disks.disks.filter((d) => path.dirname(d.path) === dir && !d.readonly);
      for (const d of own) total += Math.max(0, m.request.diskMiB * MiB - (await allocatedBytes(d.path)));
    }
    return total;
  }

  /** For /healthz: the disks folder exists and this process may write there. */
  async health(): Promise<{ dataDir: string }> {
    await access(this.d.layout.disksDir, constants.W_OK);
    return { dataDir: this.d.layout.root };
  }

  /** Creates disks/ and removes staging folders a crash left behind; run once at start. */
  async prepare(): Promise<void> {
    await mkdir(this.d.layout.disksDir, { recursive: true, mode: dirMode });
    await chmod(this.d.layout.disksDir, dirMode);
    const closed = await untraversableAncestors(this.d.layout.disksDir);
    if (closed.length) {
      this.d.log.warn({ folders: closed }, "libvirt's qemu user cannot reach the disks: these folders lack o+x");
    }
    for (const name of await readdir(this.d.layout.disksDir)) {
      if (!name.startsWith(stagingPrefix)) continue;
      await rm(path.join(this.d.layout.disksDir, name), { recursive: true, force: true });
      this.d.log.warn({ staging: name }, 'removed an unfinished disk set');
    }
    // Uploads, builds and transfers a crash cut off: never renamed into place, so never used.
    await rm(this.d.layout.tmpDir, { recursive: true, force: true });
    await mkdir(this.d.layout.tmpDir, { recursive: true, mode: dirMode });
  }

  private async checkSize(image: ImageRecord, diskMiB: number): Promise<void> {
    if (image.source.kind !== 'disk') return;
    const base = await this.d.qemuImg.info(image.source.file, image.source.format);
    // A base with its own backing file could name any file on the host; images must be flat.
    if (base.backingFile !== undefined) {
      throw new ProblemError('image-not-found', `image ${image.image.id} is not usable: it has a backing file (flatten it with qemu-img convert)`);
    }
    if (diskMiB * MiB < base.virtualSizeBytes) {
      throw new ProblemError(
        'bad-request',
        `image ${image.image.id} needs a disk of at least ${Math.ceil(base.virtualSizeBytes / MiB)} MiB; ${diskMiB} MiB was asked`,
      );
    }
  }

  private async build(taskId: string, dir: string, image: ImageRecord, req: TaskDisksRequest): Promise<TaskDisks> {
    await mkdir(this.d.layout.disksDir, { recursive: true, mode: dirMode });
    const staging = await mkdtemp(path.join(this.d.layout.disksDir, `${stagingPrefix}${taskId}-`));
    try {
      await chmod(staging, dirMode); // mkdtemp makes 0700, which qemu could not traverse
      const src = image.source;
      const disks: DiskSpec[] = [];
      let boot: BootSpec;
      if (src.kind === 'disk') {
        await this.qcow2(staging, 'root.qcow2', req.diskMiB, { path: src.file, format: src.format });
        disks.push({ path: path.join(dir, 'root.qcow2'), format: 'qcow2', device: 'disk' });
        boot = { kind: 'disk' };
      } else {
        await this.qcow2(staging, 'data.qcow2', req.diskMiB);
        disks.push({ path: path.join(dir, 'data.qcow2'), format: 'qcow2', device: 'disk' });
        if (src.kind === 'iso') {
          disks.push({ path: src.file, format: 'raw', device: 'cdrom', readonly: true });
          boot = { kind: 'cdrom' };
        } else {
          boot = { kind: 'kernel', kernel: src.kernel, initrd: src.initrd, ...(src.cmdline !== undefined ? { cmdline: src.cmdline } : {}) };
        }
      }
      const out: TaskDisks = { taskId, image: image.image.id, disks, boot };
      const manifest: Manifest = { request: { image: req.image, diskMiB: req.diskMiB }, disks: out, createdAt: new Date().toISOString() };
      await writeFile(path.join(staging, manifestName), `${JSON.stringify(manifest, null, 2)}\n`, { mode: fileMode });
      await rename(staging, dir);
      return out;
    } catch (err) {
      await rm(staging, { recursive: true, force: true });
      throw err;
    }
  }

  private async qcow2(staging: string, name: string, sizeMiB: number, backing?: { path: string; format: 'qcow2' | 'raw' }) {
    const file = path.join(staging, name);
    await this.d.qemuImg.createQcow2(file, sizeMiB, backing);
    await chmod(file, fileMode);
  }

  private async readManifest(dir: string): Promise<Manifest | null> {
    let text: string;
    try {
      text = await readFile(path.join(dir, manifestName), 'utf8');
    } catch {
      return null;
    }
    try {
      const m = JSON.parse(text) as Manifest;
      if (m?.disks?.taskId && Array.isArray(m.disks.disks) && m.request) return m;
    } catch {
      // fall through: a damaged manifest is treated like an unfinished set
    }
    this.d.log.warn({ dir }, 'task.json is damaged');
    return null;
  }
}

/** Folders on the way to `dir` that others may not search (qemu runs as its own user). */
async function untraversableAncestors(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (let p = path.resolve(dir); ; p = path.dirname(p)) {
    if (((await stat(p)).mode & 0o001) === 0) out.push(p);
    if (path.dirname(p) === p) return out;
  }
}

async function allocatedBytes(file: string): Promise<number> {
  try {
    return (await stat(file)).blocks * 512;
  } catch {
    return 0;
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await lstat(p);
    return true;
  } catch {
    return false;
  }
}
