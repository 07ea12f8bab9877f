import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { checkServerIdentity, connect, rootCertificates, type DetailedPeerCertificate, type PeerCertificate } from 'node:tls';
import { fingerprintOf, trustLayout } from '@cps/trust';
import { Agent } from 'undici';
import { CommandError } from '../task/client.ts';
import { loadLogin } from './credentials.ts';

/**
 * How the CLI trusts the coordinator at a URL:
 * - `plain`: http:// (loopback only: the coordinator answers plain HTTP on loopback alone);
 * - `pinned`: the cluster CA, from CPS_CA, the one `cps login` pinned for the URL, or this node's
 *   data dir. Any certificate that CA signed is a member of the cluster and may answer (the node
 *   certificate names the node, not the DNS name or address the user typed), as members trust
 *   each other; a certificate the system store trusts for the host name (an admin's public
 *   certificate, served for the names it holds) is taken too;
 * - `system`: no CA known; the system store and the host name decide, as for any web site.
 */
export type CoordinatorTrust =
  | { kind: 'plain' }
  | { kind: 'pinned'; caPem: string; caSha256: string; source: string }
  | { kind: 'system' };

/** A CA certificate from a file the user names; refuses anything that is not one certificate. */
export function readCaFile(path: string): { caPem: string; caSha256: string } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new CommandError(`cannot read the CA certificate ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    const cert = new X509Certificate(text);
    return { caPem: cert.toString(), caSha256: fingerprintOf(cert.raw) };
  } catch {
    throw new CommandError(`${path} is not a PEM certificate`);
  }
}

/** This node's cluster CA, when the CLI runs on a member (ca.pem is 0644: no root needed). */
function dataDirCa(env: NodeJS.ProcessEnv): { caPem: string; caSha256: string; source: string } | undefined {
  const path = trustLayout(env.CPS_DATA_DIR || '/var/lib/cps').caCert;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const cert = new X509Certificate(text);
    return { caPem: cert.toString(), caSha256: fingerprintOf(cert.raw), source: `this node's cluster CA (${path})` };
  } catch {
    return undefined;
  }
}

/**
 * The trust for `url`: CPS_CA (a file) first, then the CA `cps login` pinned for this URL, then
 * this node's data dir, else the system store.
 */
export function trustFor(env: NodeJS.ProcessEnv, url: string): CoordinatorTrust {
  if (new URL(url).protocol === 'http:') return { kind: 'plain' };
  if (env.CPS_CA) return { kind: 'pinned', ...readCaFile(env.CPS_CA), source: `CPS_CA (${env.CPS_CA})` };
  const saved = loadLogin(env, url);
  if (saved?.ca && saved.caSha256) return { kind: 'pinned', caPem: saved.ca, caSha256: saved.caSha256, source: `the CA pinned by cps login at ${saved.caPinnedAt ?? saved.savedAt}` };
  const local = dataDirCa(env);
  if (local) return { kind: 'pinned', ...local };
  return { kind: 'system' };
}

/** The root of a presented chain (the last certificate that has an issuer we were shown). */
function rootOf(leaf: DetailedPeerCertificate): DetailedPeerCertificate {
  let root = leaf;
  for (let i = 0; i < 8 && root.issuerCertificate && root.issuerCertificate !== root && root.issuerCertificate.raw; i++) root = root.issuerCertificate;
  return root;
}

export interface Presented {
  /** Whether the system store (and the host name) verify it. */
  systemTrusted: boolean;
  systemError?: string;
  /** The chain's root as the server sent it: the cluster CA on a node certificate. */
  rootPem: string;
  rootSha256: string;
  rootSubject: string;
}

