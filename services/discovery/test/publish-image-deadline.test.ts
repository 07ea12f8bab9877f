import { ProblemError } from '@cps/common';
import { storageClient, viaApp } from '@cps/openapi';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryBus } from '../src/pep/socket.ts';
import type { MessageOf } from '../src/pep/messages.ts';
import { provisionerCache, type ProvisionerCache } from '../src/provisioner-cache.ts';
import { storageView, type StorageView } from '../src/storage-view.ts';
import { realTimers } from '../src/timing.ts';
import { capacity, makeNode, req, silent, type TestNode } from './cluster.ts';
import { makeFixture, type Fixture } from '../../storage/test/fixture.ts';

const digest = (c: string) => c.repeat(64);
let nodes: TestNode[] = [];
let cache: ProvisionerCache | undefined;
let fixture: Fixture | undefined;
afterEach(async () => {
  await Promise.all(nodes.map((n) => n.close()));
  nodes = [];
  cache?.close();
  cache = undefined;
  await fixture?.cleanup();
  fixture = undefined;
});

const onBus = (bus: MemoryBus, id: string, o: Parameters<typeof makeNode>[2] = {}) => {
  const n = makeNode(id, bus.transport(id), o);
  nodes.push(n);
  return n;
};
const reasonOf = (p: Promise<unknown>) =>
  p.then(
    () => 'placed',
    (e: unknown) => (e instanceof ProblemError ? e.problemType : String(e)),
  );

describe('PUBLISH carries the image digest: only a node that holds the image answers', () => {
  it('the node whose storage holds the bytes hosts; the one without stays silent (reason image)', async () => {
    const bus = new MemoryBus();
    const withIt = onBus(bus, 'has-it', { provisioner: async () => ({ capacity: capacity(), images: new Set([digest('a')]) }) });
    const without = onBus(bus, 'lacks-it', { provisioner: async () => ({ capacity: capacity(), images: new Set([digest('b')]) }) });
    const p = await without.publisher.publish({ taskId: 't-img', requirements: { ...req(), image: 'img-a', imageSha256: digest('a') }, timeoutMs: 1000 });
    expect(p.chosen.nodeId).toBe('has-it');
    expect(p.backups).toEqual([]);
    expect(without.metrics.get('pep_publish_declined_total', { reason: 'image' })).toBe(1);
    expect(without.responder.holds().has('t-img')).toBe(false);
    expect(withIt.responder.holds().has('t-img')).toBe(true);
  });

  it('no node with the image: no-capable-node; one that can fetch it (issue 14 seam) answers', async () => {
    const bus = new MemoryBus();
    const a = onBus(bus, 'a', { provisioner: async () => ({ capacity: capacity(), images: new Set() }) });
    expect(await reasonOf(a.publisher.publish({ taskId: 't-none', requirements: { ...req(), imageSha256: digest('c') }, timeoutMs: 250 }))).toBe('no-capable-node');
    onBus(bus, 'fetcher', { provisioner: async () => ({ capacity: capacity(), images: new Set() }), canFetchImage: (sha) => sha === digest('c') });
    const p = await a.publisher.publish({ taskId: 't-fetch', requirements: { ...req(), imageSha256: digest('c') }, timeoutMs: 1000 });
    expect(p.chosen.nodeId).toBe('fetcher');
  });

  it('a node that does not know its images (no storage view) and a PUBLISH without a digest are not checked', async () => {
    const bus = new MemoryBus();
    const a = onBus(bus, 'a', { provisioner: async () => ({ capacity: capacity() }) });
    expect((await a.publisher.publish({ taskId: 't-1', requirements: { ...req(), imageSha256: digest('d') }, timeoutMs: 1000 })).chosen.nodeId).toBe('a');
    const b = onBus(new MemoryBus(), 'b', { provisioner: async () => ({ capacity: capacity(), images: new Set() }) });
    expect((await b.publisher.publish({ taskId: 't-2', requirements: req(), timeoutMs: 1000 })).chosen.nodeId).toBe('b');
  });
});

