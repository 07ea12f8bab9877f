import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { peerIdentityOf, type ClusterTls } from './cluster-tls.ts';
import { ProblemError } from './problem.ts';
import type { PublicRoutes } from './public-routes.ts';

/** Who a request came from, once the gate let it in. */
export type Caller = { kind: 'member'; nodeId: string } | { kind: 'stranger' };

// OpenSSL's words for why a presented certificate did not verify, said for a person.
const verifyReasons: Record<string, string> = {
  CERT_HAS_EXPIRED: 'it has expired',
  CERT_NOT_YET_VALID: 'it is not valid yet (is this clock right?)',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "it is not signed by this cluster's CA (another cluster's?)",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "it is not signed by this cluster's CA (another cluster's?)",
  DEPTH_ZERO_SELF_SIGNED_CERT: "it is self-signed, not signed by this cluster's CA",
  SELF_SIGNED_CERT_IN_CHAIN: "its chain ends in a CA that is not this cluster's",
  CERT_SIGNATURE_FAILURE: 'its signature does not verify',
};

/** The path as the app's router will see it (dot segments resolved), so both agree on what a request is. */
export function routedPath(rawUrl: string | undefined): string {
  try {
    return new URL(rawUrl ?? '/', 'http://gate.invalid').pathname;
  } catch {
    return rawUrl ?? '/';
  }
}

/**
 * The door of every CPS port: a public route (the contract says why) is open to anyone; any other
 * route only to a member, i.e. over TLS with a certificate that verified against the cluster CA
 * and whose node was not removed. It runs before the app, so no handler ever sees a stranger.
 */
export function checkCaller(req: IncomingMessage, tls: ClusterTls, routes: PublicRoutes): { caller: Caller } | { refusal: ProblemError } {
  const method = req.method ?? 'GET';
  const path = routedPath(req.url);
  const socket = req.socket as Partial<TLSSocket>;
  const what = `${method} ${path.slice(0, 200)}`;
  let refusedMember: ProblemError | undefined;
  if (socket.encrypted && socket.authorized && socket.getPeerCertificate) {
    const peer = peerIdentityOf(socket.getPeerCertificate());
    const why = tls.refuse(peer);
    if (!why) return { caller: { kind: 'member', nodeId: peer.nodeId } };
    refusedMember = new ProblemError('member-certificate-refused', `${what}: the certificate of ${peer.nodeId} is refused: ${why}`);
  }
  // A public route answers anyone, a removed node included, as it would answer a stranger.
  if (routes.match(method, path)) return { caller: { kind: 'stranger' } };
  if (refusedMember) return { refusal: refusedMember };
  if (!socket.encrypted) {
    return { refusal: new ProblemError('member-certificate-required', `${what} answers members of this cluster only: connect with TLS and this cluster's node certificate`) };
  }
  const presented = socket.getPeerCertificate && Object.keys(socket.getPeerCertificate() ?? {}).length > 0;
  if (!presented) return { refusal: new ProblemError('member-certificate-required', `${what} answers members of this cluster only: no client certificate was presented`) };
  const code = String(socket.authorizationError ?? 'unknown');
  return { refusal: new ProblemError('member-certificate-refused', `${what}: the client certificate is refused: ${verifyReasons[code] ?? code}`, { reason: code }) };
}
