import { createHash, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { nodeIdPattern } from '@cps/common';
import { keyPairFromPem, newKeyPair, privateKeyPem } from './keys.ts';
import { keyAlgorithm, x509 } from './x509.ts';

/** The cluster's certificate authority: its certificate and key, both PEM. */
export interface CaFiles {
  certPem: string;
  keyPem: string;
}

/** What a node certificate says about its holder. */
export interface CertInfo {
  nodeId: string;
  serial: string;
  notBefore: Date;
  notAfter: Date;
  /** SHA-256 of the certificate's DER, hex. */
  fingerprint: string;
}

const day = 86_400_000;
// Certificates start a minute in the past so a peer whose clock is a little behind accepts them.
const backdateMs = 60_000;
// The node id is the certificate's common name, and doubles as a DNS name in its SAN.

function randomSerial(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[0] = (b[0]! & 0x7f) | 0x01; // positive and without a leading zero byte (RFC 5280 §4.1.2.2)
  return Buffer.from(b).toString('hex');
}

/** Makes a cluster CA: a self-signed P-256 certificate that may sign node certificates only. */
export async function createCa(opts: { now: Date; years?: number; label?: string }): Promise<CaFiles> {
  const keys = await newKeyPair();
  const notBefore = new Date(opts.now.getTime() - backdateMs);
  const notAfter = new Date(opts.now.getTime() + (opts.years ?? 10) * 365 * day);
  const label = opts.label ?? randomSerial().slice(0, 8);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: `CN=CPS cluster CA ${label}, O=CPS`,
    notBefore,
    notAfter,
    keys,
    signingAlgorithm: keyAlgorithm,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: await privateKeyPem(keys.privateKey) };
}

/** A certificate signing request for `nodeId` from a new key; the key never leaves the caller. */
export async function createCsr(nodeId: string): Promise<{ csrPem: string; keyPem: string }> {
  checkNodeId(nodeId);
  const keys = await newKeyPair();
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: `CN=${nodeId}`, keys, signingAlgorithm: keyAlgorithm });
  return { csrPem: csr.toString('pem'), keyPem: await privateKeyPem(keys.privateKey) };
}

export class CertificateError extends Error {
  override name = 'CertificateError';
}

function checkNodeId(nodeId: string): void {
  if (!nodeIdPattern.test(nodeId)) throw new CertificateError(`node id ${JSON.stringify(nodeId.slice(0, 80))} is not 1-64 of [A-Za-z0-9._-]`);
}

/** Addresses (IP literals) and names a node certificate may carry in its SAN. */
function sanOf(nodeId: string, addresses: readonly string[]): { type: 'ip' | 'dns'; value: string }[] {
  const names = new Map<string, 'ip' | 'dns'>([[nodeId, 'dns'], ['localhost', 'dns'], ['127.0.0.1', 'ip'], ['::1', 'ip']]);
  for (const a of addresses) {
    if (isIP(a)) names.set(a, 'ip');
    else if (/^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$/.test(a)) names.set(a.toLowerCase(), 'dns');
    else throw new CertificateError(`address ${JSON.stringify(a.slice(0, 80))} is neither an IP literal nor a host name`);
  }
  return [...names].map(([value, type]) => ({ type, value }));
}

/**
 * Signs a node certificate for `nodeId` over the public key of `csrPem` (whose own signature must
 * verify). The subject and SAN are ours, never copied from the request: a CSR cannot ask for a CA
 * bit, another node's name or extra usages.
 */
export async function issueNodeCertificate(opts: {
  ca: CaFiles;
  csrPem: string;
  nodeId: string;
  addresses: readonly string[];
  now: Date;
  days?: number;
}): Promise<string> {
  checkNodeId(opts.nodeId);
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(opts.csrPem);
  } catch {
    throw new CertificateError('the certificate request is not a PEM PKCS#10 request');
  }
  if (!(await csr.verify().catch(() => false))) throw new CertificateError('the certificate request is not signed by its own key');
  const alg = csr.publicKey.algorithm as EcKeyAlgorithm;
  if (alg.name !== 'ECDSA' || alg.namedCurve !== 'P-256') throw new CertificateError('the certificate request must carry an ECDSA P-256 key');
  const caCert = new x509.X509Certificate(opts.ca.certPem);
  const caKeys = await keyPairFromPem(opts.ca.keyPem);
  const publicKey = await csr.publicKey.export();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: `CN=${opts.nodeId}, O=CPS`,
    issuer: caCert.subject,
    notBefore: new Date(opts.now.getTime() - backdateMs),
    notAfter: new Date(opts.now.getTime() + (opts.days ?? 365) * day),
    publicKey,
    signingKey: caKeys.privateKey,
    signingAlgorithm: keyAlgorithm,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension(sanOf(opts.nodeId, opts.addresses)),
      await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey),
      await x509.SubjectKeyIdentifierExtension.create(publicKey),
    ],
  });
  return cert.toString('pem');
}

/** SHA-256 of a certificate's DER, hex: what a join token pins the CA by. */
export function fingerprintOf(pemOrDer: string | Buffer): string {
  const der = typeof pemOrDer === 'string' ? new X509Certificate(pemOrDer).raw : pemOrDer;
  return createHash('sha256').update(der).digest('hex');
}

/** The holder, serial and validity of a certificate. */
export function certInfo(pem: string): CertInfo {
  const c = new X509Certificate(pem);
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(c.subject)?.[1] ?? '';
  return { nodeId: cn, serial: c.serialNumber.toLowerCase(), notBefore: new Date(c.validFrom), notAfter: new Date(c.validTo), fingerprint: fingerprintOf(c.raw) };
}

/** Whether `certPem` was signed by the CA `caPem`. */
export function signedBy(certPem: string, caPem: string): boolean {
  try {
    return new X509Certificate(certPem).checkIssued(new X509Certificate(caPem)) && new X509Certificate(certPem).verify(new X509Certificate(caPem).publicKey);
  } catch {
    return false;
  }
}
