import { constants } from 'node:fs';
import { access, chmod, copyFile, lstat, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ProblemError, type Logger } from '@cps/common';
import type { BootstrapStore } from './bootstraps.ts';
import { checkCapacity, checkQuota, MiB, type FreeBytes, type Space } from './capacity.ts';
import type { GuestCopy } from './copy-in.ts';
import type { ImageLibrary, ImageRecord } from './images.ts';
import { KeyedLock } from './keyed-lock.ts';
import { isTaskId, type StorageLayout } from './paths.ts';
import type { QemuImg } from './qemu-img.ts';
import { buildSeedIso } from './seed.ts';
import { planDisks, sameRequest, type OwnFile, type TaskDisks, type TaskDisksRequest } from './task-plan.ts';
import type { RunTool } from './tool.ts';

export type { TaskDisks, TaskDisksRequest } from './task-plan.ts';

/** A disk of an ending task that its owner asked to keep (TaskDisksRequest.keepCopy). */
export interface KeptDisk {
  name: string;
  path: string;
  format: 'qcow2' | 'raw';
}

export interface TaskDiskDeps {
  layout: StorageLayout;
  images: ImageLibrary;
  qemuImg: QemuImg;
  bootstraps: BootstrapStore;
  /** Runs xorriso for cloud-init seeds. */
  run: RunTool;
  freeBytes: FreeBytes;
  /** Free space kept back for the host, logs and images; a disk must fit beside it. */
  reserveBytes: number;
  /** The donor's share for task disks (their full sizes); undefined: no quota. */
  quotaBytes?: number;
  /** Copies files into a disk's file system (TaskDisksRequest.copyIn); absent: copyIn is refused. */
  guestCopy?: GuestCopy;
  /** Called before a task's disks are removed when it asked for a copy; if it throws, the disks stay. */
  keepCopy?: (taskId: string, disks: KeptDisk[]) => Promise<void>;
  log: Logger;
}

/** disks/<task>/task.json: what was asked and what was made; written last, so its presence means "complete". */
export interface Manifest {
  request: TaskDisksRequest;
  disks: TaskDisks;
  createdAt: string;
}

