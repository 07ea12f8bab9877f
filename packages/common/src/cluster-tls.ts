import type { PeerCertificate } from 'node:tls';

/** A verified peer certificate as the member checks see it. */
export interface PeerIdentity {
  nodeId: string;
  serial: string;
  notBefore: Date;
  notAfter: Date;
}

/**
 * What a service needs to speak the cluster's mutual TLS: the CA every member's certificate is
 * signed by, this node's certificate and key, and the removals (`@cps/trust` builds it from the
 * data dir). A certificate that verifies against `ca` is a member's unless `refuse` says otherwise.
 */
export interface ClusterTls {
  nodeId: string;
  ca: string;
  cert: string;
  key: string;
  /** Why a verified certificate is no member's any more (its node was removed), or undefined. */
  refuse(peer: PeerIdentity): string | undefined;
}

export function peerIdentityOf(cert: PeerCertificate): PeerIdentity {
  const cn = cert.subject?.CN;
  return {
    nodeId: Array.isArray(cn) ? (cn[0] ?? '') : (cn ?? ''),
    serial: (cert.serialNumber ?? '').toLowerCase(),
    notBefore: new Date(cert.valid_from),
    notAfter: new Date(cert.valid_to),
  };
}
