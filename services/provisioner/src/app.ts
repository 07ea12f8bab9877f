import { Hono, type Context } from 'hono';
import { bodyLimit, Contract, fenceCommands, fenceRoutes, healthRoutes, problemErrorHandler, problemNotFound, type Caller, type EpochFence, type Logger } from '@cps/common';
import { specFiles, type ProvisionerSchemas } from '@cps/openapi';
import type { Accelerator } from './accel.ts';
import type { ShareSettings } from './capacity.ts';
import { Checkpoints } from './checkpoints.ts';
import { EventBus } from './events.ts';
import { eventStream } from './eventStream.ts';
import { Expectations } from './expectations.ts';
import { domainNameOf, type GuestNetwork } from './domainXml.ts';
import type { IsolationStatus } from './guestIsolation.ts';
import type { Hypervisor } from './hypervisor.ts';
import { withGuestAddresses, type GuestAgent } from './guestAgent.ts';
import { Lifecycle } from './lifecycle.ts';
import type { MemoryCapMode } from './memoryCap.ts';
import { vmFor } from './vncSecret.ts';
import { Vms, type VmSpec } from './vms.ts';

export interface AppDeps {
  hypervisor: Hypervisor;
  dataDir: string;
  accelerator: () => Promise<Accelerator>;
  share?: ShareSettings;
  log: Logger;
  /** Where the watchdog and the lifecycle publish; GET /events streams it. */
  events?: EventBus;
  /** Shared with the watchdog, so what this API asked for is not reported as an accident. */
  expectations?: Expectations;
  /** The clock for lending hours (tests set it). */
  now?: () => Date;
  /** True while the owner-first policy holds the guests suspended. */
  ownerBusy?: () => boolean;
  /** Where the memory hard limit goes (memoryCap.ts); default: in the domain XML. */
  memoryCap?: MemoryCapMode;
  /** The network of a guest whose spec names none (CPS_GUEST_NETWORK); default `user`. */
  guestNetwork?: GuestNetwork;
  /** This node's id (its certificate's): only its own services see a guest's VNC password. */
  nodeId?: string;
  /** Whether guests' NAT is kept from this host's own services (guestIsolation.ts), for /healthz. */
  guestIsolation?: () => IsolationStatus;
  /** The guests' qemu-guest-agents (guestAgent.ts): clean shutdowns, frozen checkpoints, addresses. None: never asked. */
  guestAgent?: GuestAgent;
  /** The node's fence (shared with its storage): commands of an older head are refused. None: unfenced, no /fence. */
  fence?: EpochFence;
}

type TaskParam = { taskId: string };

const contract = Contract.fromFile(specFiles.provisioner);
const taskParam = contract.param<TaskParam>('TaskParam');

export function createApp(deps: AppDeps) {
  return createProvisioner(deps).app;
}

/** The app and the lifecycle behind it, for what runs beside the API (the owner-first monitor). */
export function createProvisioner(deps: AppDeps) {
  const events = deps.events ?? new EventBus();
  const vms = new Vms({ ...deps, share: deps.share ?? {}, expectations: deps.expectations ?? new Expectations() });
  const checkpoints = new Checkpoints(deps.dataDir);
  const lifecycle = new Lifecycle(vms, { ...deps, checkpoints, events });
  const app = new Hono<{ Bindings: { caller?: Caller } }>();
  const shown = (c: Context<{ Bindings: { caller?: Caller } }>) => vmFor(c.env?.caller, deps.nodeId);
  app.onError(problemErrorHandler(deps.log));
  app.notFound(problemNotFound);
  if (deps.fence) {
    // Before every route, so a refused command has touched nothing.
    app.use(fenceCommands(deps.fence, deps.log));
    app.route('/', fenceRoutes(deps.fence));
  }

  app.route('/', healthRoutes('provisioner', async () => {
    await deps.hypervisor.ping();
    return { libvirt: deps.hypervisor.uri, ...(deps.guestIsolation ? { guestIsolation: deps.guestIsolation() } : {}) };
  }));

  app.get('/capacity', async (c) => c.json(await vms.capacity()));

  app.get('/events', (c) => eventStream(c, events));

  app.get('/vms', async (c) => c.json({ items: (await vms.list()).map(shown(c)) }));

  app.put('/vms/:taskId', bodyLimit(64 * 1024), taskParam, contract.json<VmSpec>('VmSpec'), async (c) => {
    const { vm, created } = await vms.create(c.req.valid('param').taskId, c.req.valid('json'));
    return c.json(shown(c)(vm), created ? 201 : 200);
  });

  app.get('/vms/:taskId', taskParam, async (c) => c.json(shown(c)(await withGuestAddresses(await vms.get(c.req.valid('param').taskId), deps.guestAgent))));

  app.delete('/vms/:taskId', taskParam, async (c) => {
    await vms.remove(c.req.valid('param').taskId);
    // A guest made later under the same task id may run another image, with or without an agent.
    deps.guestAgent?.forget(domainNameOf(c.req.valid('param').taskId));
    return c.body(null, 204);
  });

  app.post('/vms/:taskId/suspend', taskParam, async (c) => c.json(shown(c)(await lifecycle.suspend(c.req.valid('param').taskId))));

  app.post('/vms/:taskId/resume', taskParam, async (c) => c.json(shown(c)(await lifecycle.resume(c.req.valid('param').taskId))));

  app.post('/vms/:taskId/shutdown', taskParam, async (c) => {
    const vm = await lifecycle.shutdown(c.req.valid('param').taskId);
    return vm ? c.json(shown(c)(vm), 202) : c.body(null, 204);
  });

  app.post(
    '/vms/:taskId/checkpoint',
    bodyLimit(4 * 1024),
    taskParam,
    contract.json<ProvisionerSchemas['CheckpointRequest']>('CheckpointRequest'),
    async (c) => c.json(await lifecycle.checkpoint(c.req.valid('param').taskId, c.req.valid('json').leaveRunning === true)),
  );

  app.get('/vms/:taskId/checkpoint', taskParam, async (c) => c.json(await lifecycle.getCheckpoint(c.req.valid('param').taskId)));

  app.delete('/vms/:taskId/checkpoint', taskParam, async (c) => {
    await lifecycle.deleteCheckpoint(c.req.valid('param').taskId);
    return c.body(null, 204);
  });

  app.post('/vms/:taskId/restore', bodyLimit(64 * 1024), taskParam, contract.json<ProvisionerSchemas['RestoreRequest']>('RestoreRequest'), async (c) => {
    const { vm, created } = await lifecycle.restore(c.req.valid('param').taskId, c.req.valid('json').spec);
    return c.json(shown(c)(vm), created ? 201 : 200);
  });

  app.get('/vms/:taskId/serial', taskParam, async (c) => {
    const text = await vms.serial(c.req.valid('param').taskId);
    return c.text(text, 200, { 'cache-control': 'no-store' });
  });

  return { app, vms, lifecycle, events, checkpoints };
}
