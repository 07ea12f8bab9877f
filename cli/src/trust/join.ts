import { isIP } from 'node:net';
import { memberFetch, serviceUrl, type ClusterTls } from '@cps/common';
import { discoveryClient, type DiscoverySchemas } from '@cps/openapi';
import {
  certInfo,
  createCsr,
  decodeJoinToken,
  fingerprintOf,
  hasIdentity,
  JoinTokenError,
  loadNodeIdentity,
  removalListSchema,
  signedBy,
  trustLayout,
  writeFilesAtomically,
} from '@cps/trust';
import { fetchPinnedCa, JoinError } from './pinned-ca.ts';
import { sourceAddressFor } from './route-source.ts';
import type { ClusterSettings } from './cluster-settings.ts';

export { JoinError };

export interface JoinOptions {
  /** HOST:PORT of a member's discovery, as `cps join-token` printed it. */
  target: string;
  token: string;
  dataDir: string;
  nodeId: string;
  now: () => Date;
  /** Progress lines for the person waiting. */
  say: (line: string) => void;
}

export type JoinResult = { joined: true; settings: ClusterSettings; caSha256: string } | { joined: false; why: string };

/** Splits HOST:PORT ([v6]:port too); a bad one is a JoinError that says what is expected. */
export function parseTarget(target: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(target.trim());
  const port = Number(m?.[3]);
  if (!m || port < 1 || port > 65535) throw new JoinError(`--join wants HOST:PORT of a member's discovery (as cps join-token printed it), got '${target}'`);
  return { host: (m[1] ?? m[2])!, port };
}

/**
 * `cps up --join HOST:PORT --token T`: checks the token and the CA the member presents against it
 * before sending anything, proves the token's secret with a CSR from a key made here (it never
 * leaves this machine), and writes the certificate, the CA, the PEP key and the settings only
 * when all of it arrived and checks out: a refused join writes nothing.
 */
export async function joinCluster(o: JoinOptions): Promise<JoinResult> {
  const { host, port } = parseTarget(o.target);
  let token;
  try {
    token = decodeJoinToken(o.token);
  } catch (err) {
    if (err instanceof JoinTokenError) throw new JoinError(err.message);
    throw err;
  }
  if (hasIdentity(o.dataDir)) {
    const mine = loadNodeIdentity(o.dataDir);
    if (mine.caSha256 === token.caSha256) return { joined: false, why: `this node is already a member of that cluster (as ${mine.nodeId})` };
    throw new JoinError(
      `this node already belongs to another cluster (CA ${mine.caSha256.slice(0, 16)}…, identity in ${trustLayout(o.dataDir).dir}); ` +
        'to join this one instead, stop it and move that folder away first. Nothing was changed.',
    );
  }
  if (token.expiresAt.getTime() <= o.now().getTime()) {
    throw new JoinError(`the token expired at ${token.expiresAt.toISOString()}; ask a member for a new one (cps join-token). Nothing was sent.`);
  }
  o.say(`checking the cluster CA at ${host}:${port} against the token`);
  const caPem = await fetchPinnedCa(host, port, token.caSha256);
  const address = await sourceAddressFor(host, port).catch((err: Error) => {
    throw new JoinError(`no route from this machine to ${host}: ${err.message}`);
  });
  if (!isIP(address)) throw new JoinError(`cannot tell which address of this machine reaches ${host}`);
  o.say(`CA verified (SHA-256 ${token.caSha256.slice(0, 16)}…); this machine reaches it from ${address}`);
  const { csrPem, keyPem } = await createCsr(o.nodeId);
  // Pinned: only a server whose chain ends in that CA is spoken to from here on.
  const pinned: ClusterTls = { nodeId: o.nodeId, ca: caPem, cert: '', key: '', refuse: () => undefined };
  const client = discoveryClient({ baseUrl: serviceUrl(host, port), fetch: memberFetch(pinned, { anonymous: true }) });
  let grant: DiscoverySchemas['JoinGrant'];
  try {
    const r = await client.POST('/join', { body: { tokenId: token.id, secret: token.secret, nodeId: o.nodeId, csr: csrPem, addresses: [address] } });
    if (!r.data) {
      const p = r.error as { detail?: string } | undefined;
      throw new JoinError(`${host}:${port} refused the join: ${p?.detail ?? `HTTP ${r.response.status}`}. Nothing was written.`);
    }
    grant = r.data;
  } catch (err) {
    if (err instanceof JoinError) throw err;
    throw new JoinError(`the join request to ${host}:${port} failed: ${(err as Error).message}. Nothing was written.`);
  }
  if (grant.ca.trim() !== caPem.trim() && fingerprintOf(grant.ca) !== token.caSha256) throw new JoinError('the member answered with another CA than the one it presented. Nothing was written.');
  if (!signedBy(grant.certificate, caPem) || certInfo(grant.certificate).nodeId !== o.nodeId) throw new JoinError('the certificate the member sent is not a certificate of this node by the cluster CA. Nothing was written.');
  const removals = removalListSchema.parse(grant.removals);
  const settings: ClusterSettings = {
    pepGroup: grant.pep.group,
    pepPort: grant.pep.port,
    pepMulticast: grant.pep.multicast,
    ...(grant.pep.seeds ? { pepSeeds: `${grant.pep.seeds},${host}:${grant.pep.port}` } : {}),
    address,
    joinedVia: `${grant.admittedBy.nodeId} (${host}:${port})`,
    joinedAt: o.now().toISOString(),
  };
  const l = trustLayout(o.dataDir);
  writeFilesAtomically([
    { path: l.caCert, data: caPem, mode: 0o644 },
    { path: l.caKey, data: grant.caKey, mode: 0o600 },
    { path: l.nodeKey, data: keyPem, mode: 0o600 },
    { path: l.nodeCert, data: grant.certificate, mode: 0o644 },
    { path: l.pepKey, data: `${grant.clusterKey}\n`, mode: 0o600 },
    { path: l.removals, data: `${JSON.stringify(removals, null, 1)}\n`, mode: 0o644 },
    { path: l.clusterSettings, data: `${JSON.stringify(settings, null, 1)}\n`, mode: 0o644 },
  ]);
  return { joined: true, settings, caSha256: token.caSha256 };
}
