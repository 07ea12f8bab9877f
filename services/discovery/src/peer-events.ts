import { sseFeed } from '@cps/common';
import { Hono } from 'hono';
import type { Membership } from './membership.ts';

/**
 * `GET /peers/events` (openapi/discovery.yaml): a `snapshot` event with the whole view, then one
 * event per change, named by its type.
 */
export function peerEventRoutes(membership: Membership, heartbeatMs = 15_000) {
  const app = new Hono();
  app.get('/peers/events', (c) =>
    sseFeed(c, {
      initial: () => [{ event: 'snapshot', data: { items: membership.list() } }],
      subscribe: (push) => membership.subscribe((e) => push({ event: e.type, data: e })),
      heartbeatMs,
    }),
  );
  return app;
}
