import type { DiscoverySchemas, ProvisionerSchemas } from '@cps/openapi';
import type { ServicePorts } from '@cps/common';

type NodeInfo = DiscoverySchemas['NodeInfo'];

export interface SelfOptions {
  nodeId: string;
  address: string;
  ports: ServicePorts;
  capacity: () => Promise<ProvisionerSchemas['Capacity']>;
  now?: () => number;
  startedAt?: number;
}

/** This node as its peers see it; capacity is best effort, since the provisioner may be down. */
export function createSelf(o: SelfOptions) {
  const now = o.now ?? Date.now;
  const startedAt = o.startedAt ?? now();
  const base = () => ({
    nodeId: o.nodeId,
    address: o.address,
    ports: { ...o.ports },
    uptimeSec: Math.max(0, Math.round((now() - startedAt) / 100) / 10),
  });
  return {
    base,
    async info(): Promise<NodeInfo> {
      try {
        const cap = await o.capacity();
        return { ...base(), free: cap.free, accelerator: cap.accelerator };
      } catch {
        return base();
      }
    },
  };
}

export type Self = ReturnType<typeof createSelf>;
