import { Hono } from 'hono';
import { bodyLimit, ProblemError } from '@cps/common';
import type { CoordinatorSchemas } from '@cps/openapi';
import type { Accounts } from '../accounts/accounts.ts';
import { requireAdmin, type AuthEnv } from '../accounts/authenticate.ts';
import { consoleUrl, type ClientsFor } from '../clients.ts';
import type { Orphans } from '../reconcile/orphans.ts';
import { ownerView } from '../tasks/ownership.ts';
import type { Tasks } from '../tasks/tasks.ts';
import { call, UpstreamError } from '../upstream.ts';
import { contractBody } from './body.ts';
import type { CoordinatorContract } from './contract.ts';

type S = CoordinatorSchemas;

export interface OrphanRoutesDeps {
  contract: CoordinatorContract;
  orphans: Orphans;
  tasks: Tasks;
  accounts: Accounts;
  clientsFor: ClientsFor;
}

const callTimeoutMs = 30_000;

/** An upstream's refusal as the admin sees it: which service on which node said what. */
function upstream<T>(run: () => Promise<T>): Promise<T> {
  return run().catch((err: unknown) => {
    if (err instanceof UpstreamError) throw new ProblemError('upstream-failed', err.message);
    throw err;
  });
}

/** The admin's view of the orphans the reconcile found: list, adopt as a task, or destroy. */
export function orphanRoutes({ contract, orphans, tasks, accounts, clientsFor }: OrphanRoutesDeps) {
  const app = new Hono<AuthEnv>();
  const admin = requireAdmin();
  app.use('/api/orphans', admin).use('/api/orphans/*', admin);
  const taskId = (raw: string) => contract.check('TaskId', raw, 'path/taskId');
  const signal = () => AbortSignal.timeout(callTimeoutMs);

  app.get('/api/orphans', (c) => c.json<{ items: S['Orphan'][] }>({ items: orphans.list() }));

  app.post('/api/orphans/:taskId/adopt', bodyLimit(4096), async (c) => {
    const id = taskId(c.req.param('taskId'));
    const orphan = orphans.require(id);
    // No body at all: the admin adopts it. Anything sent must be the contract's JSON.
    const empty = c.req.header('content-type') === undefined && (await c.req.raw.clone().arrayBuffer()).byteLength === 0;
    const body = empty ? {} : await contractBody(c, contract, 'OrphanAdopt');
    const owner = body.owner === undefined ? c.var.user! : accounts.byName(body.owner);
    if (!owner) throw new ProblemError('not-found', `no user ${body.owner}`);
    const { provisioner, storage } = clientsFor(orphan.node);
    const where = { nodeId: orphan.node.nodeId };
    // The real spec, read now from the host (not what the reconcile saw a while ago).
    const vm = await upstream(() => call({ service: 'provisioner', ...where }, () => provisioner.GET('/vms/{taskId}', { params: { path: { taskId: id } }, signal: signal() })));
    const disks = await call({ service: 'storage', ...where }, () => storage.GET('/disks/{taskId}', { params: { path: { taskId: id } }, signal: signal() })).catch((err: unknown) => {
      if (err instanceof UpstreamError && err.failure.status === 404) return undefined; // a guest booted without task disks
      throw err instanceof UpstreamError ? new ProblemError('upstream-failed', err.message) : err;
    });
    const task = tasks.adopt(
      id,
      vm.name || id,
      // Storage keeps no size for a task's disks: 0 says "not known" (it counts nothing against a quota).
      { vcpus: vm.vcpus, memoryMiB: vm.memoryMiB, diskMiB: 0, image: disks?.image ?? 'unknown' },
      { node: orphan.node, console: { vncUrl: consoleUrl(orphan.node, id) } },
      `adopted by ${c.var.user!.name}: an orphan guest found on ${orphan.node.nodeId} after a restart`,
      ownerView(owner),
    );
    orphans.forget(id);
    return c.json<S['Task']>(task, 201, { Location: `/api/tasks/${id}` });
  });

  app.delete('/api/orphans/:taskId', async (c) => {
    const id = taskId(c.req.param('taskId'));
    const orphan = orphans.require(id);
    const { provisioner, storage } = clientsFor(orphan.node);
    const where = { nodeId: orphan.node.nodeId };
    const path = { params: { path: { taskId: id } } };
    // The guest first, then its disks: both deletes are idempotent, so a retry finishes the job.
    await upstream(() => call({ service: 'provisioner', ...where }, () => provisioner.DELETE('/vms/{taskId}', { ...path, signal: signal() })));
    await upstream(() => call({ service: 'storage', ...where }, () => storage.DELETE('/disks/{taskId}', { ...path, signal: signal() })));
    orphans.forget(id);
    return c.body(null, 204);
  });

  return app;
}
