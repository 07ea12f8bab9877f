import { Hono } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger, problemErrorHandler, ProblemError } from '@cps/common';
import { discoveryClient, storageClient, provisionerClient, viaApp, type DiscoverySchemas } from '@cps/openapi';
import { Membership } from '../../discovery/src/membership.ts';
import { peerEventRoutes } from '../../discovery/src/peer-events.ts';
import { PeerWatch } from '../src/queue/peer-events.ts';
import type { Timers } from '../src/queue/dispatcher.ts';
import { Placer } from '../src/placement.ts';
import { Tasks } from '../src/tasks/tasks.ts';
import { fastPolling, fakeNode, reach } from './fakes.ts';

const log = createLogger('coordinator-test', 'silent');
type NodeInfo = DiscoverySchemas['NodeInfo'];

/** Timers a test fires by hand; nothing runs on its own. */
function manualTimers() {
  const due: Array<{ fn: () => void; ms: number; cancelled: boolean }> = [];
  const timers: Timers = {
    setTimeout: (fn, ms) => {
      const t = { fn, ms, cancelled: false };
      due.push(t);
      return t;
    },
    clearTimeout: (h) => void ((h as { cancelled: boolean }).cancelled = true),
  };
  return {
    timers,
    pending: () => due.filter((t) => !t.cancelled).map((t) => t.ms),
    fire: () => due.splice(0).filter((t) => !t.cancelled).forEach((t) => t.fn()),
  };
}

const until = async (what: string, ok: () => boolean) => {
  for (let i = 0; i < 500 && !ok(); i++) await new Promise((r) => setTimeout(r, 5));
  if (!ok()) throw new Error(`timed out waiting for ${what}`);
};

const info = (nodeId: string, vcpus: number): NodeInfo => ({
  nodeId,
  address: '127.0.0.1',
  ports: { coordinator: 18180, discovery: 18181, provisioner: 18182, storage: 18183, vncGateway: 18184 },
  uptimeSec: 1,
  total: { vcpus: 1, memoryMiB: 1024, diskMiB: 10_000 },
  free: { vcpus, memoryMiB: 1024, diskMiB: 10_000 },
});

let watch: PeerWatch | undefined;
afterEach(() => watch?.close());

describe('discovery emits a capacity event when a peer lends other capacity', () => {
  it('joined, then capacity on a change of free, nothing for the same numbers again', () => {
    let now = 0;
    const m = new Membership('self', () => now);
    const seen: string[] = [];
    m.subscribe((e) => seen.push(`${e.type} ${e.peer.nodeId} ${e.peer.free?.vcpus}`));
    m.observe(info('b', 0));
    now += 100;
    m.observe(info('b', 0));
    m.observe(info('b', 1));
    m.observe({ ...info('b', 1), total: { vcpus: 2, memoryMiB: 1024, diskMiB: 10_000 } });
    expect(seen).toEqual(['joined b 0', 'capacity b 1', 'capacity b 1']);
  });
});

