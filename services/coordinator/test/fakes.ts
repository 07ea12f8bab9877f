import { Hono } from 'hono';
import { createLogger, ProblemError, problemErrorHandler, type DoorLists, type ProblemType } from '@cps/common';
import {
  discoveryClient,
  provisionerClient,
  storageClient,
  viaApp,
  type DiscoverySchemas,
  type ProvisionerSchemas,
} from '@cps/openapi';
import { createApp } from '../src/app.ts';
import type { IdempotencyKeys } from '../src/api/idempotency.ts';
import { Accounts } from '../src/accounts/accounts.ts';
import { MemoryAccountStore } from '../src/accounts/memory-store.ts';
import type { Quota } from '../src/accounts/types.ts';
import type { ClientsFor } from '../src/clients.ts';
import { Placer, type PlacementOptions } from '../src/placement.ts';
import { Tasks } from '../src/tasks/tasks.ts';

type NodeInfo = DiscoverySchemas['NodeInfo'];
type VmState = ProvisionerSchemas['VmState'];

export interface FakeNodeOptions {
  /** Storage answers PUT /disks with this problem. */
  failDisks?: [ProblemType, string];
  /** Provisioner answers PUT /vms with this problem. */
  failVm?: [ProblemType, string];
  /** Provisioner answers DELETE /vms with this problem. */
  failDestroy?: [ProblemType, string];
  /** States the guest reports: the PUT answer, then one per GET (the last one repeats). */
  vmStates?: VmState[];
}

/** One peer's storage and provisioner, as small Hono apps that follow their contracts. */
export function fakeNode(nodeId: string, address: string, opts: FakeNodeOptions = {}) {
  const calls: string[] = [];
  const disks = new Set<string>();
  const vms = new Map<string, number>();
  const info: NodeInfo = {
    nodeId,
    address,
    ports: { coordinator: 18180, discovery: 18181, provisioner: 18182, storage: 18183, vncGateway: 18184 },
    uptimeSec: 100,
  };
  const states = opts.vmStates ?? ['running'];
  const vm = (taskId: string, n: number) => ({
    taskId, domain: `cps-${taskId}`, name: taskId, state: states[Math.min(n, states.length - 1)]!,
    vcpus: 1, memoryMiB: 256, accelerator: 'tcg', console: { vnc: { host: '127.0.0.1', port: 5900 } },
  });

  const storage = new Hono();
  storage.onError(problemErrorHandler());
  storage.get('/images', (c) =>
    c.json({ items: [{ id: 'tiny', name: 'tiny', description: 'busybox </b>', kind: 'kernel', builtin: true, sizeBytes: 1, sha256: 'x' }] }),
  );
  storage.put('/disks/:taskId', async (c) => {
    const id = c.req.param('taskId');
    calls.push(`PUT /disks/${id}`);
    const body = await c.req.json();
    if (opts.failDisks) throw new ProblemError(...opts.failDisks);
    disks.add(id);
    return c.json({
      taskId: id, image: body.image,
      disks: [{ path: `/var/lib/cps/disks/${id}/root.qcow2`, format: 'qcow2', device: 'disk' }],
      boot: { kind: 'kernel', kernel: '/img/vmlinuz', initrd: '/img/initrd.img', cmdline: 'console=ttyS0' },
    }, 201);
  });
  storage.delete('/disks/:taskId', (c) => {
    calls.push(`DELETE /disks/${c.req.param('taskId')}`);
    disks.delete(c.req.param('taskId'));
    return c.body(null, 204);
  });

  const provisioner = new Hono();
  provisioner.onError(problemErrorHandler());
  const specs: unknown[] = [];
  provisioner.put('/vms/:taskId', async (c) => {
    const id = c.req.param('taskId');
    calls.push(`PUT /vms/${id}`);
    specs.push(await c.req.json());
    if (opts.failVm) throw new ProblemError(...opts.failVm);
    vms.set(id, 0);
    return c.json(vm(id, 0), 201);
  });
  provisioner.get('/vms/:taskId', (c) => {
    const id = c.req.param('taskId');
    const n = vms.get(id);
    if (n === undefined) throw new ProblemError('not-found', `no guest ${id}`);
    vms.set(id, n + 1);
    return c.json(vm(id, n + 1));
  });
  provisioner.get('/vms/:taskId/serial', (c) => {
    if (!vms.has(c.req.param('taskId'))) throw new ProblemError('not-found', 'no guest');
    return c.text('cps-guest: up\ncps-guest: tick 1\n');
  });
  provisioner.delete('/vms/:taskId', (c) => {
    calls.push(`DELETE /vms/${c.req.param('taskId')}`);
    if (opts.failDestroy) throw new ProblemError(...opts.failDestroy);
    vms.delete(c.req.param('taskId'));
    return c.body(null, 204);
  });

  // `behaviour` is live: a test may change how the node answers mid-way.
  return { info, storage, provisioner, calls, disks, vms, specs, behaviour: opts };
}

