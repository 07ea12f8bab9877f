import { Hono } from 'hono';
import { createLogger, ProblemError, problemErrorHandler, type DoorLists, type ProblemType } from '@cps/common';
import {
  discoveryClient,
  provisionerClient,
  storageClient,
  viaApp,
  type DiscoverySchemas,
  type ProvisionerSchemas,
  type StorageSchemas,
} from '@cps/openapi';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileResponse } from '../../storage/src/ranges.ts';
import { createApp } from '../src/app.ts';
import type { IdempotencyKeys } from '../src/api/idempotency.ts';
import { Accounts } from '../src/accounts/accounts.ts';
import { MemoryAccountStore } from '../src/accounts/memory-store.ts';
import type { Quota } from '../src/accounts/types.ts';
import type { ClientsFor } from '../src/clients.ts';
import { Placer, type PlacementOptions } from '../src/placement.ts';
import { Tasks } from '../src/tasks/tasks.ts';
import type { BootstrapArchives } from '../src/uploads/bootstraps.ts';

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
  /** Provisioner answers POST /vms/{id}/suspend, resume, checkpoint with this problem. */
  failActions?: [ProblemType, string];
  /** Provisioner answers those POSTs only once this settles (an action under way). */
  actionGate?: Promise<void>;
  /** The kept copy's bytes (one file, root.qcow2) when a task made with keepCopy is discarded. */
  exportBytes?: Buffer;
  /** What storage answers PUT /disks with (default: a kernel image's plan). */
  disksAnswer?: (taskId: string) => Pick<StorageSchemas['TaskDisks'], 'disks' | 'boot' | 'imagePull'>;
}

