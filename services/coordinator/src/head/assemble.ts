import { headEpochFile, type Logger } from '@cps/common';
import { defaultLeaseTiming, DnsClient, DnsLeaseStore, tcpTransport, type HeadDns, type LeaseTiming, type LoopTimers } from '@cps/head';
import type { NodeAddress } from '../clients.ts';
import { DiscoveryLeaseStore } from './discovery-lease-store.ts';
import type { HeadDiscovery } from './discovery-view.ts';
import { EpochFloor } from './epoch-floor.ts';
import { HeadRole } from './head-role.ts';
import { cachedView } from './view-cache.ts';

export interface HeadRoleSettings {
  self: NodeAddress;
  discovery: HeadDiscovery;
  /** CPS_HEAD_DNS_* (headDnsFrom); undefined: DNS-less, the lease is read from discovery's HELLOs. */
  dns: HeadDns | undefined;
  dataDir: string;
  now: () => number;
  timers: LoopTimers;
  log: Logger;
  timing?: LeaseTiming;
  /** This node's host fence (its provisioner's GET /fence), a floor of the epoch. */
  hostFence?: () => Promise<number>;
}

/**
 * The head role of a node: the lease in DNS when a server is configured (this node's advertise
 * address as the name's A record while it leads), otherwise in discovery's view; the epoch floor in
 * the data dir.
 */
export function headRoleFor(s: HeadRoleSettings): HeadRole {
  const timing = s.timing ?? defaultLeaseTiming;
  // One read of discovery serves the whole step (the choice, the lease, its compare-and-swap).
  const discovery = cachedView(s.discovery, s.now);
  const store = s.dns
    ? new DnsLeaseStore({ client: new DnsClient({ transport: tcpTransport({ host: s.dns.host, port: s.dns.port }), key: s.dns.key, now: s.now }), zone: s.dns.zone, name: s.dns.name, address: s.self.address })
    : new DiscoveryLeaseStore({ self: s.self.nodeId, discovery, now: s.now, leaseMs: timing.leaseMs });
  return new HeadRole({
    self: s.self.nodeId,
    selfAddress: s.self,
    discovery,
    store,
    mode: s.dns ? 'dns' : 'discovery',
    floor: new EpochFloor(headEpochFile(s.dataDir)),
    timing,
    now: s.now,
    timers: s.timers,
    log: s.log,
    ...(s.hostFence ? { hostFence: s.hostFence } : {}),
  });
}
