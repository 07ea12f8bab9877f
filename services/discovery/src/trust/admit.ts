import { ProblemError, type Logger } from '@cps/common';
import type { DiscoverySchemas } from '@cps/openapi';
import { CertificateError, issueNodeCertificate, TokenRefused, type CaFiles, type JoinTokens, type Removals } from '@cps/trust';

type JoinRequest = DiscoverySchemas['JoinRequest'];
type JoinGrant = DiscoverySchemas['JoinGrant'];
type NodeInfo = DiscoverySchemas['NodeInfo'];

export interface AdmitDeps {
  tokens: JoinTokens;
  ca: () => CaFiles;
  pepKey: () => string;
  pep: JoinGrant['pep'];
  self: () => Promise<NodeInfo>;
  /** Whether a live member already goes by this node id (this node, or a peer alive now). */
  taken: (nodeId: string) => boolean;
  removals: () => Removals;
  now: () => Date;
  log: Logger;
}

/**
 * Admits a workstation that holds a join token of this node: checks the token (without using it
 * up), the name, signs the certificate, then uses the token up — so a refused request keeps the
 * token, and of two racing requests with one token only the first gets a certificate.
 */
export async function admit(d: AdmitDeps, req: JoinRequest, from: string | undefined): Promise<JoinGrant> {
  const refuse = (reason: string, detail: string) => {
    d.log.warn({ tokenId: req.tokenId, nodeId: req.nodeId, from, reason }, 'join refused');
    return new ProblemError('join-refused', detail, { reason });
  };
  try {
    d.tokens.check(req.tokenId, req.secret);
  } catch (err) {
    if (err instanceof TokenRefused) throw refuse(err.reason, err.message);
    throw err;
  }
  if (d.taken(req.nodeId)) {
    throw refuse('name-taken', `a member named ${req.nodeId} is alive in this cluster: start the new workstation with another CPS_NODE_ID (the token is still valid)`);
  }
  let certificate: string;
  try {
    certificate = await issueNodeCertificate({ ca: d.ca(), csrPem: req.csr, nodeId: req.nodeId, addresses: req.addresses, now: d.now() });
  } catch (err) {
    if (err instanceof CertificateError) throw refuse('bad-request', err.message);
    throw err;
  }
  try {
    d.tokens.redeem(req.tokenId, req.secret, req.nodeId);
  } catch (err) {
    if (err instanceof TokenRefused) throw refuse(err.reason, err.message);
    throw err;
  }
  const ca = d.ca();
  d.log.info({ tokenId: req.tokenId, nodeId: req.nodeId, from, addresses: req.addresses }, 'admitted a new node');
  return {
    certificate,
    ca: ca.certPem,
    caKey: ca.keyPem,
    clusterKey: d.pepKey(),
    pep: d.pep,
    admittedBy: await d.self(),
    removals: d.removals().list(),
  };
}
