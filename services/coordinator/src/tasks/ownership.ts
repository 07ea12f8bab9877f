import { ProblemError } from '@cps/common';
import type { User } from '../accounts/types.ts';
import type { QuotaUsage } from '../accounts/quota.ts';
import { endedStates } from './states.ts';
import type { Task } from './store.ts';

/** The task's owner as the contract shows it. */
export const ownerView = (u: User): NonNullable<Task['owner']> => ({ id: u.id, name: u.name });

/**
 * Whether `user` may see and act on `task`: its owner or an admin. No user (the routes before
 * sign-in is required) sees everything, as before accounts.
 */
export function mayTouch(user: User | undefined, task: Task): boolean {
  if (!user || user.role === 'admin') return true;
  return task.owner?.id === user.id;
}

/** The tasks `user` may see, in the order given. */
export function visibleTasks(user: User | undefined, tasks: Task[]): Task[] {
  return tasks.filter((t) => mayTouch(user, t));
}

/**
 * The task, or `not-found` when there is none or it is another user's: the same answer, so a
 * user cannot learn that someone else's task exists.
 */
export function requireOwned(user: User | undefined, task: Task | undefined, id: string): Task {
  if (!task || !mayTouch(user, task)) throw new ProblemError('not-found', `no task ${id}`);
  return task;
}

/** What a user holds now: the sum over their tasks that have not ended (each is one running task). */
export function usageOf(userId: string, tasks: Task[]): QuotaUsage {
  const usage: QuotaUsage = { vcpus: 0, memoryMiB: 0, diskMiB: 0, runningTasks: 0 };
  for (const t of tasks) {
    if (t.owner?.id !== userId || endedStates.has(t.state)) continue;
    usage.vcpus += t.request.vcpus;
    usage.memoryMiB += t.request.memoryMiB;
    usage.diskMiB += t.request.diskMiB;
    usage.runningTasks += 1;
  }
  return usage;
}
