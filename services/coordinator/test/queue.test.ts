import { createLogger } from '@cps/common';
import { discoveryClient, provisionerClient, storageClient, viaApp, type CoordinatorSchemas } from '@cps/openapi';
import { createApp as discoveryApp } from '@cps/discovery/app.ts';
import { Membership } from '@cps/discovery/membership.ts';
import { Metrics } from '@cps/discovery/metrics.ts';
import { PepEndpoint } from '@cps/discovery/pep/endpoint.ts';
import { MemoryBus } from '@cps/discovery/pep/socket.ts';
import { provisionerView } from '@cps/discovery/provisioner.ts';
import { provisionerCache } from '@cps/discovery/provisioner-cache.ts';
import { createPublisher } from '@cps/discovery/publisher.ts';
import { createResponder } from '@cps/discovery/responder.ts';
import { createSelf } from '@cps/discovery/self.ts';
import { getRequestListener } from '@hono/node-server';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp } from '../src/app.ts';
import type { ClientsFor } from '../src/clients.ts';
import { Placer } from '../src/placement.ts';
import { Tasks } from '../src/tasks/tasks.ts';
import { fakeNode, reach } from './fakes.ts';

type Task = CoordinatorSchemas['Task'];
const log = createLogger('queue-test', 'silent');

const until = async (what: string, ok: () => boolean) => {
  for (let i = 0; i < 400 && !ok(); i++) await new Promise((r) => setTimeout(r, 5));
  if (!ok()) throw new Error(`never: ${what}`);
};

const closers: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

/**
 * A coordinator on a host with `slots` one-vCPU slots, wired as in production but without sockets:
 * the real discovery app (PEP publisher and responder on an in-memory bus, the provisioner view
 * cached as in main.ts) over a fake provisioner whose guests take the slots. Tasks are owned by the
 * part of their name before the `/` (accounts come later).
 */
function oneSlotHost(o: { slots?: number; refreshMs?: number } = {}) {
  const slots = o.slots ?? 1;
  const node = fakeNode('solo', '127.0.0.1');
  node.provisioner.get('/capacity', (c) =>
    c.json({
      total: { vcpus: slots, memoryMiB: 4096, diskMiB: 100_000 },
      free: { vcpus: slots - node.vms.size, memoryMiB: 4096, diskMiB: 100_000 },
      accelerator: 'tcg',
      arch: 'x86_64',
    }),
  );
  node.provisioner.get('/vms', (c) => c.json({ items: [...node.vms.keys()].map((taskId) => ({ taskId })) }));

  const metrics = new Metrics();
  const cache = provisionerCache({ ...provisionerView(provisionerClient(viaApp(node.provisioner))), log, refreshMs: o.refreshMs ?? 20 });
  const bus = new MemoryBus();
  const transport = bus.transport('solo');
  const endpoint = new PepEndpoint({ transport, auth: { kind: 'insecure' }, nodeId: 'solo', metrics, log });
  const membership = new Membership('solo');
  const self = createSelf({ nodeId: 'solo', address: '127.0.0.1', ports: node.info.ports, capacity: cache.capacity });
  const responder = createResponder({ endpoint, metrics, log, provisioner: cache.snapshot, onChosen: cache.invalidate, self: self.base, ackDelayMaxMs: 0 });
  const publisher = createPublisher({ endpoint, metrics, log, describePeers: () => membership.describe(), lingerMs: 50 });
  const discovery = discoveryApp({ self, membership, publisher, metrics, log });

  const clientsFor: ClientsFor = () => ({ storage: storageClient(viaApp(node.storage)), provisioner: provisionerClient(viaApp(node.provisioner)) });
  const tasks = new Tasks();
  const placer = new Placer({
    tasks,
    discovery: discoveryClient(viaApp(discovery)),
    clientsFor,
    log,
    pollIntervalMs: 1,
    sleep: () => Promise.resolve(),
    publishTimeoutMs: 400,
    retryMs: 50,
    ownerOf: (t) => t.name.split('/')[0]!,
  });
  const app = createApp({ log, tasks, placer, localStorage: storageClient(viaApp(node.storage)), clientsFor });
  closers.push(() => placer.close(), () => responder.close(), () => cache.close(), () => transport.close());

  const http = request(getRequestListener(app.fetch));
  const submit = async (name: string, more: Record<string, unknown> = {}): Promise<Task> =>
    (await http.post('/api/tasks').send({ name, vcpus: 1, ...more }).expect(202)).body;
  const get = async (id: string): Promise<Task> => (await http.get(`/api/tasks/${id}`).expect(200)).body;
  const stop = async (id: string) => {
    await http.delete(`/api/tasks/${id}`).expect(202);
    await reach(tasks, id, 'stopped');
  };
  return { node, tasks, placer, responder, http, submit, get, stop };
}

describe('a stop releases the host at once', () => {
  it('stop and submit at once on a one-slot host: the new task starts in moments, not when the hold lapses (60 s)', async () => {
    const host = oneSlotHost();
    const first = await host.submit('alice/first');
    await reach(host.tasks, first.id, 'running');
    await until('the host holds the slot, confirmed', () => host.responder.holds().get(first.id)?.confirmed === true);

    await host.stop(first.id);
    await until('the stop released the hold', () => !host.responder.holds().has(first.id));
    const submittedAt = Date.now();
    const next = await host.submit('alice/next');
    await reach(host.tasks, next.id, 'running');
    expect(Date.now() - submittedAt).toBeLessThan(3_000);
    expect(host.node.calls).toContain(`PUT /vms/${next.id}`);
  });
});

