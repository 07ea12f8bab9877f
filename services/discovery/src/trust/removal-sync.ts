import type { Logger } from '@cps/common';
import type { DiscoveryClient, DiscoverySchemas } from '@cps/openapi';
import { writeRemovals, type LoadedTrust, type Removal } from '@cps/trust';

type Peer = DiscoverySchemas['Peer'];

export interface RemovalSyncDeps {
  trust: LoadedTrust;
  /** The removals file (trustLayout(dataDir).removals); this service is its only writer. */
  path: string;
  nodeId: string;
  /** The peers to tell about a new removal. */
  peers: () => Peer[];
  /** A typed client for a peer's discovery, over the cluster's TLS. */
  client: (peer: Pick<Peer, 'address' | 'ports'>) => DiscoveryClient;
  now: () => Date;
  log: Logger;
  /** A peer whose HELLO carries another digest is asked for its list at most this often. */
  pullEveryMs?: number;
}

/**
 * Spreads removals: a new one is written here and pushed to every peer at once; HELLO carries
 * each node's digest, and a node that hears a digest other than its own asks that peer for its
 * list and merges it (a grow-only set converges whatever the order). So a removal reaches every
 * member within a HELLO interval or two even if the push missed some.
 */
export class RemovalSync {
  private readonly lastPull = new Map<string, number>();

  constructor(private readonly d: RemovalSyncDeps) {}

  digest(): string {
    return this.d.trust.removals().digest();
  }

  list(): { items: Removal[]; digest: string } {
    return { items: this.d.trust.removals().list(), digest: this.digest() };
  }

  /** Merges `items` into the file and the live set; returns how many were new. */
  merge(items: readonly Removal[], source: string): number {
    const set = this.d.trust.removals();
    const added = set.merge(items);
    if (added) {
      writeRemovals(this.d.path, set);
      this.d.log.info({ added, source, digest: set.digest(), nodes: [...new Set(items.map((r) => r.nodeId))].slice(0, 20) }, 'removals merged');
    }
    return added;
  }

  /** `cps node remove`: adds the removal and tells every peer before answering. */
  async remove(nodeId: string): Promise<{ items: Removal[]; digest: string }> {
    const removal: Removal = { nodeId, removedAt: this.d.now().toISOString(), by: this.d.nodeId };
    this.merge([removal], 'local');
    const body = this.list();
    const peers = this.d.peers().filter((p) => p.state !== 'dead' && p.nodeId !== nodeId);
    const results = await Promise.allSettled(
      peers.map(async (p) => {
        const r = await this.d.client(p).PUT('/trust/removals', { body: { items: body.items }, signal: AbortSignal.timeout(3_000) });
        if (!r.response.ok) throw new Error(`status ${r.response.status}`);
      }),
    );
    const failed = peers.filter((_, i) => results[i]!.status === 'rejected').map((p) => p.nodeId);
    this.d.log.info({ nodeId, told: peers.length - failed.length, failed }, 'node removed');
    return body;
  }

  /** A HELLO from `peer` said its digest: if it differs from ours, fetch and merge its list. */
  heard(peer: Pick<Peer, 'nodeId' | 'address' | 'ports'>, digest: string): void {
    if (digest === this.digest() || peer.nodeId === this.d.nodeId) return;
    const now = this.d.now().getTime();
    if (now - (this.lastPull.get(peer.nodeId) ?? -Infinity) < (this.d.pullEveryMs ?? 2_000)) return;
    this.lastPull.set(peer.nodeId, now);
    void this.d
      .client(peer)
      .GET('/trust/removals', { signal: AbortSignal.timeout(3_000) })
      .then((r) => {
        if (r.data) this.merge(r.data.items, peer.nodeId);
      })
      .catch((err: Error) => this.d.log.warn({ peer: peer.nodeId, err: err.message }, 'cannot fetch removals from a peer'));
  }
}
