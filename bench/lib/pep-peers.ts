// Simulated PEP peers in this process, built from discovery's own parts (endpoint, responder,
// publisher) on real loopback multicast or on discovery's in-memory bus, and the bare ping-pong
// of UDP multicast they are measured against.
import dgram from 'node:dgram';
import { once } from 'node:events';
import { pino } from 'pino';
import type { ProvisionerSchemas } from '@cps/openapi';
import { Metrics } from '../../services/discovery/src/metrics.ts';
import { PepEndpoint } from '../../services/discovery/src/pep/endpoint.ts';
import { MemoryBus, udpMulticastTransport, type Transport } from '../../services/discovery/src/pep/socket.ts';
import { createPublisher } from '../../services/discovery/src/publisher.ts';
import { createResponder } from '../../services/discovery/src/responder.ts';
import { createSelf } from '../../services/discovery/src/self.ts';

const silent = pino({ level: 'silent' });
const key = { kind: 'hmac' as const, key: Buffer.from('cps-bench-cluster-key-0123456789') };
const ports = { coordinator: 8080, discovery: 8081, provisioner: 8082, storage: 8083, vncGateway: 8084 };
const RECV_BUFFER = 256 * 1024;

export const peerCapacity = (free: { vcpus: number; memoryMiB: number }): ProvisionerSchemas['Capacity'] => ({
  total: { vcpus: 4, memoryMiB: 4096, diskMiB: 100_000 },
  free: { ...free, diskMiB: 100_000 },
  accelerator: 'tcg',
  arch: 'x86_64',
});
export const requirements = { vcpus: 1, memoryMiB: 256, diskMiB: 64, arch: 'x86_64', needsKvm: false };

export interface PepCluster {
  /** PUBLISH a new task; resolves with the milliseconds until its first ACK reached the publisher. */
  firstAck(now: () => number): Promise<number>;
  close(): Promise<void>;
}

/**
 * One publishing node whose own responder declines (no room), so every first ACK crossed the bus
 * from a peer, and `peers` peers with room that answer at once (ACK delay 0: reported apart).
 */
export async function pepCluster(peers: number, transport: (i: number) => Promise<Transport> | Transport): Promise<PepCluster> {
  const nodes: Array<{ endpoint: PepEndpoint; responder: ReturnType<typeof createResponder>; transport: Transport }> = [];
  // A closed cluster sends nothing: the publisher resends RELEASEs for a while after a task ends.
  let closed = false;
  for (let i = 0; i <= peers; i++) {
    const raw = await transport(i);
    const t: Transport = { send: (buf, to) => void (closed || raw.send(buf, to)), onMessage: (cb) => raw.onMessage(cb), close: () => raw.close() };
    const nodeId = i === 0 ? 'bench-publisher' : `bench-peer-${i}`;
    const metrics = new Metrics();
    const endpoint = new PepEndpoint({ transport: t, auth: key, nodeId, metrics, log: silent });
    const cap = peerCapacity(i === 0 ? { vcpus: 0, memoryMiB: 0 } : { vcpus: 4, memoryMiB: 4096 });
    const self = createSelf({ nodeId, address: '127.0.0.1', ports, capacity: async () => cap });
    const responder = createResponder({ endpoint, metrics, log: silent, provisioner: async () => ({ capacity: cap }), self: self.base, ackDelayMaxMs: 0, holdMs: 500, confirmedHoldMs: 1_000 });
    nodes.push({ endpoint, responder, transport: t });
  }
  const pub = nodes[0]!;
  const publisher = createPublisher({ endpoint: pub.endpoint, metrics: new Metrics(), log: silent, describePeers: () => `${peers} bench peers`, collectMs: 5, lingerMs: 50, confirmDeadlineMs: 200 });
  let n = 0;
  return {
    async firstAck(now) {
      const taskId = `t-bench${process.pid}x${++n}`;
      let ackAt = 0;
      const off = pub.endpoint.on((m) => {
        if (m.type === 'ACK' && m.taskId === taskId && ackAt === 0) ackAt = now();
      });
      const start = now();
      try {
        await publisher.publish({ taskId, requirements, timeoutMs: 5000 });
      } finally {
        off();
      }
      // The task is gone at once: the chosen peer lets its hold go, so a long run never fills the peers.
      publisher.release(taskId, 'bench: measured');
      return ackAt - start;
    },
    async close() {
      closed = true;
      for (const node of nodes) {
        node.responder.close();
        await node.transport.close();
      }
    },
  };
}

export const udpPeers = (group: string, port: number) => () => udpMulticastTransport({ group, port, interfaceAddress: '127.0.0.1', log: silent, recvBufferBytes: RECV_BUFFER });

export function memoryPeers() {
  const bus = new MemoryBus();
  return (i: number) => bus.transport(`10.77.0.${i}`);
}

/**
 * The reference: bare `node:dgram` on the same group set-up, no PEP. One pinger and `peers`
 * responders; each responder answers a ping with a pong to the group, as ACKs go.
 */
export async function pingPong(peers: number, group: string, port: number): Promise<PepCluster> {
  const socks: dgram.Socket[] = [];
  for (let i = 0; i <= peers; i++) {
    const s = dgram.createSocket({ type: 'udp4', reuseAddr: true, recvBufferSize: RECV_BUFFER });
    s.bind(port, group);
    await once(s, 'listening');
    s.addMembership(group, '127.0.0.1');
    s.setMulticastInterface('127.0.0.1');
    s.setMulticastTTL(1);
    s.setMulticastLoopback(true);
    if (i > 0) s.on('message', (m) => m[0] === 0x70 /* p(ing) */ && s.send(Buffer.concat([Buffer.from('o'), m.subarray(1)]), port, group));
    socks.push(s);
  }
  let n = 0;
  return {
    firstAck(now) {
      const id = Buffer.from(`${process.pid}x${++n}`);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('no pong within 5 s')), 5000);
        const start = now();
        const onMessage = (m: Buffer) => {
          if (m[0] !== 0x6f || !m.subarray(1).equals(id)) return;
          clearTimeout(t);
          socks[0]!.off('message', onMessage);
          resolve(now() - start);
        };
        socks[0]!.on('message', onMessage);
        socks[0]!.send(Buffer.concat([Buffer.from('p'), id]), port, group);
      });
    },
    async close() {
      await Promise.all(socks.map((s) => new Promise<void>((r) => s.close(() => r()))));
    },
  };
}
