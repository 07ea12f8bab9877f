import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { Membership } from './membership.ts';

/**
 * `GET /peers/events` (openapi/discovery.yaml): a `snapshot` event with the whole view, then one
 * event per change, named by its type. Subscribing and taking the snapshot happen in the same
 * tick, so no change falls between them.
 */
export function peerEventRoutes(membership: Membership, heartbeatMs = 15_000) {
  const app = new Hono();
  app.get('/peers/events', (c) =>
    streamSSE(c, async (stream) => {
      // Writes are chained so events leave in the order they happened, however slow the client.
      let chain: Promise<unknown> = stream.write('retry: 3000\n\n');
      const write = (fn: () => Promise<unknown>) => {
        chain = chain.then(fn).catch(() => undefined);
      };
      const items = membership.list();
      const unsubscribe = membership.subscribe((e) => write(() => stream.writeSSE({ event: e.type, data: JSON.stringify(e) })));
      write(() => stream.writeSSE({ event: 'snapshot', data: JSON.stringify({ items }) }));
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
