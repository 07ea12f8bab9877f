import { Hono } from 'hono';
import { createLogger, ProblemError } from '@cps/common';
import { discoveryClient, provisionerClient, storageClient, viaApp } from '@cps/openapi';
import { describe, expect, it } from 'vitest';
import { createApp } from '../src/app.ts';
import { Accounts } from '../src/accounts/accounts.ts';
import { MemoryAccountStore } from '../src/accounts/memory-store.ts';
import type { ClientsFor } from '../src/clients.ts';
import { Placer } from '../src/placement.ts';
import type { Timers } from '../src/queue/dispatcher.ts';
import { Orphans } from '../src/reconcile/orphans.ts';
import { planReconcile } from '../src/reconcile/plan.ts';
import { Reconciler } from '../src/reconcile/reconcile.ts';
import { Tasks } from '../src/tasks/tasks.ts';
import { fakeDiscovery, fakeNode, fastPolling, reach, type FakeNode } from './fakes.ts';

const log = createLogger('reconcile-test', 'silent');
const me = 'coord-1';
const request = { vcpus: 1, memoryMiB: 256, diskMiB: 64, image: 'tiny' };

/** Timers the test fires by hand. */
function manualTimers() {
  const pending = new Map<number, () => void>();
  const delays: number[] = [];
  let next = 1;
  const timers: Timers = {
    setTimeout: (fn, ms) => {
      delays.push(ms);
      pending.set(next, fn);
      return next++;
    },
    clearTimeout: (h) => void pending.delete(h as number),
  };
  const fire = () => {
    const fns = [...pending.values()];
    pending.clear();
    for (const f of fns) f();
  };
  return { timers, fire, delays, get count() { return pending.size; } };
}

/**
 * A peer whose provisioner also lists its guests (GET /vms, with placedBy) the way the real one
 * does, and can be told not to answer at all.
 */
function listingNode(nodeId: string, address: string) {
  const n = fakeNode(nodeId, address);
  const placedBy = new Map<string, string | undefined>();
  const down = { now: false };
  const guarded = new Hono();
  guarded.use('*', async (c, next) => {
    if (down.now) throw new Error('connection refused');
    await next();
  });
  n.provisioner.get('/vms', (c) =>
    c.json({
      items: [...n.vms.keys()].map((taskId, i) => ({
        taskId, domain: `cps-${taskId}`, name: `guest ${taskId}`, state: 'running', vcpus: 1, memoryMiB: 256, accelerator: 'tcg',
        console: { vnc: { host: '127.0.0.1', port: 5900 + i } }, ...(placedBy.get(taskId) ? { placedBy: placedBy.get(taskId) } : {}),
      })),
    }),
  );
  n.storage.get('/disks/:taskId', (c) => {
    const id = c.req.param('taskId');
    if (!n.disks.has(id)) throw new ProblemError('not-found', `no disks of ${id}`);
    return c.json({ taskId: id, image: 'tiny', disks: [], boot: { kind: 'disk' } });
  });
  guarded.route('/', n.provisioner);
  /** A guest on this host that the test puts there (as if made before the restart). */
  const run = (taskId: string, by: string | null = me) => {
    n.vms.set(taskId, 0);
    n.disks.add(taskId);
    placedBy.set(taskId, by ?? undefined);
  };
  return { ...n, guarded, down, run };
}
type ListingNode = ReturnType<typeof listingNode>;

