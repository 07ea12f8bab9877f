import type { DiscoverySchemas } from '@cps/openapi';

type Resources = DiscoverySchemas['Resources'];
/** A peer as discovery describes it (GET /self, GET /peers): what it lends in all and what is free. */
export type PeerCapacity = Pick<DiscoverySchemas['NodeInfo'], 'nodeId' | 'free' | 'total'>;

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

const dims = [
  { key: 'vcpus', need: (n: number) => `needs ${plural(n, 'vCPU', 'vCPUs')}`, have: (n: number) => `${n}` },
  { key: 'memoryMiB', need: (n: number) => `needs ${n} MiB of memory`, have: (n: number) => `${n} MiB` },
  { key: 'diskMiB', need: (n: number) => `needs ${n} MiB of disk`, have: (n: number) => `${n} MiB` },
] as const;

const fits = (need: Resources, r: Resources) => need.vcpus <= r.vcpus && need.memoryMiB <= r.memoryMiB && need.diskMiB <= r.diskMiB;

/**
 * Why no peer can take a task now, from the free capacity discovery last heard from each peer
 * (this node included), e.g. "needs 4 vCPUs; the largest free peer lends 2". Undefined when some
 * peer seems to fit, or when a peer's free capacity is unknown: then only a PUBLISH can tell.
 * Advisory: the view is a HELLO old, and the peers' ACKs decide.
 */
export function waitReason(need: Resources, peers: readonly PeerCapacity[]): string | undefined {
  if (peers.length === 0) return 'no peer is known yet';
  if (peers.some((p) => !p.free)) return undefined;
  const free = peers.map((p) => p.free!);
  if (free.some((f) => fits(need, f))) return undefined;
  for (const d of dims) {
    // A task larger than every peer lends in all waits for a bigger peer to join: say so.
    const totals = peers.map((p) => p.total?.[d.key]).filter((n): n is number => n !== undefined);
    if (totals.length === peers.length && need[d.key] > Math.max(...totals)) {
      return `${d.need(need[d.key])}; the largest peer lends ${d.have(Math.max(...totals))} in all (it waits for a bigger peer to join)`;
    }
  }
  for (const d of dims) {
    const most = Math.max(...free.map((f) => f[d.key]));
    if (need[d.key] > most) return `${d.need(need[d.key])}; the largest free peer lends ${d.have(most)}`;
  }
  return `needs ${plural(need.vcpus, 'vCPU', 'vCPUs')}, ${need.memoryMiB} MiB of memory and ${need.diskMiB} MiB of disk at once; no peer has them all free`;
}

/** The view after `need` was placed on `nodeId`: discovery's next HELLO would say the same. */
export function afterPlacing(peers: readonly PeerCapacity[], nodeId: string, need: Resources): PeerCapacity[] {
  return peers.map((p) =>
    p.nodeId === nodeId && p.free
      ? {
          ...p,
          free: {
            vcpus: Math.max(0, p.free.vcpus - need.vcpus),
            memoryMiB: Math.max(0, p.free.memoryMiB - need.memoryMiB),
            diskMiB: Math.max(0, p.free.diskMiB - need.diskMiB),
          },
        }
      : p,
  );
}
