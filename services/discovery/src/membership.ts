import type { DiscoverySchemas } from '@cps/openapi';
import { defaultLiveness, peerState, type LivenessConfig } from './timing.ts';

type NodeInfo = DiscoverySchemas['NodeInfo'];
type Peer = DiscoverySchemas['Peer'];

/**
 * The peers this node has heard from (HELLO and ACK), minimal on purpose: last word wins, states
 * come from silence alone. Dead peers are forgotten after `forgetAfterMs`.
 */
export class Membership {
  private readonly peers = new Map<string, { info: NodeInfo; head: boolean; seenAt: number }>();

  constructor(
    private readonly selfId: string,
    private readonly now: () => number = Date.now,
    private readonly c: LivenessConfig & { forgetAfterMs: number } = { ...defaultLiveness, forgetAfterMs: 60_000 },
  ) {}

  observe(info: NodeInfo, head?: boolean): void {
    if (info.nodeId === this.selfId) return;
    const prev = this.peers.get(info.nodeId);
    // An ACK carries no head flag: keep what the last HELLO said.
    this.peers.set(info.nodeId, { info, head: head ?? prev?.head ?? false, seenAt: this.now() });
  }

  remove(nodeId: string): void {
    this.peers.delete(nodeId);
  }

  list(): Peer[] {
    const now = this.now();
    const out: Peer[] = [];
    for (const [id, p] of this.peers) {
      const age = now - p.seenAt;
      if (age >= this.c.forgetAfterMs) {
        this.peers.delete(id);
        continue;
      }
      out.push({ ...p.info, lastSeenMs: age, state: peerState(age, this.c) });
    }
    return out.sort((a, b) => a.nodeId.localeCompare(b.nodeId));
  }

  /** For error messages: "b (alive), c (suspect)" or "none". */
  describe(): string {
    const l = this.list();
    return l.length ? l.map((p) => `${p.nodeId} (${p.state})`).join(', ') : 'none';
  }
}
