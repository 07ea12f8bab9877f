import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { certInfo, CertificateError, createCa, createCsr, fingerprintOf, issueNodeCertificate, signedBy, x509 } from '../src/index.ts';

describe('the cluster CA and node certificates', () => {
  it('a CA signs a node certificate whose CN is the node id and whose SAN holds its addresses', async () => {
    const now = new Date('2026-12-01T10:00:00Z');
    const ca = await createCa({ now });
    const { csrPem, keyPem } = await createCsr('host-b');
    expect(keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    const pem = await issueNodeCertificate({ ca, csrPem, nodeId: 'host-b', addresses: ['10.0.0.2', 'ws-b.lan'], now });
    const cert = new X509Certificate(pem);
    expect(cert.subject).toContain('CN=host-b');
    expect(cert.subjectAltName).toContain('IP Address:10.0.0.2');
    expect(cert.subjectAltName).toContain('DNS:ws-b.lan');
    expect(cert.ca).toBe(false);
    expect(new X509Certificate(ca.certPem).ca).toBe(true);
    expect(signedBy(pem, ca.certPem)).toBe(true);
    expect(certInfo(pem)).toMatchObject({ nodeId: 'host-b', notBefore: new Date('2026-12-01T09:59:00Z') });
    expect(fingerprintOf(ca.certPem)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('another CA did not sign it', async () => {
    const [a, b] = [await createCa({ now: new Date() }), await createCa({ now: new Date() })];
    const { csrPem } = await createCsr('n1');
    const pem = await issueNodeCertificate({ ca: a, csrPem, nodeId: 'n1', addresses: [], now: new Date() });
    expect(signedBy(pem, b.certPem)).toBe(false);
  });

  it('the subject is ours: a CSR asking for a CA bit or for another name gets neither', async () => {
    const ca = await createCa({ now: new Date() });
    const keys = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as CryptoKeyPair;
    const greedy = await x509.Pkcs10CertificateRequestGenerator.create({
      name: 'CN=host-a',
      keys,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      extensions: [new x509.BasicConstraintsExtension(true, 3, true)],
    });
    const pem = await issueNodeCertificate({ ca, csrPem: greedy.toString('pem'), nodeId: 'host-z', addresses: [], now: new Date() });
    const cert = new X509Certificate(pem);
    expect(cert.ca).toBe(false);
    expect(cert.subject).toContain('CN=host-z');
  });

  it('refuses a damaged CSR, a CSR whose signature does not verify, and a bad node id or address', async () => {
    const ca = await createCa({ now: new Date() });
    const { csrPem } = await createCsr('n1');
    await expect(issueNodeCertificate({ ca, csrPem: 'garbage', nodeId: 'n1', addresses: [], now: new Date() })).rejects.toThrow(CertificateError);
    // Flip one byte of the signature, at the end of the DER.
    const der = Buffer.from(csrPem.replace(/-----[^-]+-----/g, '').replace(/\s/g, ''), 'base64');
    der[der.length - 3] = der[der.length - 3]! ^ 0xff;
    const broken = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    await expect(issueNodeCertificate({ ca, csrPem: broken, nodeId: 'n1', addresses: [], now: new Date() })).rejects.toThrow(/not signed by its own key|not a PEM/);
    await expect(issueNodeCertificate({ ca, csrPem, nodeId: 'bad id', addresses: [], now: new Date() })).rejects.toThrow(/node id/);
    await expect(issueNodeCertificate({ ca, csrPem, nodeId: 'n1', addresses: ['a b'], now: new Date() })).rejects.toThrow(/address/);
  });
});
