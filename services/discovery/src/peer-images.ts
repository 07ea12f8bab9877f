import type { StorageClient } from '@cps/openapi';
import type { Logger } from 'pino';

/** A peer as membership lists it: enough to reach its storage. */
export interface ImagePeer {
  nodeId: string;
  address: string;
  state: string;
  ports: { storage: number };
}

export interface PeerImagesOptions {
  /** The peers membership knows; only alive ones are asked (this node is not among them). */
  peers: () => ImagePeer[];
  /** A typed client for a peer's storage, over the cluster's mutual TLS. */
  storage: (peer: ImagePeer) => StorageClient;
  now: () => number;
  /** How long one peer's image list is trusted before it is asked again. */
  ttlMs?: number;
  /** How long asking one peer may take: a PUBLISH's answer waits on it. */
  timeoutMs?: number;
  log: Logger;
}

/** The id storage gives uploaded bytes (storage uploads.ts uploadedImageId): the only images that travel. */
const uploadedId = (sha256: string) => `img-${sha256.slice(0, 24)}`;

/**
 * Which alive peers hold which uploaded image, for a PUBLISH naming an image this node lacks: its
 * storage can fetch it from one of them (storage image-pulls.ts) before building the disk. Asked
 * on demand (each peer's storage GET /images, members only), each answer kept for `ttlMs`; a peer
 * that does not answer counts as holding nothing. HELLO stays as it is: image lists do not fit a
 * datagram, and only a node that lacks an image ever needs to know.
 */
export function peerImages(o: PeerImagesOptions) {
  const ttlMs = o.ttlMs ?? 3_000;
  const timeoutMs = o.timeoutMs ?? 800;
  const lists = new Map<string, { at: number; digests: Promise<ReadonlySet<string>> }>();

  const ask = async (p: ImagePeer): Promise<ReadonlySet<string>> => {
    try {
      const res = await o.storage(p).GET('/images', { signal: AbortSignal.timeout(timeoutMs) });
      if (!res.data) throw new Error(`status ${res.response.status}`);
      // Only uploaded images: their id names their bytes, so a pull can check what it gets.
      return new Set(res.data.items.flatMap((i) => (i.sha256 && i.kind !== 'kernel' && i.id === uploadedId(i.sha256) ? [i.sha256] : [])));
    } catch (err) {
      o.log.debug({ peer: p.nodeId, err: (err as Error).message }, 'peer storage did not list its images');
      return new Set();
    }
  };

  const listOf = (p: ImagePeer): Promise<ReadonlySet<string>> => {
    const key = `${p.nodeId}\0${p.address}:${p.ports.storage}`;
    const now = o.now();
    const seen = lists.get(key);
    if (seen && now - seen.at < ttlMs) return seen.digests;
    const digests = ask(p);
    lists.set(key, { at: now, digests });
    return digests;
  };

  /** The alive peers whose storage holds the uploaded image with this SHA-256. */
  async function holders(sha256: string): Promise<string[]> {
    const alive = o.peers().filter((p) => p.state === 'alive');
    const have = await Promise.all(alive.map(async (p) => ((await listOf(p)).has(sha256) ? p.nodeId : undefined)));
    for (const k of lists.keys()) if (!alive.some((p) => k.startsWith(`${p.nodeId}\0`))) lists.delete(k);
    return have.filter((n): n is string => n !== undefined);
  }

  return {
    holders,
    /** Whether some alive peer holds it: responder.ts's canFetchImage. */
    canFetch: async (sha256: string): Promise<boolean> => (await holders(sha256)).length > 0,
  };
}
