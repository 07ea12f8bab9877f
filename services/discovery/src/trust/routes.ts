import { bodyLimit, hostPort, ProblemError, type Contract } from '@cps/common';
import type { DiscoverySchemas } from '@cps/openapi';
import type { JoinTokens } from '@cps/trust';
import { Hono } from 'hono';
import { admit, type AdmitDeps } from './admit.ts';
import type { RemovalSync } from './removal-sync.ts';

export interface TrustRoutesDeps {
  admit: AdmitDeps;
  tokens: JoinTokens;
  removals: RemovalSync;
  /** Where a new workstation reaches this node's discovery (for the printed command). */
  joinAddress: () => { address: string; port: number };
  contract: Contract;
}

type Env = { Bindings: { incoming?: { socket?: { remoteAddress?: string } } } };

/** Join tokens, joining, and removals: the cluster's membership by certificate (docs/trust.md). */
export function trustRoutes(d: TrustRoutesDeps) {
  const app = new Hono<Env>();
  const c = d.contract;

  app.post('/join', bodyLimit(16 * 1024), c.json<DiscoverySchemas['JoinRequest']>('JoinRequest'), async (ctx) =>
    ctx.json(await admit(d.admit, ctx.req.valid('json'), ctx.env?.incoming?.socket?.remoteAddress)),
  );

  app.post('/trust/join-tokens', bodyLimit(4 * 1024), c.json<DiscoverySchemas['JoinTokenRequest']>('JoinTokenRequest'), (ctx) => {
    const { token, view } = d.tokens.create((ctx.req.valid('json').ttlSec ?? 3600) * 1000);
    const at = d.joinAddress();
    return ctx.json({ token, command: `cps up --join ${hostPort(at.address, at.port)} --token ${token}`, info: view }, 201);
  });

  app.get('/trust/join-tokens', (ctx) => ctx.json({ items: d.tokens.list() }));

  app.delete('/trust/join-tokens/:tokenId', (ctx) => {
    const id = ctx.req.param('tokenId');
    if (!/^[0-9a-f]{8}$/.test(id)) throw new ProblemError('validation-failed', 'path/tokenId: must be 8 hex digits');
    const v = d.tokens.revoke(id);
    if (!v) throw new ProblemError('not-found', `no join token ${id} was issued by this node`);
    return ctx.json(v);
  });

  app.get('/trust/removals', (ctx) => ctx.json(d.removals.list()));

  app.post('/trust/removals', bodyLimit(4 * 1024), c.json<DiscoverySchemas['RemoveNodeRequest']>('RemoveNodeRequest'), async (ctx) =>
    ctx.json(await d.removals.remove(ctx.req.valid('json').nodeId), 201),
  );

  app.put('/trust/removals', bodyLimit(2 << 20), c.json<DiscoverySchemas['RemovalList']>('RemovalList'), (ctx) => {
    d.removals.merge(ctx.req.valid('json').items, 'peer');
    return ctx.json(d.removals.list());
  });

  return app;
}
