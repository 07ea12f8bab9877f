import { Hono, type MiddlewareHandler } from 'hono';
import { ProblemError } from '@cps/common';
import type { CoordinatorSchemas, DiscoveryClient } from '@cps/openapi';
import type { AuthEnv } from '../accounts/authenticate.ts';
import { peerViews } from '../peers/peer-view.ts';
import type { Tasks } from '../tasks/tasks.ts';
import { call, UpstreamError } from '../upstream.ts';

export interface PeerRoutesDeps {
  /** This node's discovery: who it is and which peers it has heard from. */
  discovery: DiscoveryClient;
  tasks: Tasks;
  /** Who may list the peers (requireUser() in a node with accounts); absent: anyone. */
  signedIn?: MiddlewareHandler<AuthEnv>;
}

/** Discovery answers from memory; a slow one should not hold the Peers page for long. */
const discoveryTimeoutMs = 5_000;

/** GET /api/peers: the Peers page, from this node's discovery and the tasks this coordinator placed. */
export function peerRoutes({ discovery, tasks, signedIn }: PeerRoutesDeps) {
  const app = new Hono<AuthEnv>();
  if (signedIn) app.use('/api/peers', signedIn);
  app.get('/api/peers', async (c) => {
    const signal = () => AbortSignal.timeout(discoveryTimeoutMs);
    try {
      const [self, peers] = await Promise.all([
        call({ service: 'discovery' }, () => discovery.GET('/self', { signal: signal() })),
        call({ service: 'discovery' }, () => discovery.GET('/peers', { signal: signal() })),
      ]);
      return c.json<{ items: CoordinatorSchemas['ClusterPeer'][] }>({ items: peerViews(self, peers.items, tasks.list(), c.var.user) });
    } catch (err) {
      if (err instanceof UpstreamError) throw new ProblemError('upstream-failed', err.message);
      throw err;
    }
  });
  return app;
}
