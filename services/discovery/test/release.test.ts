import { provisionerClient, specFiles, viaApp } from '@cps/openapi';
import { Contract } from '@cps/common';
import { Hono } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp } from '../src/app.ts';
import { MemoryBus } from '../src/pep/socket.ts';
import { provisionerView } from '../src/provisioner.ts';
import { provisionerCache, type ProvisionerCache } from '../src/provisioner-cache.ts';
import { holdOutlived } from '../src/responder.ts';
import { capacity, makeNode, req, silent, type Capacity, type TestNode } from './cluster.ts';

const contract = Contract.fromFile(specFiles.discovery);

let nodes: TestNode[] = [];
let caches: ProvisionerCache[] = [];
afterEach(async () => {
  caches.forEach((c) => c.close());
  await Promise.all(nodes.map((n) => n.close()));
  nodes = [];
  caches = [];
});

/** A provisioner with one slot: a guest takes it, destroying the guest gives it back. */
function oneSlotProvisioner() {
  const guests = new Set<string>();
  const app = new Hono();
  const cap = (): Capacity => capacity({ vcpus: guests.size ? 0 : 1 }, { total: { vcpus: 1, memoryMiB: 4096, diskMiB: 100_000 } });
  app.get('/capacity', (c) => c.json(cap()));
  app.get('/vms', (c) => c.json({ items: [...guests].map((taskId) => ({ taskId })) }));
  return { app, guests };
}

function discovery(bus: MemoryBus, id: string, o: { refreshMs: number; cap?: Capacity }) {
  const prov = oneSlotProvisioner();
  const cache = provisionerCache({ ...provisionerView(provisionerClient(viaApp(prov.app))), log: silent, refreshMs: o.refreshMs });
  caches.push(cache);
  const node = o.cap
    ? makeNode(id, bus.transport(id), { cap: o.cap, hello: true })
    : makeNode(id, bus.transport(id), { capacity: cache.capacity, provisioner: cache.snapshot, hello: true });
  nodes.push(node);
  const app = createApp({ self: node.self, membership: node.membership, publisher: node.publisher, metrics: node.metrics, log: silent });
  const post = (path: string, body?: unknown) =>
    app.request(path, { method: 'POST', ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }) });
  const publish = (taskId: string, timeoutMs = 1500) => post('/publish', { taskId, requirements: req(), timeoutMs });
  return { app, node, prov, cache, post, publish };
}

const until = async (what: string, ok: () => Promise<boolean> | boolean) => {
  for (let i = 0; i < 400; i++) {
    if (await ok()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`never: ${what}`);
};

describe('a stop releases the host at once', () => {
  it('stop and submit at once on a one-slot host: the hold of a guest the view has listed is gone, the new task is placed', async () => {
    const solo = discovery(new MemoryBus(), 'solo', { refreshMs: 20 });
    expect((await solo.publish('t-one')).status).toBe(200);
    await until('the hold is confirmed', () => solo.node.responder.holds().get('t-one')?.confirmed === true);

    // The coordinator makes the guest; the provisioner lists it (and counts it in `free`)...
    solo.prov.guests.add('t-one');
    await until('the view lists the guest', async () => (await solo.cache.snapshot()).guests.has('t-one'));
    // ...and no PUBLISH came while it ran. Now it is stopped, and a task is submitted at once.
    solo.prov.guests.delete('t-one');
    await until('the view no longer lists it', async () => !(await solo.cache.snapshot()).guests.has('t-one'));

    const res = await solo.publish('t-two');
    expect(res.status, JSON.stringify(await res.clone().json())).toBe(200);
    expect((await res.json()).chosen.nodeId).toBe('solo');
    expect(solo.node.responder.holds().has('t-one')).toBe(false);
  });

  it('POST /release/{taskId} RELEASEs a hold the host would otherwise keep (a guest too short-lived for the view to list)', async () => {
    const bus = new MemoryBus();
    // p publishes and has no room; a hosts, and its view never saw the guest come and go.
    const p = discovery(bus, 'p', { refreshMs: 60_000, cap: capacity({ memoryMiB: 0 }) });
    const a = discovery(bus, 'a', { refreshMs: 60_000 });
    const placed = await p.publish('t-one');
    expect(placed.status).toBe(200);
    expect((await placed.json()).chosen.nodeId).toBe('a');
    await until('a holds t-one confirmed', () => a.node.responder.holds().get('t-one')?.confirmed === true);

    // Without a release the slot stays taken.
    const refused = await p.publish('t-two', 300);
    expect(refused.status).toBe(503);
    expect((await refused.json()).type).toBe('urn:cps:problem:no-capable-node');

    const rel = await p.post('/release/t-one');
    expect(rel.status).toBe(200);
    expect(contract.check('Released', await rel.json())).toEqual({ taskId: 't-one', released: true, node: 'a' });
    await until('a dropped the hold', () => !a.node.responder.holds().has('t-one'));
    const res = await p.publish('t-two');
    expect(res.status).toBe(200);
    expect((await res.json()).chosen.nodeId).toBe('a');

    // Idempotent, and only for tasks this node placed.
    expect(await (await p.post('/release/t-one')).json()).toEqual({ taskId: 't-one', released: false });
    expect(await (await a.post('/release/t-two')).json()).toEqual({ taskId: 't-two', released: false });
    await until('a keeps the hold of t-two', () => a.node.responder.holds().get('t-two')?.confirmed === true);
  });

  it('answers a bad task id with a 400 problem', async () => {
    const solo = discovery(new MemoryBus(), 'solo', { refreshMs: 60_000 });
    for (const bad of ['Bad_Id', 'x'.repeat(70), '-x']) {
      const res = await solo.post(`/release/${bad}`);
      expect(res.status, bad).toBe(400);
      expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
      expect((await res.json()).type).toBe('urn:cps:problem:validation-failed');
    }
  });
});

describe('holdOutlived', () => {
  const confirmed = { confirmed: true, generation: 4 };
  it.each([
    ['an offer not yet confirmed', { confirmed: false, generation: 4 }, { guests: new Set(['t']) }, false],
    ['the guest is listed now', confirmed, { guests: new Set(['t']) }, true],
    ['listed by a later snapshot, gone now', confirmed, { guests: new Set<string>(), lastSeen: new Map([['t', 5]]) }, true],
    ['listed only before the offer (an older guest of the task)', confirmed, { guests: new Set<string>(), lastSeen: new Map([['t', 4]]) }, false],
    ['never listed', confirmed, { guests: new Set<string>(), lastSeen: new Map() }, false],
    ['no guest list at all (runs to its expiry)', confirmed, {}, false],
  ])('%s', (_what, hold, view, expected) => {
    expect(holdOutlived('t', hold, view)).toBe(expected);
  });
});
