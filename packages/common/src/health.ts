import { Hono } from 'hono';

/** `GET /healthz`: 200 with the service name, or 503 when a dependency check fails. */
export function healthRoutes(service: string, check?: () => Promise<Record<string, unknown> | void>) {
  const app = new Hono();
  app.get('/healthz', async (c) => {
    try {
      const extra = (await check?.()) ?? {};
      return c.json({ status: 'ok', service, ...extra });
    } catch (err) {
      return c.json({ status: 'unhealthy', service, detail: (err as Error).message }, 503);
    }
  });
  return app;
}
