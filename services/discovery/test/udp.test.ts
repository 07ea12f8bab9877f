import { afterAll, describe, expect, it } from 'vitest';
import { udpMulticastTransport } from '../src/pep/socket.ts';
import { makeNode, req, silent, type TestNode } from './cluster.ts';

// The one test on real sockets: two discovery nodes in this process join the same group and port
// on loopback (reuseAddr), as two CPS nodes on one LAN would. A group and port of our own (184xx),
// so a CPS running on this machine (239.192.77.1:47777) neither hears nor disturbs it.
const group = '239.192.77.184';
const port = 18477;

describe('PEP over real UDP multicast on loopback', () => {
  const nodes: TestNode[] = [];
  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.close()));
  });

  it('publishes from A; A and B both ACK; the first is chosen, the other is a backup', async () => {
    for (const id of ['udp-a', 'udp-b']) {
      const transport = await udpMulticastTransport({ group, port, interfaceAddress: '127.0.0.1', log: silent });
      nodes.push(makeNode(id, transport));
    }
    const [a, b] = nodes;
    const placement = await a!.publisher.publish({ taskId: `t-udp${process.pid}`, requirements: req(), timeoutMs: 3000 });
    expect([placement.chosen.nodeId, ...placement.backups.map((x) => x.nodeId)].sort()).toEqual(['udp-a', 'udp-b']);
    expect(a!.metrics.get('pep_packets_received_total', { type: 'PUBLISH' })).toBeGreaterThanOrEqual(1);
    expect(b!.metrics.get('pep_packets_received_total', { type: 'PUBLISH' })).toBeGreaterThanOrEqual(1);
    expect(a!.metrics.get('pep_packets_received_total', { type: 'ACK' })).toBeGreaterThanOrEqual(2);
  });

  it('rejects a bind on a port that is taken without reuseAddr, with the bind error', async () => {
    const dgram = await import('node:dgram');
    const taken = dgram.createSocket('udp4');
    await new Promise<void>((r) => taken.bind(0, '0.0.0.0', () => r()));
    try {
      await expect(udpMulticastTransport({ group, port: taken.address().port, interfaceAddress: '127.0.0.1', log: silent })).rejects.toThrow(/EADDRINUSE/);
    } finally {
      taken.close();
    }
  });

  it('fails clearly when the interface address is not this host’s', async () => {
    await expect(udpMulticastTransport({ group, port: port + 1, interfaceAddress: '192.0.2.1', log: silent })).rejects.toThrow();
  });
});
