import { afterEach, describe, expect, it } from 'vitest';
import { fanoutTransport, parseSeeds } from '../src/pep/fanout.ts';
import { MemoryBus, udpUnicastTransport } from '../src/pep/socket.ts';
import { capacity, makeNode, req, silent, type TestNode } from './cluster.ts';

let nodes: TestNode[] = [];
afterEach(async () => {
  await Promise.all(nodes.map((n) => n.close()));
  nodes = [];
});

const until = async (cond: () => boolean, ms = 5000) => {
  for (const end = Date.now() + ms; !cond(); ) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('parseSeeds', () => {
  it.each([
    ['', []],
    ['10.0.0.2:47778', [{ address: '10.0.0.2', port: 47778 }]],
    [' 10.0.0.2 , 10.0.0.3:1 ', [{ address: '10.0.0.2', port: 47777 }, { address: '10.0.0.3', port: 1 }]],
  ] as const)('%j → %j', (text, want) => {
    expect(parseSeeds(text, 47777)).toEqual(want);
  });

  it.each(['host:1', '10.0.0.256', '10.0.0.1:0', '10.0.0.1:65536', '10.0.0.1:', '::1', '10.0.0.1:80:80'])('refuses %j', (text) => {
    expect(() => parseSeeds(text, 47777)).toThrow(/CPS_PEP_SEEDS/);
  });
});

describe('seed mode on a bus that drops multicast', () => {
  function seeded(bus: MemoryBus, id: string, seeds: string[], cap = capacity()) {
    const n = makeNode(id, bus.transport(id), { seeds, hello: true, cap });
    nodes.push(n);
    return n;
  }

  it('without seeds, a node hears nobody but itself: multicast really is gone', async () => {
    const bus = new MemoryBus();
    bus.multicast = false;
    const a = seeded(bus, 'a', [], capacity({ memoryMiB: 0 }));
    seeded(bus, 'b', []);
    await expect(a.publisher.publish({ taskId: 't-alone', requirements: req(), timeoutMs: 200 })).rejects.toThrow(/no peer answered/);
  });

  it('a task published on A is answered by B (its seed) and by C (learned from C’s HELLO)', async () => {
    const bus = new MemoryBus();
    bus.multicast = false;
    const a = seeded(bus, 'a', ['b'], capacity({ memoryMiB: 0 }));
    seeded(bus, 'b', ['a']);
    seeded(bus, 'c', ['a']);
    await until(() => a.membership.list().length === 2);
    const p = await a.publisher.publish({ taskId: 't-seed', requirements: req(), timeoutMs: 2000 });
    expect([p.chosen.nodeId, ...p.backups.map((x) => x.nodeId)].sort()).toEqual(['b', 'c']);
    // One copy per target: nobody saw a packet twice.
    for (const n of nodes) expect(n.metrics.get('pep_packets_dropped_total', { reason: 'replay' })).toBe(0);
  });

  it('a seed listed twice gets one copy', async () => {
    const bus = new MemoryBus();
    bus.multicast = false;
    const a = seeded(bus, 'a', ['b', 'b', 'a']);
    const b = seeded(bus, 'b', []);
    await until(() => b.membership.list().length === 1);
    await a.publisher.publish({ taskId: 't-twice', requirements: req(), timeoutMs: 2000 });
    expect(b.metrics.get('pep_packets_received_total', { type: 'PUBLISH' })).toBe(1);
    expect(b.metrics.get('pep_packets_dropped_total', { reason: 'replay' })).toBe(0);
  });
});

describe('seed mode over real UDP unicast on loopback', () => {
  it('B lists only A as its seed; A learns B from its HELLO; a task published on A lands on B', async () => {
    // Ports of our own (184xx); no group is joined.
    const at = (port: number) => ({ address: '127.0.0.1', port });
    const node = async (id: string, port: number, seeds: number[], cap = capacity()) => {
      const t = await udpUnicastTransport({ port, interfaceAddress: '127.0.0.1', log: silent });
      const n = makeNode(id, t, { cap, hello: true, wrap: (inner, m) => fanoutTransport(inner, { multicast: false, self: at(port), seeds: seeds.map(at), peers: () => m.unicastTargets() }) });
      nodes.push(n);
      return n;
    };
    const a = await node('ua', 18481, [], capacity({ memoryMiB: 0 }));
    await node('ub', 18482, [18481]);
    await until(() => a.membership.list().length === 1);
    expect(a.membership.unicastTargets()).toEqual([at(18482)]);
    const p = await a.publisher.publish({ taskId: `t-uni${process.pid}`, requirements: req(), timeoutMs: 3000 });
    expect(p.chosen.nodeId).toBe('ub');
  });
});
