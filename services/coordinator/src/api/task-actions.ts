import { Hono, type MiddlewareHandler } from 'hono';
import type { AuthEnv } from '../accounts/authenticate.ts';
import type { Placer } from '../placement.ts';
import type { TaskAction, TaskActions } from '../tasks/actions.ts';
import type { Tasks } from '../tasks/tasks.ts';
import type { CoordinatorContract } from './contract.ts';
import { ownedTaskOf } from './owned-task.ts';

export interface TaskActionRoutesDeps {
  contract: CoordinatorContract;
  tasks: Tasks;
  actions: TaskActions;
  placer: Pick<Placer, 'withQueue'>;
  signedIn?: MiddlewareHandler<AuthEnv>;
}

const actionNames: readonly TaskAction[] = ['suspend', 'resume', 'checkpoint', 'restart'];

/** POST /api/tasks/{id}/suspend|resume|checkpoint|restart: 202 with the task once its host did it. */
export function taskActionRoutes({ contract, tasks, actions, placer, signedIn }: TaskActionRoutesDeps) {
  const app = new Hono<AuthEnv>();
  const ownedTask = ownedTaskOf(contract, tasks);
  for (const action of actionNames) {
    const path = `/api/tasks/:taskId/${action}` as const;
    if (signedIn) app.use(path, signedIn);
    app.post(path, async (c) => c.json(placer.withQueue(await actions.run(action, ownedTask(c).id)), 202));
  }
  return app;
}
