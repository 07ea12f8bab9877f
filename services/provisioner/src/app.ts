import { Hono } from 'hono';
import { bodyLimit, Contract, healthRoutes, problemErrorHandler, problemNotFound, type Logger } from '@cps/common';
import { specFiles } from '@cps/openapi';
import type { Accelerator } from './accel.ts';
import type { ShareSettings } from './capacity.ts';
import type { Hypervisor } from './hypervisor.ts';
import { Vms, type VmSpec } from './vms.ts';

export interface AppDeps {
  hypervisor: Hypervisor;
  dataDir: string;
  accelerator: () => Promise<Accelerator>;
  share?: ShareSettings;
  log: Logger;
}

type TaskParam = { taskId: string };

const contract = Contract.fromFile(specFiles.provisioner);
const taskParam = contract.param<TaskParam>('TaskParam');

export function createApp(deps: AppDeps) {
  const vms = new Vms({ ...deps, share: deps.share ?? {} });
  const app = new Hono();
  app.onError(problemErrorHandler(deps.log));
  app.notFound(problemNotFound);

  app.route('/', healthRoutes('provisioner', async () => {
    await deps.hypervisor.ping();
    return { libvirt: deps.hypervisor.uri };
  }));

  app.get('/capacity', async (c) => c.json(await vms.capacity()));

  app.get('/vms', async (c) => c.json({ items: await vms.list() }));

  app.put('/vms/:taskId', bodyLimit(64 * 1024), taskParam, contract.json<VmSpec>('VmSpec'), async (c) => {
    const { vm, created } = await vms.create(c.req.valid('param').taskId, c.req.valid('json'));
    return c.json(vm, created ? 201 : 200);
  });

  app.get('/vms/:taskId', taskParam, async (c) => c.json(await vms.get(c.req.valid('param').taskId)));

  app.delete('/vms/:taskId', taskParam, async (c) => {
    await vms.remove(c.req.valid('param').taskId);
    return c.body(null, 204);
  });

  app.get('/vms/:taskId/serial', taskParam, async (c) => {
    const text = await vms.serial(c.req.valid('param').taskId);
    return c.text(text, 200, { 'cache-control': 'no-store' });
  });

  return app;
}
