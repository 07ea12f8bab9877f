import { Hono } from 'hono';
import { ProblemError } from '@cps/common';
import type { StorageClient } from '@cps/openapi';
import { call, UpstreamError } from '../upstream.ts';

/** The images this node's storage offers, trimmed to what a task request needs to know. */
export function imageRoutes(storage: StorageClient) {
  const app = new Hono();
  app.get('/api/images', async (c) => {
    try {
      const { items } = await call({ service: 'storage' }, () => storage.GET('/images', { signal: AbortSignal.timeout(10_000) }));
      return c.json({
        items: items.map((i) => ({ id: i.id, name: i.name, kind: i.kind, ...(i.description === undefined ? {} : { description: i.description }) })),
      });
    } catch (err) {
      if (err instanceof UpstreamError) throw new ProblemError('upstream-failed', err.message);
      throw err;
    }
  });
  return app;
}