export const manifestName = 'task.json';
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
    const bootstrapBytes = async () => (req.bootstrap !== undefined ? (await this.d.bootstraps.get(req.bootstrap)).sizeBytes : 0);
    return this.assemble(taskId, req, 'created', bootstrapBytes, (staging, image, own) => this.build(staging, taskId, image, req, own));
  }

  /**
   * Puts a complete set in place whose files `fill` writes into the staging folder (a transfer
   * from a peer), with the same locks, quota and capacity checks and all-or-nothing rename as
   * `create`. Overlays are pointed at this peer's copy of their base image. `extraBytes`: what
   * the files beside the main disk (a bootstrap disk) will take; the bootstrap need not be here.
   */
  adopt(taskId: string, req: TaskDisksRequest, extraBytes: number, fill: (staging: string, own: OwnFile[]) => Promise<void>): Promise<{ created: boolean; disks: TaskDisks }> {
    return this.assemble(taskId, req, 'adopted', async () => extraBytes, async (staging, image, own) => {
      await fill(staging, own);
      for (const f of own) await chmod(path.join(staging, f.name), fileMode);
      if (image.source.kind === 'disk') {
        const overlay = path.join(staging, own[0]!.name);
        await this.d.qemuImg.rebaseUnsafe(overlay, { path: image.source.file, format: image.source.format });
        const info = await this.d.qemuImg.info(overlay, 'qcow2');
        if (info.backingFile !== image.source.file || info.dataFile !== undefined) {
          throw new ProblemError('transfer-failed', `the overlay from the peer does not rest on image ${image.image.id} alone`);
        }
      }
    });
  }

  private assemble(
    taskId: string,
    req: TaskDisksRequest,
    verb: string,
    extraBytes: () => Promise<number>,
    make: (staging: string, image: ImageRecord, own: OwnFile[]) => Promise<void>,
  ): Promise<{ created: boolean; disks: TaskDisks }> {
    const dir = this.d.layout.taskDir(taskId);
    return this.lock.run(taskId, async () => {
      const existing = await this.readManifest(dir);
      if (existing) {
        if (!sameRequest(existing.request, req)) {
          throw new ProblemError(
            'conflict',
            `task ${taskId} already has disks from image ${existing.request.image} with ${existing.request.diskMiB} MiB (and other settings); discard them first`,
          );
        }
        return { created: false, disks: existing.disks };
      }
      if (await exists(dir)) {
        throw new ProblemError('conflict', `disks/${taskId} exists but holds no complete disk set; discard it first`);
      }
      // One check-and-build at a time across tasks, so two tasks cannot both be promised the same
      // free space, and an image in use is never deleted under a build.
      const disks = await this.spaceLock.run('space', async () => {
        const image = await this.d.images.get(req.image);
        await this.checkSize(image, req.diskMiB);
        const want = req.diskMiB * MiB + (await extraBytes());
        if (this.d.quotaBytes !== undefined) checkQuota(want, this.d.quotaBytes, await this.committedBytes());
        checkCapacity(want, await this.space());
        const plan = planDisks(taskId, dir, image, req);
        const staging = await this.staging(taskId);
        try {
          await make(staging, image, plan.own);
          const manifest: Manifest = { request: req, disks: plan.disks, createdAt: new Date().toISOString() };
          await writeFile(path.join(staging, manifestName), `${JSON.stringify(manifest, null, 2)}\n`, { mode: fileMode });
          await rename(staging, dir);
          return plan.disks;
        } catch (err) {
          await rm(staging, { recursive: true, force: true });
          throw err;
        }
      });
      this.d.log.info({ taskId, image: req.image, diskMiB: req.diskMiB, bootstrap: req.bootstrap, copyIn: req.copyIn?.bootstrap, cloudInit: req.cloudInit !== undefined }, `task disks ${verb}`);
      return { created: true, disks };
    });
  }

  /** The task's disks, or a `not-found` problem. */
  async get(taskId: string): Promise<TaskDisks> {
    return (await this.manifest(taskId)).disks;
  }

  /** The task's manifest (what was asked and made), or a `not-found` problem. */
  async manifest(taskId: string): Promise<Manifest> {
    const m = await this.readManifest(this.d.layout.taskDir(taskId));
    if (!m) throw new ProblemError('not-found', `task ${taskId} has no disks on this peer`);
    return m;
  }

  /** Removes disks/<task> entirely (after keeping a copy when the task asked); true when there was something to remove. */
  discard(taskId: string): Promise<boolean> {
    const entry = this.d.layout.taskEntry(taskId);
    return this.lock.run(taskId, async () => {
      let st;
      try {
        st = await lstat(entry);
      } catch {
        return false;
      }
      if (st.isDirectory()) {
        const m = await this.readManifest(entry);
        if (m?.request.keepCopy && this.d.keepCopy) await this.d.keepCopy(taskId, ownDisks(entry, m));
      }
      // A symlink planted here is removed as a link; its target is never followed.
      await rm(entry, { recursive: st.isDirectory(), force: true });
      this.d.log.info({ taskId }, 'task disks discarded');
      return true;
    });
  }

  /** Tasks on this peer whose disks were made from `imageId`. */
  async tasksUsingImage(imageId: string): Promise<string[]> {
    return (await this.manifests()).filter(([, m]) => m.request.image === imageId).map(([t]) => t);
  }

  /** Runs `work` while no task's disks are being built or counted. */
  exclusive<T>(work: () => Promise<T>): Promise<T> {
    return this.spaceLock.run('space', work);
  }

  /** The data dir's space, net of what existing task disks may still grow by. */
  async space(): Promise<Space> {
    let promised = 0;
    for (const [, m] of await this.manifests()) {
      for (const f of ownDisks(this.d.layout.taskDir(m.disks.taskId), m)) {
        promised += Math.max(0, (await fullBytes(f, m)) - (await allocatedBytes(f.path)));
      }
    }
    return { freeBytes: await this.d.freeBytes(this.d.layout.root), reserveBytes: this.d.reserveBytes, promisedBytes: promised };
  }

  /** What existing task disks count against the quota: each at its full size. */
  async committedBytes(): Promise<number> {
    let total = 0;
    for (const [, m] of await this.manifests()) {
      for (const f of ownDisks(this.d.layout.taskDir(m.disks.taskId), m)) total += await fullBytes(f, m);
    }
    return total;
  }

  get quotaBytes(): number | undefined {
    return this.d.quotaBytes;
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

  private async staging(taskId: string): Promise<string> {
    await mkdir(this.d.layout.disksDir, { recursive: true, mode: dirMode });
    const staging = await mkdtemp(path.join(this.d.layout.disksDir, `${stagingPrefix}${taskId}-`));
    await chmod(staging, dirMode); // mkdtemp makes 0700, which qemu could not traverse
    return staging;
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

  private async build(staging: string, taskId: string, image: ImageRecord, req: TaskDisksRequest, own: OwnFile[]): Promise<void> {
    const src = image.source;
    if (req.copyIn !== undefined) {
      if (src.kind !== 'disk') {
        throw new ProblemError('bad-request', `image ${image.image.id} is a ${src.kind} image: its task disk has no file system to copy into (use bootstrap instead)`);
      }
      if (!this.d.guestCopy) throw new ProblemError('bad-request', 'copyIn is not available on this peer (libguestfs is not set up)');
    }
    for (const f of own) {
      const file = path.join(staging, f.name);
      if (f.role === 'main') {
        await this.d.qemuImg.createQcow2(file, req.diskMiB, src.kind === 'disk' ? { path: src.file, format: src.format } : undefined);
        // Into the task's own overlay in staging: the shared image is never written.
        if (req.copyIn !== undefined) await this.d.guestCopy!.copyIn(file, 'qcow2', req.copyIn);
      } else if (f.role === 'bootstrap') {
        // Each task gets its own copy: run.sh may write results into it. A reflink where the file system allows.
        await copyFile((await this.d.bootstraps.diskOf(req.bootstrap!)).path, file, constants.COPYFILE_FICLONE);
      } else {
        await buildSeedIso(this.d.run, staging, taskId, req.cloudInit!);
      }
      await chmod(file, fileMode);
    }
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

/** The writable disks in the task's own folder (not a shared image, not the read-only seed). */
export function ownDisks(dir: string, m: Manifest): KeptDisk[] {
  return m.disks.disks
    .filter((d) => path.dirname(d.path) === dir && d.device === 'disk' && !d.readonly)
    .map((d) => ({ name: path.basename(d.path), path: d.path, format: d.format }));
}

/** What a disk may grow to: a qcow2 to the task's diskMiB, a raw file to its size. */
async function fullBytes(f: KeptDisk, m: Manifest): Promise<number> {
  if (f.format === 'qcow2') return m.request.diskMiB * MiB;
  try {
    return (await stat(f.path)).size;
  } catch {
    return 0;
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
