import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { checkTaskId } from './domainXml.ts';

/** What a checkpoint needs to be restored: its file, and what it will hold of this peer's capacity. */
export interface Checkpoint {
  taskId: string;
  path: string;
  sizeBytes: number;
  createdAt: string;
  vcpus: number;
  memoryMiB: number;
  /** The request the guest was made from (JSON), to rebuild its XML on restore; checked like a PUT then. */
  specJson?: string;
  /** The guest's VNC password, so a restored guest keeps it (never shown by the API). */
  vncPassword?: string;
}

/** What a restore needs beyond the file, as taken at checkpoint time. */
export type CheckpointNeed = Pick<Checkpoint, 'vcpus' | 'memoryMiB' | 'specJson' | 'vncPassword'>;

const metaFile = z.object({
  taskId: z.string(),
  createdAt: z.string(),
  vcpus: z.number().int().min(1),
  memoryMiB: z.number().int().min(1),
  specJson: z.string().max(64 * 1024).optional(),
  vncPassword: z.string().regex(/^[A-Za-z0-9]{8}$/).optional(),
});

/**
 * `$CPS_DATA_DIR/checkpoints/<task>/`: `state.sav` (libvirt's save image) and `checkpoint.json`.
 * A new checkpoint is written beside the old one and renamed over it only when whole, so a save
 * that fails half-way never costs the task its previous checkpoint.
 */
export class Checkpoints {
  constructor(private readonly dataDir: string) {}

  dir(taskId: string): string {
    return join(this.dataDir, 'checkpoints', checkTaskId(taskId));
  }

  statePath(taskId: string): string {
    return join(this.dir(taskId), 'state.sav');
  }

  async read(taskId: string): Promise<Checkpoint | undefined> {
    const dir = this.dir(taskId);
    let meta: z.infer<typeof metaFile>;
    let size: number;
    try {
      meta = metaFile.parse(JSON.parse(await readFile(join(dir, 'checkpoint.json'), 'utf8')));
      size = (await stat(this.statePath(taskId))).size;
    } catch {
      // Missing or unreadable: there is no checkpoint to restore from.
      return undefined;
    }
    if (meta.taskId !== taskId) return undefined;
    return { ...meta, path: this.statePath(taskId), sizeBytes: size };
  }

  /** `save` writes the state to the file it is given; only then does it become the checkpoint. */
  async write(
    taskId: string,
    need: CheckpointNeed,
    save: (file: string) => Promise<void>,
    now: () => Date = () => new Date(),
  ): Promise<Checkpoint> {
    const dir = this.dir(taskId);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const staging = join(dir, `.staging-${randomBytes(4).toString('hex')}.sav`);
    try {
      await save(staging);
      await rename(staging, this.statePath(taskId));
    } finally {
      await rm(staging, { force: true });
    }
    const meta = { taskId, createdAt: now().toISOString(), ...need };
    const tmp = join(dir, '.checkpoint.json.tmp');
    await writeFile(tmp, JSON.stringify(meta, null, 2), { mode: 0o600 });
    await rename(tmp, join(dir, 'checkpoint.json'));
    const cp = await this.read(taskId);
    if (!cp) throw new Error(`checkpoint of ${taskId} unreadable right after it was written`);
    return cp;
  }

  async remove(taskId: string): Promise<void> {
    await rm(this.dir(taskId), { recursive: true, force: true });
  }
}
