import { pino } from 'pino';
import type { ProvisionerSchemas } from '@cps/openapi';
import { Membership } from '../src/membership.ts';
import { Metrics } from '../src/metrics.ts';
import type { PepAuth } from '../src/pep/codec.ts';
import { PepEndpoint } from '../src/pep/endpoint.ts';
import { MemoryBus, type Transport } from '../src/pep/socket.ts';
import { createPublisher } from '../src/publisher.ts';
import { createResponder, type ProvisionerView } from '../src/responder.ts';
import { createSelf } from '../src/self.ts';
import { startMembership, type IntervalTimers } from '../src/hello.ts';
import type { HeadClaim } from '../src/head-claim.ts';
import { fanoutTransport } from '../src/pep/fanout.ts';
import { key, ports } from './fixtures.ts';
import type { Timers } from '../src/timing.ts';

export type Capacity = ProvisionerSchemas['Capacity'];
export const silent = pino({ level: 'silent' });

export const capacity = (free: Partial<Capacity['free']> = {}, more: Partial<Capacity> = {}): Capacity => ({
  total: { vcpus: 4, memoryMiB: 4096, diskMiB: 100_000 },
  free: { vcpus: 4, memoryMiB: 4096, diskMiB: 100_000, ...free },
  accelerator: 'tcg',
  arch: 'x86_64',
  ...more,
});

export interface TestNode {
  id: string;
  cap: Capacity;
  capacityCalls: number;
  endpoint: PepEndpoint;
  metrics: Metrics;
  membership: Membership;
  self: ReturnType<typeof createSelf>;
  publisher: ReturnType<typeof createPublisher>;
  responder: ReturnType<typeof createResponder>;
  close(): Promise<void>;
}

/** One discovery node's logic on any transport; capacity is a plain field the test can change. */
export function makeNode(
  id: string,
  transport: Transport,
  o: {
    cap?: Capacity;
    auth?: PepAuth;
    ackDelayMaxMs?: number;
    holdMs?: number;
    hello?: boolean;
    capacity?: () => Promise<Capacity>;
    /** The responder's whole provisioner view (guests too), e.g. a provisionerCache's snapshot. */
    provisioner?: () => Promise<ProvisionerView>;
    /** Seed mode on a MemoryBus: no group sends; these bus addresses plus learned peers get unicast. */
    seeds?: string[];
    /** Wraps the transport once the node's membership exists (real-socket seed mode). */
    wrap?: (t: Transport, m: Membership) => Transport;
    /** The responder's seam for fetching an image it lacks (issue 14). */
    canFetchImage?: (sha256: string) => boolean | Promise<boolean>;
    /** The responder's fresh look at its storage when the cached view lacks the image. */
    imageHere?: (sha256: string) => Promise<boolean>;
    /** The responder's clock and timers (a skewed clock, say). */
    timers?: Timers;
    /** The head claim this node's HELLOs carry (with `hello`). */
    head?: HeadClaim;
    /** HELLO every this many ms on `helloTimers` (with `hello`); default 0: one HELLO at start. */
    helloIntervalMs?: number;
    helloTimers?: IntervalTimers;
  } = {},
): TestNode {
  const metrics = new Metrics();
  const membership = new Membership(id);
  if (o.seeds) {
    const at = (address: string) => ({ address, port: 0 });
    transport = fanoutTransport(transport, { multicast: false, self: at(id), seeds: o.seeds.map(at), peers: () => membership.unicastTargets() });
  }
  if (o.wrap) transport = o.wrap(transport, membership);
  const endpoint = new PepEndpoint({ transport, auth: o.auth ?? key, nodeId: id, metrics, log: silent });
  const node: Partial<TestNode> & { cap: Capacity; capacityCalls: number } = { id, cap: o.cap ?? capacity(), capacityCalls: 0 };
  const cap =
    o.capacity ??
    (async () => {
      node.capacityCalls++;
      return structuredClone(node.cap);
    });
  const self = createSelf({ nodeId: id, address: `10.9.0.${id.length}`, ports, capacity: cap });
  const hello = o.hello
    ? startMembership({ endpoint, membership, self, log: silent, intervalMs: o.helloIntervalMs ?? 0, ...(o.head ? { head: o.head } : {}), ...(o.helloTimers ? { timers: o.helloTimers } : {}) })
    : undefined;
  const membershipOnly = hello ? undefined : endpoint.on((m, from) => (m.type === 'ACK' ? membership.observe(m.body.node, { from }) : undefined));
  const responder = createResponder({ endpoint, metrics, log: silent, provisioner: o.provisioner ?? (async () => ({ capacity: await cap() })), self: self.base, ackDelayMaxMs: o.ackDelayMaxMs ?? 0, holdMs: o.holdMs, ...(o.canFetchImage ? { canFetchImage: o.canFetchImage } : {}), ...(o.imageHere ? { imageHere: o.imageHere } : {}), ...(o.timers ? { timers: o.timers } : {}) });
  const publisher = createPublisher({ endpoint, metrics, log: silent, describePeers: () => membership.describe(), lingerMs: 50 });
  return Object.assign(node, {
    endpoint,
    metrics,
    membership,
    self,
    publisher,
    responder,
    async close() {
      hello?.stop();
      membershipOnly?.();
      responder.close();
      await transport.close();
    },
  }) as TestNode;
}

export function memoryCluster(specs: Array<{ id: string; cap?: Capacity; ackDelayMaxMs?: number }>) {
  const bus = new MemoryBus();
  const nodes = specs.map((s) => makeNode(s.id, bus.transport(s.id), s));
  return { bus, nodes, close: () => Promise.all(nodes.map((n) => n.close())) };
}

export const req = (memoryMiB = 256, more: Partial<{ vcpus: number; diskMiB: number; needsKvm: boolean; arch: string }> = {}) => ({
  vcpus: 1,
  memoryMiB,
  diskMiB: 64,
  arch: 'x86_64',
  needsKvm: false,
  ...more,
});