export type FakeNode = ReturnType<typeof fakeNode>;

/** Discovery that picks the first node not excluded, in order, like a first-ACK-wins PEP round. */
export function fakeDiscovery(nodes: FakeNode[]) {
  const publishes: DiscoverySchemas['PublishRequest'][] = [];
  const app = new Hono();
  app.onError(problemErrorHandler());
  app.post('/publish', async (c) => {
    const req = (await c.req.json()) as DiscoverySchemas['PublishRequest'];
    publishes.push(req);
    const capable = nodes.filter((n) => !(req.exclude ?? []).includes(n.info.nodeId));
    if (capable.length === 0) throw new ProblemError('no-capable-node', `no ACK within ${req.timeoutMs} ms`);
    const [chosen, ...backups] = capable;
    return c.json({ taskId: req.taskId, chosen: chosen!.info, backups: backups.map((b) => b.info), ackMs: 3 });
  });
  return { app, publishes };
}

export const fastPolling: Partial<PlacementOptions> = { pollIntervalMs: 1, sleep: () => Promise.resolve() };

/** A coordinator wired to fake peers through viaApp: no socket anywhere. */
export function fakeCluster(nodes: FakeNode[], opts: Partial<PlacementOptions> & { clientsFor?: ClientsFor; heartbeatMs?: number; door?: DoorLists; idempotency?: IdempotencyKeys; tasks?: Tasks; accounts?: Accounts } = {}) {
  const log = createLogger('coordinator-test', 'silent');
  const discovery = fakeDiscovery(nodes);
  const byId = new Map(nodes.map((n) => [n.info.nodeId, n]));
  const clientsFor: ClientsFor = opts.clientsFor ?? ((node) => {
    const n = byId.get(node.nodeId);
    if (!n) throw new Error(`unknown node ${node.nodeId}`);
    return { storage: storageClient(viaApp(n.storage)), provisioner: provisionerClient(viaApp(n.provisioner)) };
  });
  const tasks = opts.tasks ?? new Tasks();
  const { door, idempotency, tasks: _tasks, accounts, ...placement } = opts;
  const placer = new Placer({ tasks, discovery: discoveryClient(viaApp(discovery.app)), clientsFor, log, ...fastPolling, ...placement });
  const localStorage = storageClient(viaApp(nodes[0]?.storage ?? new Hono()));
  const app = createApp({ log, tasks, placer, localStorage, clientsFor, heartbeatMs: opts.heartbeatMs, door, ...(idempotency ? { idempotency } : {}), ...(accounts ? { accounts } : {}) });
  return { app, tasks, placer, discovery, clientsFor };
}

/** Resolves when the task reaches `state`, via the task events (no polling, no timed assertion). */
export function reach(tasks: Tasks, id: string, state: string): Promise<void> {
  return new Promise((resolve) => {
    if (tasks.get(id)?.state === state) return resolve();
    const off = tasks.subscribe((t) => {
      if (t.id === id && t.state === state) {
        off();
        resolve();
      }
    });
  });
}

export type Who = 'admin' | 'alice' | 'bob';

/**
 * fakeCluster with accounts: the first admin and two users (alice, bob), each with an API token;
 * `as(who)` is the Authorization header that signs that one in.
 */
export async function signedInCluster(nodes: FakeNode[], opts: Parameters<typeof fakeCluster>[1] & { quota?: Partial<Quota> } = {}) {
  const { quota, ...rest } = opts;
  const accounts = rest.accounts ?? new Accounts({ store: new MemoryAccountStore(), now: () => new Date() });
  const first = await accounts.ensureFirstAdmin();
  const admin = first?.user ?? accounts.list().find((u) => u.role === 'admin')!;
  const alice = await accounts.createUser({ name: 'alice', password: 'alice-password-1', ...(quota ? { quota } : {}) });
  const bob = await accounts.createUser({ name: 'bob', password: 'bob-password-12', ...(quota ? { quota } : {}) });
  const users = { admin, alice, bob };
  const tokens: Record<Who, string> = {
    admin: (await accounts.createToken(admin.id, 'test')).value,
    alice: (await accounts.createToken(alice.id, 'test')).value,
    bob: (await accounts.createToken(bob.id, 'test')).value,
  };
  const cluster = fakeCluster(nodes, { ...rest, accounts });
  const as = (who: Who) => ({ authorization: `Bearer ${tokens[who]}` });
  /** A JSON request to the coordinator as `who` (or no one). */
  const request = (who: Who | undefined, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    cluster.app.request(`http://localhost${path}`, {
      method,
      headers: { host: 'localhost', ...(who ? as(who) : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  return { ...cluster, accounts, users, tokens, as, request, adminPassword: first?.password };
}
