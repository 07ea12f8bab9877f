import { randomBytes } from 'node:crypto';
import { link, lstat, mkdir, mkdtemp, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Contract, ProblemError, type Logger } from '@cps/common';
import type { StorageClient, StorageSchemas } from '@cps/openapi';
import type { TaskDiskStore, TaskDisks } from './disks.ts';
import { fileNamePattern, type StorageLayout } from './paths.ts';
import type { PeerPolicy, SourceNode } from './peers.ts';
import { receiveToFile, sha256File } from './receive.ts';

export type TransferManifest = StorageSchemas['TransferManifest'];
export type CheckpointManifest = StorageSchemas['CheckpointManifest'];
export type CheckpointCopy = StorageSchemas['CheckpointCopy'];
type TransferFile = StorageSchemas['TransferFile'];
type Area = StorageSchemas['TransferArea'];

export interface TransferDeps {
  layout: StorageLayout;
  disks: TaskDiskStore;
  contract: Contract;
  /** A typed client for a peer's storage at `baseUrl`; tests route it into another app. */
  peer: (baseUrl: string) => StorageClient;
  /** Says whether a source node may be pulled from, and at which URL. */
  peers: Pick<PeerPolicy, 'check'>;
  log: Logger;
}

/**
 * Moving a task's disks (and the provisioner's checkpoint files) between peers, pulled by the
 * destination. The source lists each file with its size and SHA-256; the destination streams
 * each into a staging folder, checks both, and renames the set into place only when every file
 * is whole, so a transfer cut off leaves nothing and a retry starts clean.
 */
export class Transfers {
  // A disk is hashed once for the manifest, not again for each download of it.
  private readonly hashes = new Map<string, { key: string; sha256: string }>();

  constructor(private readonly d: TransferDeps) {}

  /** Source side: what a peer must fetch to take `taskId` over. Meant for a paused or stopped guest. */
  async manifest(taskId: string): Promise<TransferManifest> {
    const m = await this.d.disks.manifest(taskId);
    const dir = this.d.layout.taskDir(taskId);
    const files: TransferFile[] = [];
    for (const disk of m.disks.disks) {
      if (path.dirname(disk.path) === dir) files.push(await this.describe('disks', path.basename(disk.path), disk.path));
    }
    for (const name of await this.checkpointNames(taskId)) {
      files.push(await this.describe('checkpoints', name, path.join(this.d.layout.checkpointDir(taskId), name)));
    }
    return { taskId, request: m.request, files };
  }

  /** Source side: one listed file, with its path for download. */
  async file(taskId: string, area: Area, name: string): Promise<{ path: string; file: TransferFile }> {
    // A checkpoint file is served without the disks' manifest (whose hashes would be read again).
    const files = area === 'checkpoints' ? (await this.checkpointManifest(taskId)).files : (await this.manifest(taskId)).files;
    const listed = files.find((f) => f.area === area && f.name === name);
    if (!listed) throw new ProblemError('not-found', `task ${taskId} has no ${area} file ${JSON.stringify(name.slice(0, 80))}`);
    return { path: this.areaPath(taskId, area, name), file: listed };
  }

  /** Destination side: takes the task's disks over from the storage of `node`, a peer this node knows. */
  async pull(taskId: string, node: SourceNode): Promise<{ created: boolean; disks: TaskDisks }> {
    const source = await this.d.peers.check(node);
    const peer = this.d.peer(source);
    const listed = await this.fetchManifest(peer, taskId, source);
    const diskFiles = listed.files.filter((f) => f.area === 'disks');
    const ckptFiles = listed.files.filter((f) => f.area === 'checkpoints');
    await mkdir(this.d.layout.tmpDir, { recursive: true, mode: 0o755 });
    const ckptStaging = await mkdtemp(path.join(this.d.layout.tmpDir, 'checkpoints-'));
    try {
      const bootstrapBytes = diskFiles.filter((f) => f.name.endsWith('.raw')).reduce((n, f) => n + f.sizeBytes, 0);
      const result = await this.d.disks.adopt(taskId, listed.request, bootstrapBytes, async (staging, own) => {
        const want = own.map((o) => o.name).sort();
        const got = diskFiles.map((f) => f.name).sort();
        if (JSON.stringify(want) !== JSON.stringify(got)) {
          throw new ProblemError('transfer-failed', `the source lists disks ${got.join(', ')} but this request makes ${want.join(', ')}`);
        }
        for (const f of diskFiles) await this.download(peer, taskId, f, path.join(staging, f.name), source);
        for (const f of ckptFiles) await this.download(peer, taskId, f, path.join(ckptStaging, f.name), source);
      });
      if (result.created && ckptFiles.length) {
        await mkdir(this.d.layout.checkpointsDir, { recursive: true, mode: 0o755 });
        const target = this.d.layout.checkpointDir(taskId);
        await rm(target, { recursive: true, force: true });
        await rename(ckptStaging, target);
      }
      if (result.created) this.d.log.info({ taskId, source, files: listed.files.length }, 'task disks pulled from a peer');
      return result;
    } finally {
      await rm(ckptStaging, { recursive: true, force: true });
    }
  }

