import type { Logger } from '@cps/common';
import { raiseFences, type ClientsFor, type NodeAddress } from '../clients.ts';

/**
 * A new head's first act (docs/head.md, a rule the simulator keeps): show every live host its
 * epoch (POST /fence on its provisioner and storage), so a command an older head still has in
 * flight is refused from then on, not only after this head's first real command there. A host that
 * does not answer is told by the next command it gets; one that refuses (a newer epoch) is logged:
 * this term is then over, and the next step says so.
 */
export async function announceEpoch(o: { nodes: NodeAddress[]; clientsFor: ClientsFor; epoch: { epoch: number; head: string }; log: Logger }): Promise<void> {
  await Promise.all(
    o.nodes.map(async (node) => {
      try {
        await raiseFences(node, o.clientsFor(node), o.epoch);
        o.log.info({ event: 'head.fence-raised', node: node.nodeId, epoch: o.epoch.epoch }, 'head: a host has seen this epoch');
      } catch (e) {
        o.log.warn({ event: 'head.fence-not-raised', node: node.nodeId, epoch: o.epoch.epoch, err: (e as Error).message }, 'head: a host did not take this epoch');
      }
    }),
  );
}
