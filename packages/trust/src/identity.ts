import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import { certInfo, createCa, createCsr, fingerprintOf, issueNodeCertificate, signedBy, type CaFiles, type CertInfo } from './certificates.ts';
import { writeFilesAtomically } from './files.ts';
import { trustLayout } from './layout.ts';

/** This node's identity as its services use it. */
export interface NodeIdentity {
  nodeId: string;
  caPem: string;
  certPem: string;
  keyPem: string;
  /** SHA-256 of the CA certificate: the cluster's name, in join tokens. */
  caSha256: string;
  cert: CertInfo;
}

export class IdentityMissing extends Error {
  override name = 'IdentityMissing';
}

/** This node's identity from the data dir; IdentityMissing says what to run when it is not there. */
export function loadNodeIdentity(dataDir: string): NodeIdentity {
  const l = trustLayout(dataDir);
  const missing = [l.caCert, l.nodeCert, l.nodeKey].filter((p) => !existsSync(p));
  if (missing.length) {
    throw new IdentityMissing(
      `no cluster identity in ${l.dir} (missing ${missing.map((p) => p.slice(l.dir.length + 1)).join(', ')}): run \`cps up\` once on the first node (it makes the cluster CA and this node's certificate), or \`cps up --join HOST:PORT --token T\` to join a cluster`,
    );
  }
  const caPem = readFileSync(l.caCert, 'utf8');
  const certPem = readFileSync(l.nodeCert, 'utf8');
  const keyPem = readFileSync(l.nodeKey, 'utf8');
  if (!signedBy(certPem, caPem)) throw new IdentityMissing(`${l.nodeCert} is not signed by ${l.caCert}: the identity files are from two clusters`);
  const cert = certInfo(certPem);
  return { nodeId: cert.nodeId, caPem, certPem, keyPem, caSha256: fingerprintOf(caPem), cert };
}

/** The CA's key, on a member (every member holds it, so any member can admit a new node). */
export function loadCa(dataDir: string): CaFiles {
  const l = trustLayout(dataDir);
  return { certPem: readFileSync(l.caCert, 'utf8'), keyPem: readFileSync(l.caKey, 'utf8') };
}

export function hasIdentity(dataDir: string): boolean {
  const l = trustLayout(dataDir);
  return existsSync(l.caCert) && existsSync(l.nodeCert) && existsSync(l.nodeKey);
}

/**
 * The first `cps up` of a cluster: makes the CA and this node's certificate, unless they exist.
 * Safe to call from two processes at once (an exclusive lock file) and twice (a no-op).
 */
export async function ensureClusterIdentity(dataDir: string, opts: { nodeId: string; addresses: readonly string[]; now: () => Date }): Promise<{ identity: NodeIdentity; created: boolean }> {
  if (hasIdentity(dataDir)) return { identity: loadNodeIdentity(dataDir), created: false };
  const l = trustLayout(dataDir);
  mkdirSync(l.dir, { recursive: true, mode: 0o700 });
  const lock = await takeLock(l.lock);
  try {
    if (hasIdentity(dataDir)) return { identity: loadNodeIdentity(dataDir), created: false };
    const ca = existsSync(l.caCert) && existsSync(l.caKey) ? loadCa(dataDir) : await createCa({ now: opts.now() });
    const { csrPem, keyPem } = await createCsr(opts.nodeId);
    const certPem = await issueNodeCertificate({ ca, csrPem, nodeId: opts.nodeId, addresses: opts.addresses, now: opts.now() });
    writeFilesAtomically([
      { path: l.caCert, data: ca.certPem, mode: 0o644 },
      { path: l.caKey, data: ca.keyPem, mode: 0o600 },
      { path: l.nodeKey, data: keyPem, mode: 0o600 },
      { path: l.nodeCert, data: certPem, mode: 0o644 },
    ]);
    return { identity: loadNodeIdentity(dataDir), created: true };
  } finally {
    lock();
  }
}

async function takeLock(path: string): Promise<() => void> {
  for (let i = 0; ; i++) {
    try {
      closeSync(openSync(path, 'wx', 0o600));
      return () => rmSync(path, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || i > 100) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
