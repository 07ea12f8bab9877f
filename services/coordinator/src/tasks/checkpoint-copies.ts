import type { Logger } from '@cps/common';
import type { ClientsFor, NodeAddress } from '../clients.ts';
import { call, UpstreamError } from '../upstream.ts';
import type { Task } from './store.ts';

export type CheckpointCopyRecord = NonNullable<Task['checkpointCopies']>[number];

export interface CheckpointCopiesDeps {
  clientsFor: ClientsFor;
  log: Logger;
  now?: () => Date;
  /** Upper bound on one backup's copy (it moves the guest's memory). */
  callTimeoutMs?: number;
}

export interface CopyOutcome {
  copied: CheckpointCopyRecord[];
  failed: { nodeId: string; detail: string }[];
  bytesMoved: number;
  /** The task's copies after this round: a backup that failed keeps its older entry. */
  checkpointCopies: CheckpointCopyRecord[];
  /** For the task's history; empty when there was no backup to copy to. */
  message: string;
}

const hasPorts = (n: { ports?: unknown }): n is NodeAddress => n.ports !== undefined;

/**
 * After a checkpoint, each of the task's backup peers (the other subscribers of its placement)
 * pulls a copy from the task's host through its storage, which checks size and SHA-256 and keeps
 * the previous copy until the new one is whole. One at a time, so the host's link is not split N
 * ways; a backup that fails keeps its older entry (its older copy is still whole there). The
 * caller records the outcome with the checkpoint itself.
 */
export class CheckpointCopies {
  private readonly now: () => Date;

  constructor(private readonly d: CheckpointCopiesDeps) {
    this.now = d.now ?? (() => new Date());
  }

  async copy(task: Task, checkpointAt: string): Promise<CopyOutcome> {
    const taskId = task.id;
    const host = task.node && hasPorts(task.node) ? task.node : undefined;
    const backups = (task.backups ?? []).filter(hasPorts).filter((b) => b.nodeId !== host?.nodeId);
    const before = task.checkpointCopies ?? [];
    if (!host || backups.length === 0) return { copied: [], failed: [], bytesMoved: 0, checkpointCopies: before, message: '' };
    const sourceNode = { address: host.address, port: host.ports.storage };
    const copied: CheckpointCopyRecord[] = [];
    const failed: CopyOutcome['failed'] = [];
    for (const b of backups) {
      try {
        const r = await call({ service: 'storage', nodeId: b.nodeId }, () =>
          this.d.clientsFor(b).storage.POST('/checkpoints/{taskId}/pull', {
            params: { path: { taskId } },
            body: { sourceNode },
            signal: AbortSignal.timeout(this.d.callTimeoutMs ?? 600_000),
          }),
        );
        copied.push({ nodeId: b.nodeId, checkpointAt, copiedAt: this.now().toISOString(), sizeBytes: r.sizeBytes, bytesMoved: r.bytesMoved });
      } catch (err) {
        if (!(err instanceof UpstreamError)) throw err;
        failed.push({ nodeId: b.nodeId, detail: err.failure.detail });
        this.d.log.warn({ taskId, backup: b.nodeId, failure: err.failure }, 'checkpoint copy to a backup failed');
      }
    }
    const bytesMoved = copied.reduce((n, c) => n + c.bytesMoved, 0);
    const kept = before.filter((c) => !copied.some((n) => n.nodeId === c.nodeId));
    const message = [
      copied.length ? `copied to ${copied.map((c) => `${c.nodeId} (${c.bytesMoved} of ${c.sizeBytes} bytes moved)`).join(', ')}` : '',
      failed.length ? `not copied to ${failed.map((f) => `${f.nodeId} (${f.detail})`).join(', ')}` : '',
    ]
      .filter(Boolean)
      .join('; ');
    this.d.log.info({ taskId, copies: copied.length, failed: failed.length, bytesMoved }, 'checkpoint copies made');
    return { copied, failed, bytesMoved, checkpointCopies: [...kept, ...copied].slice(-32), message };
  }
}
