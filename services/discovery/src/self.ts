import type { DiscoverySchemas, ProvisionerSchemas } from '@cps/openapi';
import { loadavg } from 'node:os';
import type { ServicePorts } from '@cps/common';

type NodeInfo = DiscoverySchemas['NodeInfo'];

export interface SelfOptions {
  nodeId: string;
  address: string;
  ports: ServicePorts;
  capacity: () => Promise<ProvisionerSchemas['Capacity']>;
  now?: () => number;
  startedAt?: number;
  /** The host's 1-minute load average. */
  load?: () => number;
}

/** This node as its peers see it; capacity is best effort, since the provisioner may be down. */
export function createSelf(o: SelfOptions) {
  const now = o.now ?? Date.now;
  const startedAt = o.startedAt ?? now();
  const load = o.load ?? (() => loadavg()[0] ?? 0);
  const base = () => ({
    nodeId: o.nodeId,
    address: o.address,
    ports: { ...o.ports },
    uptimeSec: Math.max(0, Math.round((now() - startedAt) / 100) / 10),
    load: Math.max(0, Math.round(load() * 100) / 100),
  });
  return {
    base,
    async info(): Promise<NodeInfo> {
      try {
        const cap = await o.capacity();
        return { ...base(), total: cap.total, free: cap.free, accelerator: cap.accelerator };
      } catch {
        return base();
      }
    },
  };
}

export type Self = ReturnType<typeof createSelf>;