describe('PUBLISH carries a deadline as time remaining', () => {
  it('each send says how long the publisher still waits: the first the whole timeout, each resend less', async () => {
    const bus = new MemoryBus();
    const silentNode = onBus(bus, 'full', { cap: capacity({ vcpus: 0 }) });
    const seen: Array<{ ttlMs?: number; retransmit: boolean }> = [];
    silentNode.endpoint.on((m) => {
      if (m.type === 'PUBLISH') seen.push({ ...(m.body.ttlMs === undefined ? {} : { ttlMs: m.body.ttlMs }), retransmit: (m.flags & 2) !== 0 });
    });
    const publisher = onBus(bus, 'pub', { cap: capacity({ vcpus: 0 }) });
    expect(await reasonOf(publisher.publisher.publish({ taskId: 't-ttl', requirements: req(), timeoutMs: 700 }))).toBe('no-capable-node');
    // Sent at 0, then resent at 200 and 600 ms (timing.ts retransmitOffsets).
    expect(seen.map((s) => s.retransmit)).toEqual([false, true, true]);
    const ttls = seen.map((s) => s.ttlMs!);
    expect(ttls[0]).toBe(700);
    expect(ttls[1]).toBeLessThanOrEqual(502); // a timer may fire a millisecond early
    expect(ttls[1]).toBeGreaterThan(400);
    expect(ttls[2]).toBeLessThanOrEqual(102);
    expect(ttls[2]).toBeGreaterThan(0);
  });

  it('a responder that would answer after the deadline stays silent and holds nothing', async () => {
    const bus = new MemoryBus();
    let release!: () => void;
    const slowView = new Promise<void>((r) => (release = r));
    const slow = onBus(bus, 'slow', {
      provisioner: async () => {
        await slowView;
        return { capacity: capacity() };
      },
    });
    const publisher = onBus(bus, 'pub', { cap: capacity({ vcpus: 0 }) });
    const outcome = reasonOf(publisher.publisher.publish({ taskId: 't-late', requirements: req(), timeoutMs: 150 }));
    await new Promise((r) => setTimeout(r, 200)); // past the deadline: nobody waits for an answer
    release();
    expect(await outcome).toBe('no-capable-node');
    await new Promise((r) => setTimeout(r, 20));
    expect(slow.metrics.get('pep_publish_declined_total', { reason: 'deadline' })).toBe(1);
    expect(slow.metrics.get('pep_packets_sent_total', { type: 'ACK' })).toBe(0);
    expect(slow.responder.holds().has('t-late')).toBe(false);
  });

  it('clocks an hour apart do not matter: the deadline is counted on the receiver’s own clock', async () => {
    const bus = new MemoryBus();
    const skewed = { ...realTimers, now: () => Date.now() + 3_600_000 };
    onBus(bus, 'ahead', { timers: skewed });
    const behind = { ...realTimers, now: () => Date.now() - 3_600_000 };
    onBus(bus, 'behind', { timers: behind, cap: capacity({ vcpus: 1 }) });
    const publisher = onBus(bus, 'pub', { cap: capacity({ vcpus: 0 }) });
    const p = await publisher.publisher.publish({ taskId: 't-skew', requirements: req(), timeoutMs: 1000 });
    expect(['ahead', 'behind']).toContain(p.chosen.nodeId);
    expect(p.backups.length).toBe(1);
  });

  it('a PUBLISH whose deadline passed while its ACK was delayed sends no ACK', async () => {
    const bus = new MemoryBus();
    // A fake clock for the responder: its ACK delay timer fires after the clock passed the deadline.
    let t = 1_000_000;
    const due: Array<() => void> = [];
    const virtual = { now: () => t, setTimeout: (fn: () => void) => due.push(fn), clearTimeout: () => undefined };
    const node = onBus(bus, 'late', { timers: virtual, ackDelayMaxMs: 50 });
    const sent: string[] = [];
    const publisher = onBus(bus, 'pub', { cap: capacity({ vcpus: 0 }) });
    publisher.endpoint.on((m) => sent.push(m.type));
    const publish = (ttlMs: number, taskId: string): MessageOf<'PUBLISH'> => ({ type: 'PUBLISH', sender: 'pub', taskId, seq: 1, timestampMs: Date.now(), nonce: Buffer.alloc(8), flags: 0, body: { requirements: req(), ttlMs } });
    publisher.endpoint.send({ type: 'PUBLISH', taskId: 't-a', seq: 1, body: publish(100, 't-a').body });
    await new Promise((r) => setTimeout(r, 10));
    expect(node.responder.holds().has('t-a')).toBe(true);
    t += 101; // the ACK delay took longer than the time remaining
    due.splice(0).forEach((f) => f());
    await new Promise((r) => setTimeout(r, 10));
    expect(sent.filter((s) => s === 'ACK')).toEqual([]);
    expect(node.responder.holds().has('t-a')).toBe(false);
    expect(node.metrics.get('pep_publish_declined_total', { reason: 'deadline' })).toBe(1);
    // Within the time remaining, the same path ACKs.
    publisher.endpoint.send({ type: 'PUBLISH', taskId: 't-b', seq: 2, body: publish(100, 't-b').body });
    await new Promise((r) => setTimeout(r, 10));
    t += 50;
    due.splice(0).forEach((f) => f());
    await new Promise((r) => setTimeout(r, 10));
    expect(sent.filter((s) => s === 'ACK')).toEqual(['ACK']);
  });
});