  /** Source side: the task's checkpoint files alone (what a backup peer copies after each checkpoint). */
  async checkpointManifest(taskId: string): Promise<CheckpointManifest> {
    const files: TransferFile[] = [];
    for (const name of await this.checkpointNames(taskId)) {
      files.push(await this.describe('checkpoints', name, path.join(this.d.layout.checkpointDir(taskId), name)));
    }
    if (files.length === 0) throw new ProblemError('not-found', `task ${taskId} has no checkpoint here`);
    return { taskId, files };
  }

  /**
   * Destination side (a backup peer): copies the task's latest checkpoint from `node`. Each file is
   * checked (size, SHA-256) in a staging folder; one already here with the same hash is linked, not
   * fetched. The previous copy stays until the new one is whole, then one rename replaces it.
   */
  async pullCheckpoint(taskId: string, node: SourceNode): Promise<CheckpointCopy> {
    const source = await this.d.peers.check(node);
    const peer = this.d.peer(source);
    const listed = await this.fetchCheckpointManifest(peer, taskId, source);
    const target = this.d.layout.checkpointDir(taskId);
    await mkdir(this.d.layout.tmpDir, { recursive: true, mode: 0o755 });
    const staging = await mkdtemp(path.join(this.d.layout.tmpDir, 'checkpoint-copy-'));
    let bytesMoved = 0;
    try {
      const have = new Map((await this.checkpointFilesHere(taskId)).map((f) => [f.name, f]));
      for (const f of listed.files) {
        const mine = have.get(f.name);
        if (mine && mine.sizeBytes === f.sizeBytes && mine.sha256 === f.sha256) {
          await link(path.join(target, f.name), path.join(staging, f.name));
          continue;
        }
        await this.download(peer, taskId, f, path.join(staging, f.name), source);
        bytesMoved += f.sizeBytes;
      }
      await mkdir(this.d.layout.checkpointsDir, { recursive: true, mode: 0o755 });
      // Two renames, the old copy kept aside until the new one is in place.
      const previous = `${target}.previous-${randomBytes(4).toString('hex')}`;
      const hadOne = await rename(target, previous).then(() => true, () => false);
      try {
        await rename(staging, target);
      } catch (err) {
        if (hadOne) await rename(previous, target);
        throw err;
      }
      if (hadOne) await rm(previous, { recursive: true, force: true });
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
    const sizeBytes = listed.files.reduce((n, f) => n + f.sizeBytes, 0);
    this.d.log.info({ taskId, source, files: listed.files.length, sizeBytes, bytesMoved }, 'checkpoint copied from a peer');
    return { taskId, files: listed.files, sizeBytes, bytesMoved };
  }

  private async checkpointFilesHere(taskId: string): Promise<TransferFile[]> {
    return this.checkpointManifest(taskId).then((m) => m.files, () => []);
  }

  private async fetchCheckpointManifest(peer: StorageClient, taskId: string, source: string): Promise<CheckpointManifest> {
    let res;
    try {
      res = await peer.GET('/checkpoints/{taskId}/files', { params: { path: { taskId } } });
    } catch (err) {
      throw new ProblemError('transfer-failed', `cannot reach the source ${source}: ${(err as Error).message}`);
    }
    if (!res.data) {
      const detail = (res.error as { detail?: string } | undefined)?.detail ?? `status ${res.response.status}`;
      throw new ProblemError('transfer-failed', `the source ${source} did not list task ${taskId}'s checkpoint: ${detail}`);
    }
    let m: CheckpointManifest;
    try {
      m = this.d.contract.check<CheckpointManifest>('CheckpointManifest', res.data, 'source checkpoint manifest');
    } catch (err) {
      throw new ProblemError('transfer-failed', `the source ${source} sent a checkpoint manifest that breaks the contract: ${(err as Error).message}`);
    }
    if (m.taskId !== taskId) throw new ProblemError('transfer-failed', `the source answered for task ${m.taskId}, not ${taskId}`);
    if (m.files.some((f) => f.area !== 'checkpoints')) throw new ProblemError('transfer-failed', `the source listed files outside the checkpoint`);
    if (new Set(m.files.map((f) => f.name)).size !== m.files.length) throw new ProblemError('transfer-failed', 'the source listed a file twice');
    return m;
  }

  private async fetchManifest(peer: StorageClient, taskId: string, source: string): Promise<TransferManifest> {
    let res;
    try {
      res = await peer.GET('/disks/{taskId}/files', { params: { path: { taskId } } });
    } catch (err) {
      throw new ProblemError('transfer-failed', `cannot reach the source ${source}: ${(err as Error).message}`);
    }
    if (!res.data) {
      const detail = (res.error as { detail?: string } | undefined)?.detail ?? `status ${res.response.status}`;
      throw new ProblemError('transfer-failed', `the source ${source} did not list task ${taskId}'s files: ${detail}`);
    }
    let m: TransferManifest;
    try {
      m = this.d.contract.check<TransferManifest>('TransferManifest', res.data, 'source manifest');
    } catch (err) {
      throw new ProblemError('transfer-failed', `the source ${source} sent a manifest that breaks the contract: ${(err as Error).message}`);
    }
    if (m.taskId !== taskId) throw new ProblemError('transfer-failed', `the source answered for task ${m.taskId}, not ${taskId}`);
    return m;
  }

  private async download(peer: StorageClient, taskId: string, f: TransferFile, target: string, source: string): Promise<void> {
    try {
      const res = await peer.GET('/disks/{taskId}/files/{area}/{fileName}', {
        params: { path: { taskId, area: f.area, fileName: f.name } },
        parseAs: 'stream',
      });
      if (!res.response.ok) throw new ProblemError('transfer-failed', `the source answered ${res.response.status} for ${f.area}/${f.name}`);
      const got = await receiveToFile(res.response.body, target, { maxBytes: f.sizeBytes, expectedBytes: f.sizeBytes, brokenType: 'transfer-failed' });
      if (got.sha256 !== f.sha256) throw new ProblemError('transfer-failed', `${f.area}/${f.name} hashes to ${got.sha256}, not the ${f.sha256} the source listed`);
    } catch (err) {
      if (err instanceof ProblemError && err.problemType === 'transfer-failed') throw err;
      const why = err instanceof ProblemError ? err.message : (err as Error).message;
      throw new ProblemError('transfer-failed', `${f.area}/${f.name} from ${source}: ${why}`);
    }
  }

  private async describe(area: Area, name: string, file: string): Promise<TransferFile> {
    const s = await stat(file);
    const key = `${s.size}:${s.mtimeMs}:${s.ino}`;
    let cached = this.hashes.get(file);
    if (cached?.key !== key) {
      cached = { key, sha256: await sha256File(file) };
      this.hashes.set(file, cached);
    }
    return { area, name, sizeBytes: s.size, sha256: cached.sha256 };
  }

  /** Plain regular files directly in checkpoints/<task>/ (the provisioner's saved states). */
  private async checkpointNames(taskId: string): Promise<string[]> {
    const dir = this.d.layout.checkpointDir(taskId);
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return [];
    }
    const out: string[] = [];
    for (const name of names.sort()) {
      if (!fileNamePattern.test(name)) continue;
      // lstat: a symlink planted here is never followed, so it cannot hand out a host file.
      const s = await lstat(path.join(dir, name)).catch(() => null);
      if (s?.isFile()) out.push(name);
    }
    return out;
  }

  private areaPath(taskId: string, area: Area, name: string): string {
    const dir = area === 'disks' ? this.d.layout.taskDir(taskId) : this.d.layout.checkpointDir(taskId);
    return path.join(dir, name);
  }
}
