import { hostPort, ProblemError, serviceUrl, type Logger } from '@cps/common';
import type { DiscoveryClient, StorageSchemas } from '@cps/openapi';

export type SourceNode = StorageSchemas['SourceNode'];

export interface PeerPolicyDeps {
  /** address:port pairs (`10.0.0.5:8083`, `[::1]:8083`) always allowed (CPS_STORAGE_PEER_ALLOW). */
  allow: readonly string[];
  /** This node's discovery; its GET /peers says who the peers are. Absent: the allow-list alone. */
  discovery?: DiscoveryClient;
  log: Logger;
}

/**
 * Parses CPS_STORAGE_PEER_ALLOW: address:port entries separated by commas or spaces. A bare address
 * is refused: it would open every port of that host (127.0.0.1 included) to a pull.
 */
export function parseAllowList(text: string): string[] {
  const entries = text
    .split(/[\s,]+/)
    .map((e) => e.trim().toLowerCase())
    .filter(Boolean);
  for (const e of entries) {
    if (!/^(?:\[[0-9a-f:.]+\]|[a-z0-9.-]+):\d{1,5}$/.test(e)) throw new Error(`CPS_STORAGE_PEER_ALLOW: '${e}' is not address:port (a bare address would allow every port of it)`);
  }
  return entries;
}

/** The storage base URL of a node. */
export const storageUrl = (node: SourceNode): string => serviceUrl(node.address, node.port);

/**
 * Who a pull may fetch from. A storage service that fetched any URL it was given could be made
 * to reach anything this host can (server-side request forgery); so the source must be a peer
 * discovery knows (alive or suspect, at the storage port it announced) or on the allow-list.
 * Addresses are compared as written, so `127.1` or a host name is not `127.0.0.1`.
 */
export class PeerPolicy {
  constructor(private readonly d: PeerPolicyDeps) {}

  /** The base URL to pull from, or `peer-not-allowed`. */
  async check(node: SourceNode): Promise<string> {
    const address = node.address.toLowerCase();
    const url = storageUrl({ address, port: node.port });
    const where = hostPort(address, node.port);
    if (this.d.allow.includes(where)) return url;
    const refuse = (why: string) => {
      this.d.log.warn({ source: where }, 'pull from an unknown node refused');
      return new ProblemError('peer-not-allowed', `${where} ${why}; pull only from a peer's storage as discovery's GET /peers lists it (address and ports.storage), or add it to CPS_STORAGE_PEER_ALLOW`);
    };
    if (!this.d.discovery) throw refuse('is not on the allow-list');
    let peers;
    try {
      const res = await this.d.discovery.GET('/peers');
      if (!res.data) throw new Error(`status ${res.response.status}`);
      peers = res.data.items;
    } catch (err) {
      throw new ProblemError('upstream-failed', `cannot tell whether ${where} is a peer: discovery did not answer GET /peers (${(err as Error).message})`);
    }
    const peer = peers.find((p) => p.address.toLowerCase() === address);
    if (!peer) throw refuse('is not a peer discovery knows');
    if (peer.state === 'dead') throw refuse('is a peer discovery holds dead');
    if (peer.ports.storage !== node.port) throw refuse(`is not the storage port that peer announced (${peer.ports.storage})`);
    return url;
  }
}
