import { bodyLimit, Contract, healthRoutes, problemErrorHandler, problemNotFound, type Logger } from '@cps/common';
import { specFiles, type DiscoverySchemas } from '@cps/openapi';
import { Hono } from 'hono';
import { HeadClaim } from './head-claim.ts';
import { headRoutes } from './head-routes.ts';
import type { Membership } from './membership.ts';
import type { Metrics } from './metrics.ts';
import { peerEventRoutes } from './peer-events.ts';
import type { Publisher } from './publisher.ts';
import type { Self } from './self.ts';
import { trustRoutes, type TrustRoutesDeps } from './trust/routes.ts';

type PublishRequest = DiscoverySchemas['PublishRequest'];

export interface Deps {
  self: Self;
  membership: Membership;
  publisher: Publisher;
  metrics: Metrics;
  log: Logger;
  /**
   * This node's head claim, the one its HELLOs carry. Absent in tests of other parts (they send no
   * HELLO of their own): the routes then keep a claim of their own on the real clock.
   */
  head?: HeadClaim;
  /** Join tokens, joins and removals; absent in tests of PEP alone. */
  trust?: Omit<TrustRoutesDeps, 'contract'>;
}

const contract = Contract.fromFile(specFiles.discovery);

export function createApp(d: Deps) {
  const app = new Hono();
  app.onError(problemErrorHandler(d.log));
  app.notFound(problemNotFound);
  app.route('/', healthRoutes('discovery'));

  if (d.trust) app.route('/', trustRoutes({ ...d.trust, contract }));

  const head = d.head ?? new HeadClaim({ now: () => Date.now(), log: d.log });
  app.route('/', headRoutes({ head, contract }));
  app.get('/self', async (c) => {
    const info = await d.self.info();
    const claim = head.current();
    const self: DiscoverySchemas['Self'] = { ...info, head: claim !== undefined, ...(claim ? { headEpoch: claim.epoch } : {}) };
    return c.json(self);
  });
  app.get('/peers', (c) => c.json({ items: d.membership.list() }));
  app.route('/', peerEventRoutes(d.membership));
  app.get('/metrics', (c) => c.text(d.metrics.render(), 200, { 'content-type': 'text/plain; version=0.0.4' }));

  app.post('/publish', bodyLimit(16 * 1024), contract.json<PublishRequest>('PublishRequest'), async (c) => {
    const body = c.req.valid('json');
    const r = body.requirements;
    const placement = await d.publisher.publish({
      taskId: body.taskId,
      // The contract's defaults, applied here because validation does not fill them in.
      requirements: {
        vcpus: r.vcpus,
        memoryMiB: r.memoryMiB,
        diskMiB: r.diskMiB,
        arch: r.arch ?? 'x86_64',
        needsKvm: r.needsKvm ?? false,
        ...(r.image === undefined ? {} : { image: r.image }),
        ...(r.imageSha256 === undefined ? {} : { imageSha256: r.imageSha256 }),
      },
      timeoutMs: body.timeoutMs ?? 2_000,
      exclude: body.exclude ?? [],
    });
    return c.json(placement);
  });

  app.post('/release/:taskId', (c) => {
    const taskId = contract.check<DiscoverySchemas['TaskId']>('TaskId', c.req.param('taskId'), 'path/taskId');
    const released: DiscoverySchemas['Released'] = d.publisher.release(taskId, 'the task ended: its guest is gone');
    return c.json(released);
  });

  return app;
}