/** A coordinator "after a restart": its registry filled by `fill`, then reconciled. */
async function restarted(nodes: ListingNode[], fill: (tasks: Tasks) => void) {
  const tasks = new Tasks();
  fill(tasks);
  const discovery = fakeDiscovery(nodes as unknown as FakeNode[]);
  const [self, ...others] = nodes;
  discovery.app.get('/self', (c) => c.json(self!.info));
  discovery.app.get('/peers', (c) => c.json({ items: others.map((n) => ({ ...n.info, lastSeenMs: 10, state: 'alive', head: false })) }));
  discovery.app.post('/release/:taskId', (c) => c.json({ taskId: c.req.param('taskId'), released: true }));
  const byId = new Map(nodes.map((n) => [n.info.nodeId, n]));
  const clientsFor: ClientsFor = (node) => {
    const n = byId.get(node.nodeId)!;
    return { storage: storageClient(viaApp(n.storage)), provisioner: provisionerClient(viaApp(n.guarded)) };
  };
  const discoveryApi = discoveryClient(viaApp(discovery.app));
  const placer = new Placer({ tasks, discovery: discoveryApi, clientsFor, log, coordinatorId: me, ...fastPolling });
  const clock = manualTimers();
  const orphans = new Orphans(() => new Date('2026-12-02T10:00:00Z'));
  const reconciler = new Reconciler({ tasks, placer, discovery: discoveryApi, clientsFor, coordinatorId: me, orphans, log, timers: clock.timers, retryMs: 1000, firstRetryMs: 250 });
  const accounts = new Accounts({ store: new MemoryAccountStore(), now: () => new Date() });
  const admin = (await accounts.ensureFirstAdmin())!.user;
  const alice = await accounts.createUser({ name: 'alice', password: 'alice-password-1' });
  const bob = await accounts.createUser({ name: 'bob', password: 'bob-password-12' });
  const tokens = {
    admin: (await accounts.createToken(admin.id, 't')).value,
    alice: (await accounts.createToken(alice.id, 't')).value,
    bob: (await accounts.createToken(bob.id, 't')).value,
  };
  const app = createApp({ log, tasks, placer, localStorage: storageClient(viaApp(nodes[0]!.storage)), clientsFor, accounts, orphans });
  const call = (who: keyof typeof tokens | undefined, method: string, path: string, body?: unknown) =>
    app.request(`http://localhost${path}`, {
      method,
      headers: { host: 'localhost', 'x-cps-request': '1', ...(who ? { authorization: `Bearer ${tokens[who]}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
  return { tasks, placer, reconciler, clock, orphans, call, users: { admin, alice, bob } };
}

/** A task as the registry held it when the coordinator died: on `node`, in `state`. */
function leftover(tasks: Tasks, node: ListingNode, state: 'starting' | 'running' | 'suspended', name: string = state) {
  const t = tasks.create(name, request);
  tasks.transition(t.id, 'placing', 'publishing to the peers');
  tasks.transition(t.id, 'starting', `placed on ${node.info.nodeId}`, { node: node.info });
  if (state !== 'starting') tasks.transition(t.id, 'running', 'guest running', { console: { vncUrl: 'http://x/console' } });
  if (state === 'suspended') tasks.transition(t.id, 'suspended', 'suspended');
  return t.id;
}

describe('the coordinator reconciles its registry with what the hosts run, after a restart', () => {
  it('adopts the guests it knows (stop works), fails the vanished, requeues a start that never came, waits for a host that does not answer, and lists its own orphans only', async () => {
    const a = listingNode('host-a', '10.0.0.1');
    const b = listingNode('host-b', '10.0.0.2');
    const ids: Record<string, string> = {};
    const c = await restarted([a, b], (tasks) => {
      ids.running = leftover(tasks, a, 'running');
      ids.suspended = leftover(tasks, a, 'suspended');
      ids.gone = leftover(tasks, a, 'running', 'gone');
      ids.startedThere = leftover(tasks, a, 'starting', 'started there');
      ids.neverCame = leftover(tasks, a, 'starting', 'never came');
      ids.onB = leftover(tasks, b, 'running', 'on b');
      ids.stopped = tasks.create('ended', request).id;
      tasks.transition(ids.stopped, 'stopping', 'stop requested');
      tasks.transition(ids.stopped, 'stopped', 'nothing was running');
    });
    for (const id of [ids.running, ids.suspended, ids.startedThere]) a.run(id!);
    b.run(ids.onB!);
    a.run('t-orphan1', me);
    a.run('t-theirs1', 'coord-2');
    a.run('t-noone01', null);
    b.down.now = true;

    const first = await c.reconciler.pass();
    expect(first).toEqual({ adopted: 3, lost: 1, requeued: 1, waiting: 1, orphans: 1 });
    const t = (id: string) => c.tasks.require(id);
    expect(t(ids.running!).state).toBe('running');
    expect(t(ids.running!).history.at(-1)?.message).toBe('adopted after restart: the guest is running on host-a');
    expect(t(ids.running!).console?.vncUrl).toBe(`/console/${ids.running}`); // was http://x/console
    expect(t(ids.suspended!).state).toBe('suspended');
    expect(t(ids.startedThere!).state).toBe('running');
    expect(t(ids.startedThere!).history.at(-1)?.message).toBe('adopted after restart: guest running on host-a');
    expect(t(ids.gone!).state).toBe('failed');
    expect(t(ids.gone!).error?.type).toBe('urn:cps:problem:guest-lost');
    expect(t(ids.gone!).error?.detail).toBe('lost: the guest was not found on host-a after the coordinator restarted');
    expect(t(ids.onB!).state).toBe('running');
    expect(t(ids.onB!).history).toHaveLength(4); // nothing said yet: a silent host is no evidence
    expect(t(ids.stopped!).state).toBe('stopped');
    // The start that never came is placed again (on host-a, the first to answer) and runs.
    await reach(c.tasks, ids.neverCame!, 'running');
    expect(t(ids.neverCame!).history.map((h) => h.state)).toEqual(['pending', 'placing', 'starting', 'placing', 'queued', 'placing', 'starting', 'running']);
    expect(a.calls).toContain(`DELETE /disks/${ids.neverCame}`);
    expect(a.specs.at(-1)).toMatchObject({ placedBy: me });
    expect(c.orphans.list().map((o) => o.taskId)).toEqual(['t-orphan1']);

    // host-b answers later: the retry on the timers adopts its task, and then no more retries.
    expect(c.clock.count).toBe(1);
    b.down.now = false;
    const retried = new Promise<void>((resolve) => c.tasks.subscribe((x) => x.id === ids.onB && resolve()));
    c.clock.fire();
    await retried;
    expect(t(ids.onB!).history.at(-1)?.message).toBe('adopted after restart: the guest is running on host-b');
    await new Promise((r) => setImmediate(r));
    expect(c.clock.count).toBe(0);
    expect(c.reconciler.unsettled).toBe(0);

    // An adopted task is controllable: a stop destroys its guest and disks on its host.
    const stop = await c.call('admin', 'DELETE', `/api/tasks/${ids.running}`);
    expect(stop.status).toBe(202);
    await reach(c.tasks, ids.running!, 'stopped');
    expect(a.vms.has(ids.running!)).toBe(false);
    expect(a.calls).toContain(`DELETE /disks/${ids.running}`);
    expect(c.tasks.list()).toHaveLength(7); // nothing duplicated
  });

  it('a host that does not answer leaves its tasks alone, pass after pass, until it does', async () => {
    const a = listingNode('host-a', '10.0.0.1');
    let id = '';
    const c = await restarted([a], (tasks) => (id = leftover(tasks, a, 'running')));
    a.down.now = true;
    expect((await c.reconciler.pass()).waiting).toBe(1);
    for (let i = 0; i < 5; i++) {
      c.clock.fire(); // the retry the last pass scheduled: the host is still silent, so it schedules the next
      while (c.clock.count === 0) await new Promise((r) => setImmediate(r));
    }
    expect(c.tasks.require(id).state).toBe('running');
    // It asks again soon at first, then backs off to retryMs (1000 in these tests, from 250).
    expect(c.clock.delays.slice(0, 4)).toEqual([250, 500, 1000, 1000]);
    a.down.now = false;
    expect((await c.reconciler.pass()).lost).toBe(1); // it answered, and the guest is not there
    expect(c.tasks.require(id).state).toBe('failed');
  });

  it('leaves a task the user stopped before the host answered to the stop', async () => {
    const a = listingNode('host-a', '10.0.0.1');
    let id = '';
    const c = await restarted([a], (tasks) => (id = leftover(tasks, a, 'running')));
    a.run(id);
    await c.placer.stop(id).done;
    expect((await c.reconciler.pass()).adopted).toBe(0);
    expect(c.tasks.require(id).state).toBe('stopped');
  });
});

describe('passes that overlap', () => {
  it('are one pass: a task is adopted once, with one history line', async () => {
    const a = listingNode('host-a', '10.0.0.1');
    let running = '';
    let starting = '';
    const c = await restarted([a], (tasks) => {
      running = leftover(tasks, a, 'running');
      starting = leftover(tasks, a, 'starting');
    });
    a.run(running);
    a.run(starting);
    const [x, y] = [c.reconciler.pass(), c.reconciler.pass()];
    expect(x).toBe(y);
    expect((await x).adopted).toBe(2);
    expect(c.tasks.require(running).history.filter((h) => h.message?.startsWith('adopted')).length).toBe(1);
    expect(c.tasks.require(starting).state).toBe('running');
    expect((await c.reconciler.pass()).adopted).toBe(0); // settled: nothing left to adopt
  });
});

describe('the orphans, for admins', () => {
  async function withOrphan() {
    const a = listingNode('host-a', '10.0.0.1');
    const c = await restarted([a], () => undefined);
    a.run('t-orphan1', me);
    await c.reconciler.pass();
    return { a, ...c };
  }

  it('are listed (node, task id, name, state, since) to an admin only: 401 without sign-in, 403 for a user', async () => {
    const c = await withOrphan();
    const list = await c.call('admin', 'GET', '/api/orphans');
    expect(list.status).toBe(200);
    expect(await list.json()).toEqual({
      items: [{ taskId: 't-orphan1', node: { nodeId: 'host-a', address: '10.0.0.1', ports: c.a.info.ports }, name: 'guest t-orphan1', state: 'running', vcpus: 1, memoryMiB: 256, since: '2026-12-02T10:00:00.000Z' }],
    });
    for (const [who, status, type] of [[undefined, 401, 'authentication-required'], ['alice', 403, 'forbidden']] as const) {
      for (const [method, path] of [['GET', '/api/orphans'], ['POST', '/api/orphans/t-orphan1/adopt'], ['DELETE', '/api/orphans/t-orphan1']]) {
        const r = await c.call(who, method!, path!);
        expect(r.status, `${who} ${method} ${path}`).toBe(status);
        expect(r.headers.get('content-type')).toMatch(/application\/problem\+json/);
        expect((await r.json()).type).toBe(`urn:cps:problem:${type}`);
      }
    }
    expect(c.a.vms.has('t-orphan1')).toBe(true);
  });

  it('can be adopted as a running task owned by a named user, with the spec read from the host; the user can then stop it', async () => {
    const c = await withOrphan();
    const r = await c.call('admin', 'POST', '/api/orphans/t-orphan1/adopt', { owner: 'alice' });
    expect(r.status).toBe(201);
    expect(r.headers.get('location')).toBe('/api/tasks/t-orphan1');
    const task = await r.json();
    expect(task).toMatchObject({ id: 't-orphan1', name: 't-orphan1', state: 'running', owner: { name: 'alice' }, request: { vcpus: 1, memoryMiB: 256, image: 'tiny' }, node: { nodeId: 'host-a' } });
    expect(task.history[0].message).toMatch(/^adopted by admin: an orphan guest found on host-a/);
    expect((await (await c.call('admin', 'GET', '/api/orphans')).json()).items).toEqual([]);
    expect((await c.call('bob', 'GET', '/api/tasks/t-orphan1')).status).toBe(404);
    expect((await c.call('alice', 'DELETE', '/api/tasks/t-orphan1')).status).toBe(202);
    await reach(c.tasks, 't-orphan1', 'stopped');
    expect(c.a.vms.has('t-orphan1')).toBe(false);
    expect(c.a.disks.has('t-orphan1')).toBe(false);
    // Adopted once: a second adopt finds no orphan.
    expect((await c.call('admin', 'POST', '/api/orphans/t-orphan1/adopt')).status).toBe(404);
  });

  it('adopted without a body belong to the admin', async () => {
    const c = await withOrphan();
    const r = await c.call('admin', 'POST', '/api/orphans/t-orphan1/adopt');
    expect(r.status).toBe(201);
    expect((await r.json()).owner).toEqual({ id: c.users.admin.id, name: c.users.admin.name });
  });

  it('can be destroyed: the guest and its disks go on their node', async () => {
    const c = await withOrphan();
    const r = await c.call('admin', 'DELETE', '/api/orphans/t-orphan1');
    expect(r.status).toBe(204);
    expect(c.a.calls.slice(-2)).toEqual(['DELETE /vms/t-orphan1', 'DELETE /disks/t-orphan1']);
    expect((await (await c.call('admin', 'GET', '/api/orphans')).json()).items).toEqual([]);
    expect((await c.call('admin', 'DELETE', '/api/orphans/t-orphan1')).status).toBe(404);
  });

  it('refuses hostile input with a stable problem', async () => {
    const c = await withOrphan();
    const cases: [string, string, unknown, number, string][] = [
      ['POST', '/api/orphans/T-BAD/adopt', undefined, 400, 'validation-failed'],
      ['DELETE', `/api/orphans/${'a'.repeat(64)}`, undefined, 400, 'validation-failed'],
      ['DELETE', '/api/orphans/t-nothing', undefined, 404, 'not-found'],
      ['POST', '/api/orphans/t-orphan1/adopt', { owner: 'nobody' }, 404, 'not-found'],
      ['POST', '/api/orphans/t-orphan1/adopt', { owner: 'Alice"<' }, 400, 'validation-failed'],
      ['POST', '/api/orphans/t-orphan1/adopt', { owner: 'alice', role: 'admin' }, 400, 'validation-failed'],
      ['POST', '/api/orphans/t-orphan1/adopt', '{"owner":', 400, 'validation-failed'],
      ['POST', '/api/orphans/t-orphan1/adopt', 'x'.repeat(10_000), 413, 'payload-too-large'],
    ];
    for (const [method, path, body, status, type] of cases) {
      const r = await c.call('admin', method, path, body);
      expect(r.status, `${method} ${path} ${String(body).slice(0, 40)}`).toBe(status);
      expect((await r.json()).type).toBe(`urn:cps:problem:${type}`);
    }
    expect(c.a.vms.has('t-orphan1')).toBe(true);
  });
});

describe('planReconcile', () => {
  const node = { nodeId: 'h', address: '10.0.0.9', ports: { coordinator: 1, discovery: 2, provisioner: 3, storage: 4, vncGateway: 5 } };
  const vm = (taskId: string, placedBy?: string) => ({ taskId, domain: `cps-${taskId}`, name: taskId, state: 'running' as const, vcpus: 1, memoryMiB: 64, accelerator: 'tcg' as const, console: { vnc: { host: '127.0.0.1', port: 1 } }, ...(placedBy ? { placedBy } : {}) });
  const task = (id: string, state: 'running' | 'starting', nodeId?: string) =>
    ({ id, name: id, state, request, createdAt: '', updatedAt: '', history: [], ...(nodeId ? { node: { nodeId, address: 'x' } } : {}) });

  it.each([
    ['present on an answering host', task('t1', 'running', 'h'), [{ node, vms: [vm('t1')] }], 'adopt'],
    ['absent from an answering host', task('t1', 'running', 'h'), [{ node, vms: [] }], 'lost'],
    ['starting, absent from an answering host', task('t1', 'starting', 'h'), [{ node, vms: [] }], 'requeue'],
    ['on a host that did not answer', task('t1', 'running', 'h'), [{ node, unanswered: 'timeout' }], 'wait'],
    ['on a host that is not a live peer', task('t1', 'running', 'gone'), [{ node, vms: [] }], 'wait'],
    ['with no host at all', task('t1', 'running'), [{ node, vms: [] }], 'wait'],
  ] as const)('a task %s: %s', (_, t, surveys, kind) => {
    expect(planReconcile([t as never], new Set(['t1']), surveys as never, me).decisions.map((d) => d.kind)).toEqual([kind]);
  });

  it('an orphan is a guest this coordinator placed that no task knows, on a host that answered', () => {
    const plan = planReconcile([], new Set(['t-known']), [{ node, vms: [vm('t-known', me), vm('t-mine', me), vm('t-other', 'coord-2'), vm('t-none')] }], me);
    expect(plan.orphans).toEqual([{ node, vms: [vm('t-mine', me)] }]);
  });
});
