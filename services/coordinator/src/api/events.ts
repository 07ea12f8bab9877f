import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { Task } from '../tasks/store.ts';
import type { Tasks } from '../tasks/tasks.ts';

/**
 * `GET /api/events`: one `task` event per known task on connect (oldest first), then every change
 * as it happens. A comment line every `heartbeatMs` keeps proxies from closing an idle stream.
 */
export function eventRoutes(tasks: Tasks, heartbeatMs = 15_000) {
  const app = new Hono();
  app.get('/api/events', (c) =>
    streamSSE(c, async (stream) => {
      // Writes are chained so events leave in the order they happened, however slow the client.
      let chain: Promise<unknown> = stream.write('retry: 3000\n\n');
      const write = (fn: () => Promise<unknown>) => {
        chain = chain.then(fn);
      };
      const send = (t: Task) => write(() => stream.writeSSE({ event: 'task', data: JSON.stringify(t) }));
      // Subscribe and take the snapshot in the same tick: no change can fall between them.
      const unsubscribe = tasks.subscribe(send);
      for (const t of tasks.list().reverse()) send(t);
      const heartbeat = setInterval(() => write(() => stream.write(': heartbeat\n\n')), heartbeatMs);
      try {
        await new Promise<void>((resolve) => {
          if (stream.aborted) resolve();
          stream.onAbort(resolve);
        });
      } finally {
        clearInterval(heartbeat);
        unsubscribe();
      }
    }),
  );
  return app;
}
