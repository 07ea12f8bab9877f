import type { PeerCertificate } from 'node:tls';
import { Agent } from 'undici';
import { peerIdentityOf, type ClusterTls } from './cluster-tls.ts';

export type Fetch = (req: Request) => Promise<Response>;

/**
 * The one way a CPS service calls another (on this node or a peer): HTTPS with this node's
 * certificate, trusting only the cluster CA and no removed node. Host names are not checked: a
 * member is whoever holds a certificate of this cluster, wherever it answers (DHCP moves
 * addresses; the certificate names the node, not the address). Give it to a typed client as
 * `fetch`; connections are kept alive per origin.
 */
export function memberFetch(tls: ClusterTls, opts: { connectTimeoutMs?: number; anonymous?: boolean } = {}): Fetch {
  const agent = new Agent({
    connect: {
      ca: tls.ca,
      // Anonymous: a workstation that joins has no certificate yet, only the CA it pinned.
      ...(opts.anonymous ? {} : { cert: tls.cert, key: tls.key }),
      rejectUnauthorized: true,
      timeout: opts.connectTimeoutMs ?? 5_000,
      checkServerIdentity: (_host: string, cert: PeerCertificate) => {
        const why = tls.refuse(peerIdentityOf(cert));
        return why ? Object.assign(new Error(`the peer is no member of this cluster: ${why}`), { code: 'ERR_CPS_NOT_A_MEMBER' }) : undefined;
      },
    },
  });
  // Node's fetch takes an undici dispatcher; the Request keeps method, headers, body and signal.
  return (req) => fetch(req, { dispatcher: agent } as RequestInit);
}

/** The TLS options for a client socket of this node (WebSocket hops, raw TLS). */
export function memberClientTls(tls: ClusterTls) {
  return {
    ca: tls.ca,
    cert: tls.cert,
    key: tls.key,
    rejectUnauthorized: true as const,
    checkServerIdentity: (_host: string, cert: PeerCertificate) => {
      const why = tls.refuse(peerIdentityOf(cert));
      return why ? new Error(`the peer is no member of this cluster: ${why}`) : undefined;
    },
  };
}
