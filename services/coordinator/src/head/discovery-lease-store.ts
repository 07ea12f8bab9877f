import type { Lease, LeaseRead, LeaseStore, LeaseWrite } from '@cps/head';
import type { HeadDiscovery, HeadDiscoveryView } from './discovery-view.ts';

export interface DiscoveryLeaseStoreDeps {
  self: string;
  discovery: HeadDiscovery;
  /** This node's clock, ms since the epoch (the elector's). */
  now: () => number;
  /** How long a claim is believed after its holder was last heard (the lease timing's leaseMs). */
  leaseMs: number;
}

/** A lease's identity for the compare-and-swap: who and which epoch (its expiry moves with every HELLO). */
const tokenOf = (l: Lease): string => `holder=${l.holder} epoch=${l.epoch}`;

/**
 * The lease without a DNS server (DNS-less mode): read from discovery's view, where every HELLO
 * carries its sender's head claim and epoch. The lease is the claim with the highest epoch (ties to
 * the smaller node id, as everywhere) among the live peers (alive or suspect, as the head's choice
 * counts them) and this node's own claim; it runs until the holder was last heard plus the lease,
 * so a head that stops saying HELLO loses it a lease later, and one that ends its claim loses it at
 * its next HELLO. A write is a compare-and-swap against discovery's view: it goes ahead only if the
 * view still gives the lease that was read, and then sets this node's claim (PUT /head).
 *
 * This is weaker than DNS: two nodes that read an empty view at the same moment both claim, and
 * each learns of the other only by the next HELLO (the lower claim then loses its term at the next
 * step). The head's choice makes that rare (every node picks the same one), and the epochs fence
 * what slips through; with the CPS_HEAD_DNS_* settings the claim is a real compare-and-swap.
 */
export class DiscoveryLeaseStore implements LeaseStore {
  /** This node's claim as last written (discovery puts it in our HELLOs, not in our own view). */
  private mine: Lease | undefined;
  /** The largest epoch any HELLO claimed: the floor of this node's next term. */
  private seen = 0;

  constructor(private readonly d: DiscoveryLeaseStoreDeps) {}

  /** The largest head epoch read in any peer's HELLO so far. */
  get highestSeen(): number {
    return this.seen;
  }

  async read(): Promise<LeaseRead> {
    let view: HeadDiscoveryView;
    try {
      view = await this.d.discovery.view();
    } catch (e) {
      return { result: 'unreachable', detail: `discovery: ${(e as Error).message}` };
    }
    const lease = this.leaseIn(view);
    return { result: 'read', lease, token: lease ? tokenOf(lease) : undefined };
  }

  async claim(token: string | undefined, next: Lease): Promise<LeaseWrite> {
    const now = await this.read();
    if (now.result !== 'read') return now.result === 'foreign' ? { result: 'lost', detail: 'not a lease' } : now;
    if (now.token !== token) return { result: 'lost', detail: `the view changed: ${now.token ?? 'no claim'} where ${token ?? 'no claim'} was read` };
    try {
      await this.d.discovery.claim(next.epoch);
    } catch (e) {
      return { result: 'unreachable', detail: `discovery PUT /head: ${(e as Error).message}` };
    }
    this.mine = { ...next, holder: this.d.self };
    return { result: 'done', token: tokenOf(this.mine) };
  }

  async release(_token: string, _ended: Lease): Promise<LeaseWrite> {
    // Ours to end whatever the view says now: ending a claim can give nobody two heads.
    this.mine = undefined;
    try {
      await this.d.discovery.end();
    } catch (e) {
      return { result: 'unreachable', detail: `discovery DELETE /head: ${(e as Error).message}` };
    }
    return { result: 'done', token: '' };
  }

  private leaseIn(view: HeadDiscoveryView): Lease | undefined {
    const now = this.d.now();
    const claims: Lease[] = [];
    if (this.mine && now < this.mine.expiresAt) claims.push(this.mine);
    for (const p of view.peers) {
      if (p.headEpoch !== undefined && Number.isSafeInteger(p.headEpoch) && p.headEpoch > 0) this.seen = Math.max(this.seen, p.headEpoch);
      if (!p.head || p.state === 'dead' || p.nodeId === this.d.self || !Number.isSafeInteger(p.headEpoch) || !(p.headEpoch! > 0)) continue;
      claims.push({ holder: p.nodeId, epoch: p.headEpoch!, expiresAt: now - p.lastSeenMs + this.d.leaseMs });
    }
    claims.sort((a, b) => b.epoch - a.epoch || (a.holder < b.holder ? -1 : a.holder > b.holder ? 1 : 0));
    return claims[0];
  }
}
