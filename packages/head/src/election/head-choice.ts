import type { DiscoverySchemas } from '@cps/openapi';

/** What the choice needs of each peer in discovery's view (GET /peers, without this node). */
export type PeerView = Pick<DiscoverySchemas['Peer'], 'nodeId' | 'state' | 'uptimeSec' | 'lastSeenMs'>;
/** This node, which discovery does not list among its peers. */
export interface SelfView {
  nodeId: string;
  uptimeSec: number;
}

/**
 * Who should lead, in this node's view: the longest-up live node, ties to the smaller node id
 * (plain string order, the same on every node). "Live" is alive or suspect: a suspect peer has
 * missed a few HELLOs, and moving the head for lost packets would be worse than waiting until
 * discovery calls it dead. A peer's uptime is as of its last HELLO, so the time since is added.
 * This node is always a candidate: it sees itself alive.
 */
export function chooseHead(self: SelfView, peers: readonly PeerView[]): string {
  return rankHeads(self, peers)[0]!;
}

/**
 * Every live candidate in the order they should lead (chooseHead's order): the first is the head;
 * the others are next in line, for when the first leaves the lease free (HeadElector's fallback).
 */
export function rankHeads(self: SelfView, peers: readonly PeerView[]): string[] {
  const candidates = [
    { nodeId: self.nodeId, uptime: self.uptimeSec },
    ...peers.filter((p) => p.state !== 'dead' && p.nodeId !== self.nodeId).map((p) => ({ nodeId: p.nodeId, uptime: p.uptimeSec + p.lastSeenMs / 1000 })),
  ];
  candidates.sort((a, b) => b.uptime - a.uptime || (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0));
  return candidates.map((c) => c.nodeId);
}
