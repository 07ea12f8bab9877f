import type { AuthEnv } from '../accounts/authenticate.ts';
import { requireOwned } from '../tasks/ownership.ts';
import type { Task } from '../tasks/store.ts';
import type { Tasks } from '../tasks/tasks.ts';
import type { CoordinatorContract } from './contract.ts';

/** What a task route's context offers: the caller, and the path's taskId. */
export type TaskContext = { var: AuthEnv['Variables']; req: { param(name: 'taskId'): string } };

/**
 * The task a route's `:taskId` names, checked against the contract: a user reaches only their own
 * tasks (an admin all); another's is "no task", not "forbidden", so its existence is not told.
 */
export const ownedTaskOf =
  (contract: CoordinatorContract, tasks: Tasks) =>
  (c: TaskContext): Task => {
    const id = contract.check('TaskId', c.req.param('taskId'), 'path/taskId');
    return requireOwned(c.var.user, tasks.get(id), id);
  };