/** One peer's storage and provisioner, as small Hono apps that follow their contracts. */
export function fakeNode(nodeId: string, address: string, opts: FakeNodeOptions = {}) {
  const calls: string[] = [];
  const disks = new Set<string>();
  /** The bodies of PUT /disks, in order. */
  const diskRequests: StorageSchemas['TaskDisksRequest'][] = [];
  /** The archives POST /bootstraps received. */
  const bootstraps: Buffer[] = [];
  /** The kept copies: what DELETE /disks made for a task created with keepCopy. */
  const exportFiles = new Map<string, { dir: string; exp: StorageSchemas['Export'] }>();
  const paused = new Set<string>();
  const keeps = new Set<string>();
  const vms = new Map<string, number>();
  const info: NodeInfo = {
    nodeId,
    address,
    ports: { coordinator: 18180, discovery: 18181, provisioner: 18182, storage: 18183, vncGateway: 18184 },
    uptimeSec: 100,
  };
  const states = opts.vmStates ?? ['running'];
  const vm = (taskId: string, n: number) => ({
    taskId, domain: `cps-${taskId}`, name: taskId, state: paused.has(taskId) ? 'paused' : states[Math.min(n, states.length - 1)]!,
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
    diskRequests.push(body);
    if (opts.failDisks) throw new ProblemError(...opts.failDisks);
    disks.add(id);
    if (body.keepCopy) keeps.add(id);
    if (opts.disksAnswer) return c.json({ taskId: id, image: body.image, ...opts.disksAnswer(id) }, 201);
    return c.json({
      taskId: id, image: body.image,
      disks: [{ path: `/var/lib/cps/disks/${id}/root.qcow2`, format: 'qcow2', device: 'disk' }],
      boot: { kind: 'kernel', kernel: '/img/vmlinuz', initrd: '/img/initrd.img', cmdline: 'console=ttyS0' },
    }, 201);
  });
  storage.get('/disks/:taskId', (c) => {
    const id = c.req.param('taskId');
    if (!disks.has(id)) throw new ProblemError('not-found', `no disks for ${id}`);
    return c.json({
      taskId: id, image: 'tiny',
      disks: [{ path: `/var/lib/cps/disks/${id}/root.qcow2`, format: 'qcow2', device: 'disk' }],
      boot: { kind: 'kernel', kernel: '/img/vmlinuz', initrd: '/img/initrd.img', cmdline: 'console=ttyS0' },
    });
  });
  storage.delete('/disks/:taskId', async (c) => {
    const id = c.req.param('taskId');
    calls.push(`DELETE /disks/${id}`);
    if (keeps.has(id) && disks.has(id)) {
      const bytes = opts.exportBytes ?? Buffer.from('QFI\xfb a compressed copy');
      const dir = mkdtempSync(path.join(tmpdir(), 'fake-export-'));
      writeFileSync(path.join(dir, 'root.qcow2'), bytes);
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      exportFiles.set(id, { dir, exp: { taskId: id, createdAt: '2026-12-01T10:00:00.000Z', expiresAt: '2999-01-01T00:00:00.000Z', files: [{ name: 'root.qcow2', sizeBytes: bytes.length, sha256 }] } });
    }
    disks.delete(id);
    return c.body(null, 204);
  });
  storage.post('/bootstraps', async (c) => {
    calls.push('POST /bootstraps');
    if (c.req.header('content-type') !== 'application/x-tar') throw new ProblemError('unsupported-media-type', 'send a tar');
    const body = Buffer.from(await c.req.arrayBuffer());
    bootstraps.push(body);
    const sha256 = createHash('sha256').update(body).digest('hex');
    return c.json({ id: `b-${sha256.slice(0, 24)}`, sha256, sizeBytes: body.length, files: [] }, 201);
  });
  storage.get('/exports/:taskId', (c) => {
    const e = exportFiles.get(c.req.param('taskId'));
    if (!e) throw new ProblemError('not-found', 'no kept copy');
    return c.json(e.exp);
  });
  // The real storage's Range handling, on a file the fake kept.
  storage.get('/exports/:taskId/:fileName', (c) => {
    const e = exportFiles.get(c.req.param('taskId'));
    const f = e?.exp.files.find((x) => x.name === c.req.param('fileName'));
    if (!e || !f) throw new ProblemError('not-found', 'no such file');
    calls.push(`GET /exports/${e.exp.taskId}/${f.name}${c.req.header('range') ? ` ${c.req.header('range')}` : ''}`);
    return fileResponse(path.join(e.dir, f.name), f.sizeBytes, `"${f.sha256}"`, { range: c.req.header('range'), ifRange: c.req.header('if-range') });
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
  for (const action of ['suspend', 'resume', 'checkpoint'] as const) {
    provisioner.post(`/vms/:taskId/${action}`, async (c) => {
      const id = c.req.param('taskId');
      calls.push(`POST /vms/${id}/${action}${action === 'checkpoint' ? ` ${await c.req.text()}` : ''}`);
      if (opts.failActions) throw new ProblemError(...opts.failActions);
      await opts.actionGate;
      const n = vms.get(id);
      if (n === undefined) throw new ProblemError('not-found', `no guest ${id}`);
      if (action === 'suspend') paused.add(id);
      if (action === 'resume') paused.delete(id);
      if (action === 'checkpoint') {
        return c.json({ taskId: id, path: `/var/lib/cps/checkpoints/${id}/state.sav`, sizeBytes: 4096, createdAt: '2026-12-01T10:05:00.000Z', vcpus: 1, memoryMiB: 256, running: true });
      }
      return c.json(vm(id, n));
    });
  }
  // GET /events: what the test emits, sent to each open stream; a new stream gets what was sent
  // before (the real one replays the last minute). The test can end every stream (a restart).
  const eventStreams = new Set<ReadableStreamDefaultController<Uint8Array>>();
  const sentEvents: ProvisionerSchemas['VmEvent'][] = [];
  let eventId = 0;
  const sse = (e: ProvisionerSchemas['VmEvent']) => new TextEncoder().encode(`event: ${e.kind}\nid: ${e.id}\ndata: ${JSON.stringify(e)}\n\n`);
  provisioner.get('/events', () => {
    let ctl!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        ctl = c;
        eventStreams.add(c);
        for (const e of sentEvents) c.enqueue(sse(e));
      },
      cancel() {
        eventStreams.delete(ctl);
      },
    });
    return new Response(body, { headers: { 'content-type': 'text/event-stream' } });
  });
  const emit = (e: Omit<ProvisionerSchemas['VmEvent'], 'id'>) => {
    const full = { id: ++eventId, ...e };
    sentEvents.push(full);
    for (const c of eventStreams) c.enqueue(sse(full));
  };
  const endEventStreams = () => {
    for (const c of eventStreams) c.close();
    eventStreams.clear();
  };
  provisioner.delete('/vms/:taskId', (c) => {
    calls.push(`DELETE /vms/${c.req.param('taskId')}`);
    if (opts.failDestroy) throw new ProblemError(...opts.failDestroy);
    vms.delete(c.req.param('taskId'));
    paused.delete(c.req.param('taskId'));
    return c.body(null, 204);
  });

  // `behaviour` is live: a test may change how the node answers mid-way.
  return { info, storage, provisioner, calls, disks, vms, specs, diskRequests, bootstraps, exports: exportFiles, paused, emit, endEventStreams, eventStreams: () => eventStreams.size, behaviour: opts };
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
export function fakeCluster(nodes: FakeNode[], opts: Partial<PlacementOptions> & { bootstraps?: BootstrapArchives; clientsFor?: ClientsFor; heartbeatMs?: number; door?: DoorLists; idempotency?: IdempotencyKeys; tasks?: Tasks; accounts?: Accounts } = {}) {
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
