import type { Logger } from '@cps/common';
import type { Checkpoints } from './checkpoints.ts';
import type { Lifecycle } from './lifecycle.ts';
import type { Vms } from './vms.ts';

export interface PeriodicCheckpointsDeps {
  vms: Vms;
  lifecycle: Lifecycle;
  checkpoints: Checkpoints;
  log: Logger;
  now?: () => number;
  /** How often guests are looked at for a due checkpoint. */
  intervalMs?: number;
}

/**
 * Checkpoints each running guest whose spec asked for it (`checkpointEverySec`, kept in the
 * domain's metadata), leaving it running. "Due" counts from the last checkpoint on disk, so a
 * restarted provisioner goes on with the same rhythm; a guest never checkpointed counts from when
 * it was first seen here. Paused guests (their owner busy, or suspended by the coordinator) wait.
 */
export class PeriodicCheckpoints {
  private readonly firstSeen = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly d: PeriodicCheckpointsDeps) {}

  start(): void {
    this.timer ??= setInterval(() => void this.tick(), this.d.intervalMs ?? 5000);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  tick(): Promise<void> {
    this.running ??= this.checkAll().finally(() => (this.running = undefined));
    return this.running;
  }

  private async checkAll(): Promise<void> {
    const now = (this.d.now ?? Date.now)();
    let vms;
    try {
      vms = await this.d.vms.list();
    } catch (err) {
      this.d.log.warn({ err: (err as Error).message }, 'periodic checkpoints: cannot list guests');
      return;
    }
    const present = new Set(vms.map((v) => v.taskId));
    for (const id of this.firstSeen.keys()) if (!present.has(id)) this.firstSeen.delete(id);
    for (const vm of vms) {
      if (!vm.checkpointEverySec) continue;
      if (!this.firstSeen.has(vm.taskId)) this.firstSeen.set(vm.taskId, now);
      if (vm.state !== 'running') continue;
      const last = await this.d.checkpoints.read(vm.taskId);
      const since = last ? Date.parse(last.createdAt) : this.firstSeen.get(vm.taskId)!;
      if (now - since < vm.checkpointEverySec * 1000) continue;
      try {
        await this.d.lifecycle.checkpoint(vm.taskId, true);
      } catch (err) {
        this.d.log.warn({ taskId: vm.taskId, err: (err as Error).message }, 'periodic checkpoint failed');
      }
    }
  }
}
