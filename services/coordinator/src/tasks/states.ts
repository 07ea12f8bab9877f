import type { CoordinatorSchemas } from '@cps/openapi';

export type TaskState = CoordinatorSchemas['TaskState'];

/**
 * Every move a task may make. A task is placed (placing), its disks and guest are made on the
 * chosen node (starting), and it runs; a failure on a node sends it back to placing once (the
 * paper's best-effort re-deploy). A task no peer can take yet, or one whose start time has not
 * come, waits (queued) and is placed again when capacity frees. A running guest may be paused
 * (suspended) and let run again; it keeps its host slot meanwhile. Stopping is allowed from
 * anywhere but stopped, so a user can cancel a task that waits or is still being placed, and clean
 * up after a failed one.
 */
export const transitions: Readonly<Record<TaskState, readonly TaskState[]>> = {
  pending: ['placing', 'queued', 'stopping', 'failed'],
  queued: ['placing', 'stopping', 'failed'],
  placing: ['starting', 'queued', 'stopping', 'failed'],
  starting: ['running', 'placing', 'stopping', 'failed'],
  running: ['suspended', 'stopping', 'failed'],
  suspended: ['running', 'stopping', 'failed'],
  stopping: ['stopped', 'failed'],
  stopped: [],
  failed: ['stopping'],
};

/** The states a task ends in: it holds nothing on any node and counts against no quota. */
export const endedStates: ReadonlySet<TaskState> = new Set(['stopped', 'failed']);

export const canTransition = (from: TaskState, to: TaskState): boolean => transitions[from].includes(to);

/** An illegal transition is a bug in the coordinator, never a user error. */
export class IllegalTransition extends Error {
  constructor(
    readonly taskId: string,
    readonly from: TaskState,
    readonly to: TaskState,
  ) {
    super(`task ${taskId}: illegal transition ${from} → ${to}`);
    this.name = 'IllegalTransition';
  }
}
