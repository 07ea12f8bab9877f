import { sseFeed } from '@cps/common';
import { Hono, type MiddlewareHandler } from 'hono';
import type { AuthEnv } from '../accounts/authenticate.ts';
import type { Placer } from '../placement.ts';
import { mayTouch, visibleTasks } from '../tasks/ownership.ts';
import type { Tasks } from '../tasks/tasks.ts';

/**
 * `GET /api/events`: one `task` event per task the caller may see on connect (oldest first), then
 * every change to those; a waiting task carries its place in the queue and why it waits. A user's
 * stream carries only their own tasks, an admin's all of them.
 */
export function eventRoutes(tasks: Tasks, placer: Pick<Placer, 'withQueue' | 'listWithQueue'>, heartbeatMs = 15_000, signedIn?: MiddlewareHandler<AuthEnv>) {
  const app = new Hono<AuthEnv>();
  if (signedIn) app.use('/api/events', signedIn);
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
