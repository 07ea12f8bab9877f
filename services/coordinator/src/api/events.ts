import { sseFeed } from '@cps/common';
import { Hono } from 'hono';
import type { Placer } from '../placement.ts';
import type { Tasks } from '../tasks/tasks.ts';

/**
 * `GET /api/events`: one `task` event per known task on connect (oldest first), then every change;
 * a waiting task carries its place in the queue and why it waits.
 */
export function eventRoutes(tasks: Tasks, placer: Pick<Placer, 'withQueue' | 'listWithQueue'>, heartbeatMs = 15_000) {
  const app = new Hono();
  app.get('/api/events', (c) =>
    sseFeed(c, {
      initial: () => placer.listWithQueue(tasks.list()).reverse().map((t) => ({ event: 'task', data: t })),
      subscribe: (push) => tasks.subscribe((t) => push({ event: 'task', data: placer.withQueue(t) })),
      heartbeatMs,
    }),
  );
  return app;
}
