import { ProblemError } from '@cps/common';
import { afterEach, describe, expect, it } from 'vitest';
import { decode } from '../src/pep/codec.ts';
import { capacity, makeNode, memoryCluster, req } from './cluster.ts';
import { key } from './fixtures.ts';

let cluster: ReturnType<typeof memoryCluster> | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

const noCapable = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error('placed, but no node should have been capable');
    },
    (e: unknown) => {
      expect(e).toBeInstanceOf(ProblemError);
      expect((e as ProblemError).problemType).toBe('no-capable-node');
      return (e as ProblemError).message;
    },
  );

describe('publish over an in-memory bus', () => {
  it('a one-node CPS answers its own PUBLISH and confirms itself', async () => {
    cluster = memoryCluster([{ id: 'solo' }]);
    const [a] = cluster.nodes;
    const p = await a!.publisher.publish({ taskId: 't-solo', requirements: req(), timeoutMs: 2000 });
    expect(p.taskId).toBe('t-solo');
    expect(p.chosen).toMatchObject({ nodeId: 'solo', address: '10.9.0.4', accelerator: 'tcg', free: { memoryMiB: 4096 } });
    expect(p.backups).toEqual([]);
    expect(p.ackMs).toBeGreaterThanOrEqual(0);
    await new Promise((r) => setTimeout(r, 20));
    expect(a!.responder.holds().get('t-solo')?.confirmed).toBe(true);
  });

  it('three nodes, one short of memory stays silent; the first ACK hosts, the other is a backup', async () => {
    cluster = memoryCluster([{ id: 'a', cap: capacity({ memoryMiB: 128 }) }, { id: 'b' }, { id: 'c' }]);
    const [a, b, c] = cluster.nodes;
    const p = await a!.publisher.publish({ taskId: 't-three', requirements: req(512), timeoutMs: 2000 });
    const ids = [p.chosen.nodeId, ...p.backups.map((x) => x.nodeId)].sort();
    expect(ids).toEqual(['b', 'c']);
    expect(a!.metrics.get('pep_publish_declined_total', { reason: 'memory' })).toBe(1);
    expect(a!.metrics.get('pep_packets_sent_total', { type: 'ACK' })).toBe(0);
    await new Promise((r) => setTimeout(r, 20));
    // The chosen keeps its offer; the backup was told RELEASE and let its offer go.
    const chosen = p.chosen.nodeId === 'b' ? b! : c!;
    const backup = p.chosen.nodeId === 'b' ? c! : b!;
    expect(chosen.responder.holds().get('t-three')?.confirmed).toBe(true);
    expect(backup.responder.holds().has('t-three')).toBe(false);
  });

  it('fails with no-capable-node and a helpful detail when nobody fits', async () => {
    cluster = memoryCluster([{ id: 'a', cap: capacity({ memoryMiB: 100 }) }, { id: 'b', cap: capacity({ vcpus: 0 }) }]);
    const [a] = cluster.nodes;
    const detail = await noCapable(a!.publisher.publish({ taskId: 't-none', requirements: req(512), timeoutMs: 300 }));
    expect(detail).toMatch(/no peer answered within 300 ms/);
    expect(detail).toMatch(/512 MiB memory/);
    expect(detail).toMatch(/peers known: /);
  });

  it('needsKvm is only answered by kvm nodes', async () => {
    cluster = memoryCluster([{ id: 'tcg1' }, { id: 'kvm1', cap: capacity({}, { accelerator: 'kvm' }) }]);
    const p = await cluster.nodes[0]!.publisher.publish({ taskId: 't-kvm', requirements: req(256, { needsKvm: true }), timeoutMs: 2000 });
    expect(p.chosen.nodeId).toBe('kvm1');
    expect(p.backups).toEqual([]);
  });

  it('exclude keeps a node from hosting', async () => {
    cluster = memoryCluster([{ id: 'a' }, { id: 'b' }]);
    const p = await cluster.nodes[0]!.publisher.publish({ taskId: 't-ex', requirements: req(), timeoutMs: 2000, exclude: ['a'] });
    expect(p.chosen.nodeId).toBe('b');
    expect(p.backups.map((x) => x.nodeId)).not.toContain('a');
  });

  it('two concurrent tasks for the last slot of each of two nodes land on different nodes', async () => {
    const oneSlot = capacity({ memoryMiB: 300 });
    cluster = memoryCluster([{ id: 'a', cap: oneSlot }, { id: 'b', cap: structuredClone(oneSlot) }]);
    const [a] = cluster.nodes;
    const [p1, p2] = await Promise.all([
      a!.publisher.publish({ taskId: 't-one', requirements: req(256), timeoutMs: 2000 }),
      a!.publisher.publish({ taskId: 't-two', requirements: req(256), timeoutMs: 2000 }),
    ]);
    // Both nodes may first offer their slot to the same task; the loser's RELEASE frees it for the
    // other task's retransmission, so the two still end on different nodes.
    expect(p1.chosen.nodeId).not.toBe(p2.chosen.nodeId);
  });

  it('two concurrent tasks for one last slot: one placed, the other refused', async () => {
    cluster = memoryCluster([{ id: 'only', cap: capacity({ memoryMiB: 300 }) }]);
    const [a] = cluster.nodes;
    const results = await Promise.allSettled([
      a!.publisher.publish({ taskId: 't-x', requirements: req(256), timeoutMs: 400 }),
      a!.publisher.publish({ taskId: 't-y', requirements: req(256), timeoutMs: 400 }),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
  });

  it('retransmits a lost PUBLISH, and a retransmission gets the same ACK without a second evaluation', async () => {
    cluster = memoryCluster([{ id: 'a' }]);
    const { bus } = cluster;
    const [a] = cluster.nodes;
    let publishes = 0;
    bus.filter = (buf) => {
      const m = decode(buf, key);
      if (m.type !== 'PUBLISH') return true;
      publishes++;
      return publishes !== 1; // lose the first
    };
    const p = await a!.publisher.publish({ taskId: 't-lost', requirements: req(), timeoutMs: 3000 });
    expect(p.chosen.nodeId).toBe('a');
    expect(publishes).toBeGreaterThanOrEqual(2);
    expect(a!.metrics.get('pep_packets_sent_total', { type: 'PUBLISH' })).toBe(publishes);
  });

  it('answers a duplicated PUBLISH (same seq) with the same ACK and one hold', async () => {
    cluster = memoryCluster([{ id: 'a' }, { id: 'b' }]);
    const [a, b] = cluster.nodes;
    // b publishes the same (task, seq) twice by hand; a must evaluate once and ACK twice, identically.
    const acks: string[] = [];
    b!.endpoint.on((m) => (m.type === 'ACK' && m.sender === 'a' ? acks.push(JSON.stringify(m.body)) : undefined));
    for (let i = 0; i < 2; i++) b!.endpoint.send({ type: 'PUBLISH', taskId: 't-dup', seq: 42, flags: i ? 2 : 0, body: { requirements: req() } });
    await new Promise((r) => setTimeout(r, 50));
    expect(acks).toHaveLength(2);
    expect(acks[0]).toBe(acks[1]);
    expect(a!.capacityCalls).toBe(1);
    expect(a!.responder.holds().size).toBe(1);
  });

  it('holds an ACKed offer: a second task does not get the same capacity, a RELEASE frees it', async () => {
    cluster = memoryCluster([{ id: 'a', cap: capacity({ memoryMiB: 300 }) }, { id: 'p', cap: capacity({ memoryMiB: 0 }) }]);
    const [a, p] = cluster.nodes;
    p!.endpoint.send({ type: 'PUBLISH', taskId: 't-h1', seq: 1, body: { requirements: req(256) } });
    await new Promise((r) => setTimeout(r, 30));
    expect(a!.responder.holds().has('t-h1')).toBe(true);
    await noCapable(p!.publisher.publish({ taskId: 't-h2', requirements: req(256), timeoutMs: 200 }));
    p!.endpoint.send({ type: 'RELEASE', taskId: 't-h1', seq: 1, body: { to: 'a', reason: 'test' } });
    await new Promise((r) => setTimeout(r, 30));
    expect(a!.responder.holds().has('t-h1')).toBe(false);
    const placed = await p!.publisher.publish({ taskId: 't-h2', requirements: req(256), timeoutMs: 2000 });
    expect(placed.chosen.nodeId).toBe('a');
  });

  it('a node with more headroom answers first when ACK delay is on', async () => {
    cluster = memoryCluster([
      { id: 'tight', cap: capacity({ memoryMiB: 300 }), ackDelayMaxMs: 200 },
      { id: 'roomy', cap: capacity({ memoryMiB: 8192 }), ackDelayMaxMs: 200 },
    ]);
    const p = await cluster.nodes[0]!.publisher.publish({ taskId: 't-delay', requirements: req(256), timeoutMs: 3000 });
    expect(p.chosen.nodeId).toBe('roomy');
  });

  it('a provisioner that cannot be reached makes the node stay silent, not crash', async () => {
    cluster = memoryCluster([]);
    const n = makeNode('z', cluster.bus.transport('z'), {
      capacity: () => Promise.reject(new Error('ECONNREFUSED')),
    });
    try {
      await noCapable(n.publisher.publish({ taskId: 't-down', requirements: req(), timeoutMs: 200 }));
      expect(n.metrics.get('pep_publish_declined_total', { reason: 'provisioner-unreachable' })).toBeGreaterThanOrEqual(1);
    } finally {
      await n.close();
    }
  });
});

describe('REJECT', () => {
  it('a CONFIRMed node with no offer held answers REJECT to the publisher', async () => {
    cluster = memoryCluster([{ id: 'a' }, { id: 'p', cap: capacity({ memoryMiB: 0 }) }]);
    const [, p] = cluster.nodes;
    const rejects: string[] = [];
    p!.endpoint.on((m) => (m.type === 'REJECT' && m.body.to === 'p' ? rejects.push(`${m.sender}:${m.taskId}`) : undefined));
    p!.endpoint.send({ type: 'CONFIRM', taskId: 't-ghost', seq: 9, body: { chosen: 'a', backups: [] } });
    await new Promise((r) => setTimeout(r, 30));
    expect(rejects).toEqual(['a:t-ghost']);
  });

  it('an ACK withdrawn by REJECT inside the collection window is not chosen', async () => {
    cluster = memoryCluster([{ id: 'p', cap: capacity({ memoryMiB: 0 }) }, { id: 'fickle' }, { id: 'steady', ackDelayMaxMs: 30 }]);
    const [p, fickle] = cluster.nodes;
    // fickle ACKs at once, then takes it back.
    fickle!.endpoint.on((m) => {
      if (m.type === 'PUBLISH' && !(m.flags & 2)) {
        setTimeout(() => fickle!.endpoint.send({ type: 'REJECT', taskId: m.taskId, seq: m.seq, body: { to: 'p', reason: 'changed my mind' } }), 5);
      }
    });
    const placed = await p!.publisher.publish({ taskId: 't-fickle', requirements: req(), timeoutMs: 2000 });
    expect(placed.chosen.nodeId).toBe('steady');
    expect(placed.backups.map((b) => b.nodeId)).toEqual([]);
  });
});

describe('CONFIRM retransmission', () => {
  const until = async (cond: () => boolean, ms = 5000) => {
    for (const end = Date.now() + ms; !cond(); ) {
      if (Date.now() > end) throw new Error('condition not met in time');
      await new Promise((r) => setTimeout(r, 10));
    }
  };

  it('a lost CONFIRM is resent until the chosen node answers CONFIRMED; the resend changes nothing there', async () => {
    cluster = memoryCluster([{ id: 'p', cap: capacity({ memoryMiB: 0 }) }, { id: 'a' }]);
    const [p, a] = cluster.nodes;
    let confirms = 0;
    // a loses the first two copies
    cluster.bus.filter = (buf, _from, to) => to !== 'a' || decode(buf, key).type !== 'CONFIRM' || ++confirms > 2;
    const placed = await p!.publisher.publish({ taskId: 't-conf', requirements: req(), timeoutMs: 2000 });
    expect(placed.chosen.nodeId).toBe('a');
    await until(() => p!.metrics.get('pep_confirm_total', { outcome: 'confirmed' }) === 1);
    expect(confirms).toBe(3);
    expect(a!.responder.holds().get('t-conf')?.confirmed).toBe(true);
    expect(a!.metrics.get('pep_packets_sent_total', { type: 'CONFIRMED' })).toBe(1);
  });

  it('the chosen node answers every copy of a CONFIRM (same task, seq) and keeps one confirmed hold', async () => {
    cluster = memoryCluster([{ id: 'p', cap: capacity({ memoryMiB: 0 }) }, { id: 'a' }]);
    const [p, a] = cluster.nodes;
    p!.endpoint.send({ type: 'PUBLISH', taskId: 't-idem', seq: 5, body: { requirements: req() } });
    await until(() => a!.responder.holds().has('t-idem'));
    for (let i = 0; i < 3; i++) p!.endpoint.send({ type: 'CONFIRM', taskId: 't-idem', seq: 5, body: { chosen: 'a', backups: [] } });
    await until(() => p!.metrics.get('pep_packets_received_total', { type: 'CONFIRMED' }) === 3);
    expect(a!.responder.holds().size).toBe(1);
    expect(a!.responder.holds().get('t-idem')?.confirmed).toBe(true);
    // Another seq for the same task is another exchange: no offer under it, so REJECT.
    p!.endpoint.send({ type: 'CONFIRM', taskId: 't-idem', seq: 6, body: { chosen: 'a', backups: [] } });
    await until(() => p!.metrics.get('pep_packets_received_total', { type: 'REJECT' }) === 1);
  });

  it('stops resending at the deadline when the chosen node never answers, and counts it', async () => {
    cluster = memoryCluster([{ id: 'p', cap: capacity({ memoryMiB: 0 }) }, { id: 'a' }]);
    const [p] = cluster.nodes;
    cluster.bus.filter = (buf) => decode(buf, key).type !== 'CONFIRMED';
    await p!.publisher.publish({ taskId: 't-deaf', requirements: req(), timeoutMs: 2000 });
    await until(() => p!.metrics.get('pep_confirm_total', { outcome: 'unanswered' }) === 1, 8000);
    const sent = p!.metrics.get('pep_packets_sent_total', { type: 'CONFIRM' });
    expect(sent).toBeGreaterThan(2);
    await new Promise((r) => setTimeout(r, 300));
    expect(p!.metrics.get('pep_packets_sent_total', { type: 'CONFIRM' })).toBe(sent);
  });
});
