import { sseFeed } from '@cps/common';
import { Hono, type MiddlewareHandler } from 'hono';
import type { AuthEnv } from '../accounts/authenticate.ts';
import type { Placer } from '../placement.ts';
import { mayTouch, visibleTasks } from '../tasks/ownership.ts';
import type { Tasks } from '../tasks/tasks.ts';
import type { CoordinatorContract } from './contract.ts';
import { ownedTaskOf } from './owned-task.ts';

/**
 * `GET /api/events`: one `task` event per task the caller may see on connect (oldest first), then
 * every change to those; a waiting task carries its place in the queue and why it waits. A user's
 * stream carries only their own tasks, an admin's all of them. `GET /api/tasks/{id}/events`: the
 * same for one task (another's is 404 before the stream starts); a purged task's stream goes quiet.
 */
export function eventRoutes(tasks: Tasks, placer: Pick<Placer, 'withQueue' | 'listWithQueue'>, heartbeatMs = 15_000, signedIn?: MiddlewareHandler<AuthEnv>, contract?: CoordinatorContract) {
  const app = new Hono<AuthEnv>();
  if (signedIn) app.use('/api/events', signedIn).use('/api/tasks/:taskId/events', signedIn);
  if (contract) {
    const ownedTask = ownedTaskOf(contract, tasks);
    app.get('/api/tasks/:taskId/events', (c) => {
      const { id } = ownedTask(c);
      return sseFeed(c, {
        initial: () => {
          const t = tasks.get(id);
          return t ? [{ event: 'task', data: placer.withQueue(t) }] : [];
        },
        subscribe: (push) =>
          tasks.subscribe((t) => {
            if (t.id === id) push({ event: 'task', data: placer.withQueue(t) });
          }),
        heartbeatMs,
      });
    });
  }
  app.get('/api/events', (c) => {
    const user = c.var.user;
    return sseFeed(c, {
      initial: () => placer.listWithQueue(visibleTasks(user, tasks.list())).reverse().map((t) => ({ event: 'task', data: t })),
      subscribe: (push) =>
        tasks.subscribe((t) => {
          if (mayTouch(user, t)) push({ event: 'task', data: placer.withQueue(t) });
        }),
      heartbeatMs,
    });
  });
  return app;
}