/** Opens TLS to the coordinator and reports the chain it presents; nothing is sent. */
export function presentedChain(url: string, timeoutMs = 10_000): Promise<Presented> {
  const u = new URL(url);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const port = Number(u.port || 443);
  return new Promise((resolve, reject) => {
    const fail = (msg: string) => {
      socket.destroy();
      reject(new CommandError(msg));
    };
    // No trust yet: what the system store says is read from `authorized`, the chain is shown.
    const socket = connect({ host, port, rejectUnauthorized: false, timeout: timeoutMs, ...(isIP(host) ? {} : { servername: host }) });
    socket.once('timeout', () => fail(`${u.host} did not complete a TLS handshake within ${timeoutMs / 1000} s`));
    socket.once('error', (err) => fail(`cannot reach the coordinator at ${url}: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
    socket.once('secureConnect', () => {
      const leaf = socket.getPeerCertificate(true) as DetailedPeerCertificate;
      if (!leaf?.raw) return fail(`${u.host} presented no certificate`);
      const root = rootOf(leaf);
      const rootCert = new X509Certificate(root.raw);
      const authorizationError = socket.authorizationError ? String((socket.authorizationError as unknown as { code?: string }).code ?? socket.authorizationError) : undefined;
      socket.end();
      resolve({
        systemTrusted: socket.authorized,
        ...(authorizationError ? { systemError: authorizationError } : {}),
        rootPem: rootCert.toString(),
        rootSha256: fingerprintOf(root.raw),
        rootSubject: rootCert.subject.replace(/\n/g, ', '),
      });
    });
  });
}

/** AB:CD:… as browsers and openssl show a fingerprint, for a person to compare. */
export const colonHex = (hex: string): string => hex.toUpperCase().match(/../g)!.join(':');

/** The certificate errors a TLS client reports for a chain it does not trust. */
const untrustedCodes = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

function tlsCodeOf(err: unknown): string | undefined {
  for (let e = err as { code?: string; cause?: unknown } | undefined, i = 0; e && i < 4; e = e.cause as typeof e, i++) {
    if (e.code && untrustedCodes.has(e.code)) return e.code;
  }
  return undefined;
}

export type Fetch = (req: Request) => Promise<Response>;

/**
 * The fetch a typed client uses for the coordinator at `url`: plain, or HTTPS that trusts as
 * `trust` says. A certificate it does not trust is refused with what it presented and what was
 * expected, never with a bare OpenSSL code.
 */
export function fetchFor(trust: CoordinatorTrust, url: string): Fetch {
  // Plain HTTP: a redirect to https (from afar) is not followed blindly, it is told (client.ts).
  if (trust.kind === 'plain') return (req) => fetch(req, { redirect: 'manual' });
  const agent = trust.kind === 'system' ? undefined : pinnedAgent(trust.caPem);
  return async (req) => {
    try {
      return await fetch(req, agent ? ({ dispatcher: agent } as RequestInit) : undefined);
    } catch (err) {
      const code = tlsCodeOf(err);
      if (!code) throw err;
      throw await refusal(trust, url, code);
    }
  };
}

/**
 * TLS that trusts the pinned CA and the system store. A certificate the pinned CA signed itself
 * (a node certificate: the cluster has no intermediates) is a member, whatever name it was reached
 * by; checked by its signature, not by the names in the chain the server sent, which anyone can
 * copy. Any other certificate verified by the system store, and then it must hold the host name.
 */
function pinnedAgent(caPem: string): Agent {
  const ca = new X509Certificate(caPem);
  const signedByCa = (raw: Buffer): boolean => {
    try {
      const leaf = new X509Certificate(raw);
      return leaf.checkIssued(ca) && leaf.verify(ca.publicKey);
    } catch {
      return false;
    }
  };
  return new Agent({
    connect: {
      ca: [caPem, ...rootCertificates],
      rejectUnauthorized: true,
      checkServerIdentity: (host: string, cert: PeerCertificate) => (signedByCa(cert.raw) ? undefined : checkServerIdentity(host, cert)),
    },
  });
}

/** Why the coordinator's certificate was refused, in words: looks once more at what it presents. */
async function refusal(trust: CoordinatorTrust, url: string, code: string): Promise<CommandError> {
  let shown: Presented | undefined;
  try {
    shown = await presentedChain(url);
  } catch {
    // Said below without what it presents.
  }
  const presents = shown ? `it presents a certificate from CA "${shown.rootSubject}" (SHA-256 ${colonHex(shown.rootSha256)})` : `its certificate is not trusted (${code})`;
  if (trust.kind === 'pinned') {
    return new CommandError(
      `refused the coordinator at ${url}: ${presents}, but the cluster CA to trust is SHA-256 ${colonHex(trust.caSha256)} (${trust.source}). ` +
        'This is another cluster, or someone is in between; nothing was sent. If the cluster was really made anew, ' +
        `run cps logout --url ${url} and cps login --url ${url} again to see and pin its new CA.`,
    );
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return new CommandError(`refused the coordinator at ${url}: its certificate is not for the name ${new URL(url).hostname} (${code}); nothing was sent. Use a name the certificate holds, or set CPS_CA to the cluster CA's certificate file.`);
  }
  return new CommandError(
    `refused the coordinator at ${url}: ${presents}, which this system does not trust (${code}). ` +
      `Run cps login --url ${url} to see its CA's fingerprint and pin it, or set CPS_CA to the cluster CA's certificate file (ca.pem in a member's data dir, tls/).`,
  );
}