describe('the queue', () => {
  it('a task no peer can take waits queued, with its position and why, and starts within moments of a stop', async () => {
    const host = oneSlotHost();
    const first = await host.submit('alice/1');
    await reach(host.tasks, first.id, 'running');

    const waiting = await host.submit('alice/2');
    await reach(host.tasks, waiting.id, 'queued');
    const q = await host.get(waiting.id);
    expect(q.queue).toMatchObject({ position: 1 });
    expect(q.queue?.reason).toMatch(/^(needs 1 vCPU; the largest free peer lends 0|no peer took it at the last try .*)$/);
    expect(Date.parse(q.queue?.since ?? '')).not.toBeNaN();
    const listed = (await host.http.get('/api/tasks').expect(200)).body.items as Task[];
    expect(listed.find((t) => t.id === waiting.id)?.queue?.position).toBe(1);
    expect(listed.find((t) => t.id === first.id)?.queue).toBeUndefined();

    const stoppedAt = Date.now();
    await host.stop(first.id);
    await reach(host.tasks, waiting.id, 'running');
    expect(Date.now() - stoppedAt).toBeLessThan(5_000);
    const ran = await host.get(waiting.id);
    expect(ran.queue).toBeUndefined();
    // pending → queued (the view said no room) or pending → placing → queued (a PUBLISH found none).
    expect(ran.history.map((h) => h.state).slice(-3)).toEqual(['placing', 'starting', 'running']);
    expect(ran.history.filter((h) => h.state === 'queued')).toHaveLength(1);
  });

  it("is fair between users: on a one-slot host, the second user's first task runs before the first user's third", async () => {
    const host = oneSlotHost();
    const a1 = await host.submit('alice/1');
    await reach(host.tasks, a1.id, 'running');
    const a2 = await host.submit('alice/2');
    const a3 = await host.submit('alice/3');
    const b1 = await host.submit('bob/1');
    for (const t of [a2, a3, b1]) await reach(host.tasks, t.id, 'queued');
    expect((await host.get(a2.id)).queue?.position).toBe(1);
    expect((await host.get(b1.id)).queue?.position).toBe(2);
    expect((await host.get(a3.id)).queue?.position).toBe(3);

    const started: string[] = [];
    host.tasks.subscribe((t) => {
      if (t.state === 'running') started.push(t.name);
    });
    await host.stop(a1.id);
    await reach(host.tasks, a2.id, 'running');
    await host.stop(a2.id);
    await reach(host.tasks, b1.id, 'running');
    expect((await host.get(a3.id)).state).toBe('queued');
    await host.stop(b1.id);
    await reach(host.tasks, a3.id, 'running');
    expect(started).toEqual(['alice/2', 'bob/1', 'alice/3']);
  });

  it('cancels a queued task: it leaves the queue, is stopped, and the others move up', async () => {
    const host = oneSlotHost();
    const a1 = await host.submit('alice/1');
    await reach(host.tasks, a1.id, 'running');
    const a2 = await host.submit('alice/2');
    const b1 = await host.submit('bob/1');
    await reach(host.tasks, b1.id, 'queued');
    expect((await host.get(b1.id)).queue?.position).toBe(2);

    const res = await host.http.delete(`/api/tasks/${a2.id}`).expect(202);
    expect(res.body.state).toBe('stopping');
    const cancelled = await host.get(a2.id);
    expect(cancelled.state).toBe('stopped');
    expect(cancelled.queue).toBeUndefined();
    expect(cancelled.history.at(-1)?.message).toBe('cancelled while it waited in the queue');
    expect(host.node.calls.filter((c) => c.endsWith(a2.id))).toEqual([]); // nothing was made for it
    expect((await host.get(b1.id)).queue?.position).toBe(1);

    // Stopping it again changes nothing; the next in line still gets the slot.
    await host.http.delete(`/api/tasks/${a2.id}`).expect(202);
    await host.stop(a1.id);
    await reach(host.tasks, b1.id, 'running');
    expect((await host.get(a2.id)).state).toBe('stopped');
  });

  it('a run reserved in advance waits for its start time, then is placed', async () => {
    const host = oneSlotHost({ slots: 2 });
    const at = new Date(Date.now() + 400).toISOString();
    const t = await host.submit('alice/later', { notBefore: at });
    expect(t.request.notBefore).toBe(at);
    await reach(host.tasks, t.id, 'queued');
    const q = await host.get(t.id);
    expect(q.queue?.reason).toBe(`reserved: not placed before ${at}`);
    // Another task, not reserved, is not held up by it.
    const now = await host.submit('bob/now');
    await reach(host.tasks, now.id, 'running');
    expect((await host.get(t.id)).state).toBe('queued');
    await reach(host.tasks, t.id, 'running');
    const placedAt = host.tasks.require(t.id).history.find((h) => h.state === 'placing')!.at;
    expect(Date.parse(placedAt)).toBeGreaterThanOrEqual(Date.parse(at));
  });

  it('refuses a start time that is malformed or more than a year ahead, with a problem naming it', async () => {
    const host = oneSlotHost();
    for (const notBefore of ['tomorrow', '2026-13-01T00:00:00Z', new Date(Date.now() + 400 * 86_400_000).toISOString(), 12]) {
      const res = await host.http.post('/api/tasks').send({ name: 'x', notBefore }).expect(400);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body.type).toBe('urn:cps:problem:validation-failed');
      expect(res.body.errors.map((e: { location: string }) => e.location)).toContain('body/notBefore');
    }
    expect((await host.http.get('/api/tasks').expect(200)).body.items).toEqual([]);
  });
});
