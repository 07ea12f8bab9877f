import { X509Certificate } from 'node:crypto';
import { connect, type DetailedPeerCertificate } from 'node:tls';
import { fingerprintOf } from '@cps/trust';

export class JoinError extends Error {
  override name = 'JoinError';
}

/**
 * Opens TLS to a member, reads the certificate chain it presents and checks that its root has
 * the SHA-256 the join token names, before a single byte of ours is sent: a man in the middle, or
 * the address of another cluster, is found out here. Returns the pinned CA as PEM.
 */
export function fetchPinnedCa(host: string, port: number, caSha256: string, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const fail = (msg: string) => {
      socket.destroy();
      reject(new JoinError(msg));
    };
    // No trust yet: we verify the chain ourselves, against the hash, below.
    const socket = connect({ host, port, rejectUnauthorized: false, timeout: timeoutMs });
    socket.once('timeout', () => fail(`${host}:${port} did not complete a TLS handshake within ${timeoutMs / 1000} s`));
    socket.once('error', (err) => fail(`cannot reach ${host}:${port}: ${err.message}`));
    socket.once('secureConnect', () => {
      const leaf = socket.getPeerCertificate(true) as DetailedPeerCertificate;
      if (!leaf?.raw) return fail(`${host}:${port} presented no certificate: is it a CPS discovery port?`);
      let root = leaf;
      for (let i = 0; i < 8 && root.issuerCertificate && root.issuerCertificate !== root && root.issuerCertificate.raw; i++) root = root.issuerCertificate;
      const presented = fingerprintOf(root.raw);
      if (presented !== caSha256) {
        return fail(
          `the node at ${host}:${port} presents a cluster CA with SHA-256 ${presented.slice(0, 16)}…, but the token is for ${caSha256.slice(0, 16)}…: ` +
            'this is not the cluster the token was made for, or someone is in between. Nothing was sent.',
        );
      }
      const ca = new X509Certificate(root.raw);
      if (!new X509Certificate(leaf.raw).verify(ca.publicKey)) return fail(`the node at ${host}:${port} presents a certificate its CA did not sign. Nothing was sent.`);
      socket.end();
      resolve(ca.toString());
    });
  });
}
