import type { DiscoveryClient } from '@cps/openapi';
import type { ClientsFor, NodeAddress } from '../clients.ts';
import { call, UpstreamError } from '../upstream.ts';
import type { HostSurvey } from './plan.ts';

/**
 * Asks every live peer (this node too) which guests its provisioner runs. A peer that fails to
 * answer is reported as such, never as "runs nothing". Throws UpstreamError when discovery itself
 * cannot say who the peers are.
 */
export async function surveyHosts(discovery: DiscoveryClient, clientsFor: ClientsFor, timeoutMs: number): Promise<HostSurvey[]> {
  const signal = () => AbortSignal.timeout(timeoutMs);
  const [self, peers] = await Promise.all([
    call({ service: 'discovery' }, () => discovery.GET('/self', { signal: signal() })),
    call({ service: 'discovery' }, () => discovery.GET('/peers', { signal: signal() })),
  ]);
  const nodes: NodeAddress[] = [self, ...peers.items.filter((p) => p.state !== 'dead' && p.nodeId !== self.nodeId)].map((n) => ({
    nodeId: n.nodeId,
    address: n.address,
    ports: { ...n.ports },
  }));
  return Promise.all(
    nodes.map(async (node): Promise<HostSurvey> => {
      try {
        const { items } = await call({ service: 'provisioner', nodeId: node.nodeId }, () => clientsFor(node).provisioner.GET('/vms', { signal: signal() }));
        return { node, vms: items };
      } catch (err) {
        if (!(err instanceof UpstreamError)) throw err;
        return { node, unanswered: err.failure.detail };
      }
    }),
  );
}
