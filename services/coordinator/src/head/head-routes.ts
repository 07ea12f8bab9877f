import { Hono } from 'hono';
import type { CoordinatorSchemas } from '@cps/openapi';

/** GET /api/head: this node's own view of the head, never forwarded (the portal's header shows it). */
export function headRoutes(info: () => CoordinatorSchemas['HeadInfo']) {
  const app = new Hono();
  app.get('/api/head', (c) => c.json<CoordinatorSchemas['HeadInfo']>(info()));
  return app;
}

/** The paths a follower answers itself. */
export const answeredLocally = (path: string): boolean => path === '/api/head';
