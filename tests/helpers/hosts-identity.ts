// Cluster identities for the test hosts, made with the same library `cps up` and joins use.
import type { ClusterTls } from '@cps/common';
import { certInfo, clusterTlsOf, createCsr, fingerprintOf, issueNodeCertificate, Removals, trustLayout, writeFilesAtomically, type CaFiles } from '@cps/trust';

/** A member's TLS material, in memory (the test process's own certificate). */
export async function issueMember(ca: CaFiles, nodeId: string, addresses: string[], opts: { now?: Date; days?: number } = {}): Promise<ClusterTls> {
  const { csrPem, keyPem } = await createCsr(nodeId);
  const certPem = await issueNodeCertificate({ ca, csrPem, nodeId, addresses, now: opts.now ?? new Date(), days: opts.days });
  return clusterTlsOf({ nodeId, caPem: ca.certPem, certPem, keyPem, caSha256: fingerprintOf(ca.certPem), cert: certInfo(certPem) }, () => new Removals());
}

/** What `cps up` would have left in a node's data dir: CA (with key), node certificate and key. */
export async function writeNodeIdentity(dataDir: string, ca: CaFiles, nodeId: string, addresses: string[]): Promise<void> {
  const { csrPem, keyPem } = await createCsr(nodeId);
  const certPem = await issueNodeCertificate({ ca, csrPem, nodeId, addresses, now: new Date() });
  const l = trustLayout(dataDir);
  writeFilesAtomically([
    { path: l.caCert, data: ca.certPem, mode: 0o644 },
    { path: l.caKey, data: ca.keyPem, mode: 0o600 },
    { path: l.nodeKey, data: keyPem, mode: 0o600 },
    { path: l.nodeCert, data: certPem, mode: 0o644 },
  ]);
}
