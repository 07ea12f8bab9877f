import { join } from 'node:path';

/**
 * Where a node keeps its cluster identity, under the data dir. The one place these paths are
 * spelled: every service, the CLI and the tests ask here.
 */
export function trustLayout(dataDir: string) {
  const dir = join(dataDir, 'tls');
  return {
    dir,
    /** The cluster CA's certificate (0644) and key (0600): every member can sign (docs/trust.md). */
    caCert: join(dir, 'ca.pem'),
    caKey: join(dir, 'ca.key'),
    /** This node's certificate (CN = node id) and key (0600). */
    nodeCert: join(dir, 'node.pem'),
    nodeKey: join(dir, 'node.key'),
    /** Nodes removed from the cluster (grow-only; merged from every peer). */
    removals: join(dir, 'removals.json'),
    /** Join tokens this node issued (hashes of their secrets). */
    joinTokens: join(dir, 'join-tokens.json'),
    /** The PEP key every member shares (made by the first `cps up`, handed out on join). */
    pepKey: join(dataDir, 'cluster.key'),
    /** The PEP settings and addresses a join decided, read by later `cps up` runs. */
    clusterSettings: join(dataDir, 'cluster.json'),
    /** Held while one process makes the identity. */
    lock: join(dir, '.lock'),
  } as const;
}

export type TrustLayout = ReturnType<typeof trustLayout>;
