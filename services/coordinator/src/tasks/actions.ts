import { ProblemError, type Logger } from '@cps/common';
import type { ClientsFor, NodeAddress, NodeClients } from '../clients.ts';
import { call, UpstreamError } from '../upstream.ts';
import { CheckpointCopies } from './checkpoint-copies.ts';
import { vmSpec } from './guest-spec.ts';
import type { TaskState } from './states.ts';
import type { Task } from './store.ts';
import type { Tasks } from './tasks.ts';
import { untilRunning } from './until-running.ts';

export type TaskAction = 'suspend' | 'resume' | 'checkpoint' | 'restart';

export interface TaskActionsDeps {
  tasks: Tasks;
  clientsFor: ClientsFor;
  log: Logger;
  /** Written on a restarted guest as on a placed one (placedBy). */
  coordinatorId?: string;
  now?: () => Date;
  sleep?: (ms: number) => Promise<void>;
  pollIntervalMs?: number;
  /** How long a restarted guest may take to report running. */
  startTimeoutMs?: number;
  /** Upper bound on one call to the task's host (a checkpoint writes the guest's memory). */
  callTimeoutMs?: number;
  /** Copies each checkpoint to the task's backups; default: through their storage (checkpoint-copies.ts). */
  copies?: CheckpointCopies;
}

/** The states each action starts from. The one it leads to answers as it is (a retry is no error). */
const from: Record<TaskAction, readonly TaskState[]> = {
  suspend: ['running'],
  resume: ['suspended'],
  checkpoint: ['running'],
  restart: ['running', 'suspended'],
};
const already: Partial<Record<TaskAction, TaskState>> = { suspend: 'suspended', resume: 'running' };

/**
 * What a user does to a task that runs, on its host's provisioner: pause and resume its guest, save
 * its state while it runs on, and a hard reset (the guest made again from the same spec, the disks
 * kept). One action per task at a time; a stop may come meanwhile, and then wins: the action's
 * outcome is not recorded on a task that is stopping.
 */
export class TaskActions {
  private readonly busy = new Set<string>();
  private readonly now: () => Date;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly copies: CheckpointCopies;

  constructor(private readonly d: TaskActionsDeps) {
    this.now = d.now ?? (() => new Date());
    this.copies = d.copies ?? new CheckpointCopies({ clientsFor: d.clientsFor, log: d.log, now: this.now });
    this.sleep = d.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  async run(action: TaskAction, id: string): Promise<Task> {
    const task = this.d.tasks.require(id);
    if (already[action] === task.state) return task;
    if (!from[action].includes(task.state)) {
      throw new ProblemError('conflict', `task ${id} is ${task.state}; ${action} needs it ${from[action].join(' or ')}`, { state: task.state });
    }
    const node = task.node?.ports ? (task.node as NodeAddress) : undefined;
    if (!node) throw new ProblemError('conflict', `task ${id} has no guest to ${action}`, { state: task.state });
    if (this.busy.has(id)) throw new ProblemError('conflict', `another action on task ${id} is under way; try again when it is done`, { state: task.state });
    this.busy.add(id);
    try {
      return await this.perform(action, task, node, this.d.clientsFor(node));
    } catch (err) {
      if (!(err instanceof UpstreamError)) throw err;
      // A stop came meanwhile and took the guest: that is the outcome, not the host's refusal.
      const now = this.d.tasks.get(id);
      if (now && now.state !== task.state) return now;
      this.d.log.warn({ taskId: id, node: node.nodeId, action, failure: err.failure }, 'task action failed');
      throw new ProblemError('upstream-failed', `${action} of task ${id}: ${err.message}`, { upstream: { ...err.failure } });
    } finally {
      this.busy.delete(id);
    }
  }

  private async perform(action: TaskAction, task: Task, node: NodeAddress, { provisioner, storage }: NodeClients): Promise<Task> {
    const id = task.id;
    const where = { service: 'provisioner' as const, nodeId: node.nodeId };
    const path = { params: { path: { taskId: id } }, signal: this.timeout() };
    switch (action) {
      case 'suspend':
        await call(where, () => provisioner.POST('/vms/{taskId}/suspend', path));
        return this.record(id, 'running', (t) => t.transition(id, 'suspended', `guest paused on ${node.nodeId}`));
      case 'resume':
        await call(where, () => provisioner.POST('/vms/{taskId}/resume', path));
        return this.record(id, 'suspended', (t) => t.transition(id, 'running', `guest running again on ${node.nodeId}`));
      case 'checkpoint': {
        const cp = await call(where, () => provisioner.POST('/vms/{taskId}/checkpoint', { ...path, body: { leaveRunning: true } }));
        // Then onto the backups, so the checkpoint outlives this host; recorded together with it.
        const copies = await this.copies.copy(this.d.tasks.require(id), cp.createdAt);
        const message = `checkpoint written on ${node.nodeId} (${cp.sizeBytes} bytes)${copies.message ? `; ${copies.message}` : ''}`;
        return this.record(id, 'running', (t) => t.note(id, message, { lastCheckpointAt: cp.createdAt, ...(copies.checkpointCopies.length ? { checkpointCopies: copies.checkpointCopies } : {}) }));
      }
      case 'restart': {
        // The spec again from what storage holds for the task: the same disks, the same guest.
        const disks = await call({ service: 'storage', nodeId: node.nodeId }, () => storage.GET('/disks/{taskId}', path));
        await call(where, () => provisioner.DELETE('/vms/{taskId}', path));
        const vm = await call(where, () =>
          provisioner.PUT('/vms/{taskId}', { params: { path: { taskId: id } }, body: vmSpec(task, disks, this.d.coordinatorId), signal: this.timeout() }),
        );
        await untilRunning(vm, () => call(where, () => provisioner.GET('/vms/{taskId}', { params: { path: { taskId: id } }, signal: this.timeout() })), {
          nodeId: node.nodeId,
          now: this.now,
          sleep: this.sleep,
          pollIntervalMs: this.d.pollIntervalMs ?? 250,
          startTimeoutMs: this.d.startTimeoutMs ?? 120_000,
        });
        const message = `guest reset on ${node.nodeId} (destroyed and created again; disks kept)`;
        return this.record(id, task.state, (t) => (task.state === 'suspended' ? t.transition(id, 'running', message) : t.note(id, message)));
      }
    }
  }

  /** Records the outcome unless the task moved on meanwhile (a stop): then it answers as it is. */
  private record(id: string, expected: TaskState, change: (tasks: Tasks) => Task): Task {
    const now = this.d.tasks.require(id);
    return now.state === expected ? change(this.d.tasks) : now;
  }

  private timeout(): AbortSignal {
    return AbortSignal.timeout(this.d.callTimeoutMs ?? 120_000);
  }
}