describe('free disk has one source: storage', () => {
  it('the PEP answer uses storage’s availableMiB, the number storage then enforces on PUT /disks', async () => {
    const MiB = 1024 * 1024;
    fixture = await makeFixture({ freeBytes: async () => 2048 * MiB, reserveMiB: 64 });
    const storage = storageClient(viaApp(fixture.app));
    const { data: cap } = await storage.GET('/capacity');
    const available = cap!.availableMiB;
    expect(available).toBeGreaterThan(100);
    // The provisioner's own estimate is far larger: without storage's number a node would promise it.
    cache = provisionerCache({ capacity: async () => capacity({ diskMiB: 100_000 }), guests: async () => new Set(), storage: storageView(storage), log: silent, refreshMs: 60_000 });
    const snap = await cache.snapshot();
    expect(snap.capacity.free.diskMiB).toBe(available);
    expect(snap.images).toEqual(new Set(['a'.repeat(64)])); // the fixture's tiny image
    const bus = new MemoryBus();
    const node = onBus(bus, 'n', { provisioner: cache.snapshot });
    expect(await reasonOf(node.publisher.publish({ taskId: 't-over', requirements: req(256, { diskMiB: available + 1 }), timeoutMs: 150 }))).toBe('no-capable-node');
    expect(node.metrics.get('pep_publish_declined_total', { reason: 'disk' })).toBe(1);
    // Storage refuses that size too, and takes the largest the answer promised.
    const over = await storage.PUT('/disks/{taskId}', { params: { path: { taskId: 't-over' } }, body: { image: 'tiny', diskMiB: available + 1 } });
    expect((over.error as { type: string }).type).toBe('urn:cps:problem:insufficient-capacity');
    const p = await node.publisher.publish({ taskId: 't-fits', requirements: req(256, { diskMiB: available }), timeoutMs: 1000 });
    expect(p.chosen.nodeId).toBe('n');
    const fits = await storage.PUT('/disks/{taskId}', { params: { path: { taskId: 't-fits' } }, body: { image: 'tiny', diskMiB: available } });
    expect(fits.response.status).toBe(201);
  });

  it('while storage does not answer, the provisioner’s estimate stands in and images go unchecked (warned once)', async () => {
    const warned: string[] = [];
    const log = { ...silent, warn: (_o: unknown, msg: string) => void warned.push(msg), info: () => undefined } as unknown as typeof silent;
    let up = false;
    const view: StorageView = {
      disk: async () => {
        if (!up) throw new Error('ECONNREFUSED');
        return { availableMiB: 500 };
      },
      images: async () => new Set(['e'.repeat(64)]),
    };
    let clock = 0;
    cache = provisionerCache({ capacity: async () => capacity({ diskMiB: 9000 }), guests: async () => new Set(), storage: view, log, refreshMs: 60_000, maxAgeMs: 10, now: () => clock });
    const first = await cache.snapshot();
    expect(first.capacity.free.diskMiB).toBe(9000);
    expect(first.images).toBeUndefined();
    clock += 100;
    await cache.snapshot();
    expect(warned.filter((m) => /storage does not answer/.test(m))).toHaveLength(1);
    up = true;
    clock += 100;
    const back = await cache.snapshot();
    expect(back.capacity.free.diskMiB).toBe(500);
    expect(back.images).toEqual(new Set(['e'.repeat(64)]));
  });
});