describe('the queue is retried on discovery’s peer events', () => {
  it('capacity frees on a peer: the queued task starts at once, not at the retry period', async () => {
    // Discovery: the real membership and GET /peers/events; PUBLISH answered by `capable` peers.
    const membership = new Membership('head');
    const peer = fakeNode('node-b', '127.0.0.2');
    const capable: typeof peer[] = [];
    const discovery = new Hono();
    discovery.onError(problemErrorHandler());
    discovery.route('/', peerEventRoutes(membership));
    discovery.post('/publish', async (c) => {
      const req = (await c.req.json()) as DiscoverySchemas['PublishRequest'];
      const [chosen] = capable;
      if (!chosen) throw new ProblemError('no-capable-node', `no ACK within ${req.timeoutMs} ms`);
      return c.json({ taskId: req.taskId, chosen: chosen.info, backups: [], ackMs: 1 });
    });
    const retry = manualTimers(); // the periodic retry: never fired in this test
    const tasks = new Tasks();
    const placer = new Placer({
      tasks,
      discovery: discoveryClient(viaApp(discovery)),
      clientsFor: () => ({ storage: storageClient(viaApp(peer.storage)), provisioner: provisionerClient(viaApp(peer.provisioner)) }),
      log,
      ...fastPolling,
      retryMs: 3_600_000,
      timers: retry.timers,
    });
    const wakes: string[] = [];
    watch = new PeerWatch({ discovery: discoveryClient(viaApp(discovery)), onChange: (why) => (wakes.push(why), placer.retryQueue()), timers: manualTimers().timers, log });
    watch.start();
    await until('the snapshot', () => wakes.includes('snapshot'));

    membership.observe(info('node-b', 0));
    const t = tasks.create('waits', { vcpus: 1, memoryMiB: 256, diskMiB: 64, image: 'tiny' });
    await placer.place(t.id);
    expect(tasks.require(t.id).state).toBe('queued');
    await until('the periodic retry is scheduled', () => retry.pending().length === 1);
    expect(retry.pending()).toEqual([3_600_000]);

    // Less free (another task took memory there) wakes nothing: no round of vain PUBLISHes.
    const before = wakes.length;
    membership.observe({ ...info('node-b', 0), free: { vcpus: 0, memoryMiB: 512, diskMiB: 10_000 } });
    await new Promise((r) => setTimeout(r, 20));
    expect(wakes.length).toBe(before);
    // node-b's guest ended: its next HELLO lends a vCPU again.
    capable.push(peer);
    membership.observe(info('node-b', 1));
    await reach(tasks, t.id, 'running');
    expect(wakes).toContain('capacity');
    expect(tasks.require(t.id).node?.nodeId).toBe('node-b');
    placer.close();
  });

  it('reconnects after the stream ends or fails, backing off on injected timers, starting over once it answers', async () => {
    let opens = 0;
    let up = false;
    const discovery = new Hono();
    discovery.get('/peers/events', (c) => {
      opens++;
      if (!up) return c.text('down', 503);
      // One snapshot, then the stream ends (discovery restarted, say).
      return c.body('event: snapshot\ndata: {"items":[]}\n\n', 200, { 'content-type': 'text/event-stream' });
    });
    const t = manualTimers();
    const wakes: string[] = [];
    watch = new PeerWatch({ discovery: discoveryClient(viaApp(discovery)), onChange: (w) => wakes.push(w), timers: t.timers, log, firstRetryMs: 100, maxRetryMs: 1000 });
    watch.start();
    await until('the first retry is scheduled', () => t.pending().length === 1);
    expect(t.pending()).toEqual([100]);
    for (const expected of [200, 400, 800, 1000, 1000]) {
      t.fire();
      await until(`retry ${expected}`, () => t.pending().length === 1);
      expect(t.pending()).toEqual([expected]);
    }
    expect(opens).toBe(6);
    up = true;
    t.fire();
    await until('a snapshot', () => wakes.length === 1);
    await until('the retry after the stream ended', () => t.pending().length === 1);
    // It answered: the backoff starts over.
    expect(t.pending()).toEqual([100]);
    expect(wakes).toEqual(['snapshot']);
    watch.close();
    expect(t.pending()).toEqual([]);
  });

  it('hostile streams: an endless event is cut (not buffered), unknown events are ignored', async () => {
    const discovery = new Hono();
    let n = 0;
    discovery.get('/peers/events', (c) => {
      n++;
      if (n === 1) return c.body(`event: capacity\ndata: ${'x'.repeat(2 * 1024 * 1024)}`, 200, { 'content-type': 'text/event-stream' });
      return c.body('event: weird\ndata: 1\n\n: comment\n\nevent: dead\ndata: {}\n\n', 200, { 'content-type': 'text/event-stream' });
    });
    const t = manualTimers();
    const wakes: string[] = [];
    watch = new PeerWatch({ discovery: discoveryClient(viaApp(discovery)), onChange: (w) => wakes.push(w), timers: t.timers, log, firstRetryMs: 10 });
    watch.start();
    await until('a retry after the cut', () => t.pending().length === 1);
    t.fire();
    await until('the second stream', () => n === 2 && t.pending().length === 1);
    expect(wakes).toEqual([]);
  });
});
