import { sseFeed } from '@cps/common';
import { Hono } from 'hono';
import type { Tasks } from '../tasks/tasks.ts';

/** `GET /api/events`: one `task` event per known task on connect (oldest first), then every change. */
export function eventRoutes(tasks: Tasks, heartbeatMs = 15_000) {
  const app = new Hono();
  app.get('/api/events', (c) =>
    sseFeed(c, {
      initial: () => tasks.list().reverse().map((t) => ({ event: 'task', data: t })),
      subscribe: (push) => tasks.subscribe((t) => push({ event: 'task', data: t })),
      heartbeatMs,
    }),
  );
  return app;
}
