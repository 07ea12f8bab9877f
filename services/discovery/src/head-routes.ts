import { bodyLimit, type Contract } from '@cps/common';
import type { DiscoverySchemas } from '@cps/openapi';
import { Hono } from 'hono';
import type { HeadClaim } from './head-claim.ts';

/**
 * `PUT /head` and `DELETE /head` (openapi/discovery.yaml): this node's coordinator says whether it
 * leads, and with which epoch. Member-only like every route here: the cluster door refuses a caller
 * without a member certificate before this runs.
 */
export function headRoutes(d: { head: HeadClaim; contract: Contract }) {
  const app = new Hono();
  // A claim is `{"epoch": n}`: 1 KiB is far more than any honest body.
  app.put('/head', bodyLimit(1024), d.contract.json<DiscoverySchemas['HeadClaim']>('HeadClaim'), (c) => {
    d.head.put(c.req.valid('json').epoch);
    return c.body(null, 204);
  });
  app.delete('/head', (c) => {
    d.head.drop();
    return c.body(null, 204);
  });
  return app;
}
