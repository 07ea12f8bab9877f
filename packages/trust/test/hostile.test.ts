import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CertificateError, createCa, createCsr, decodeJoinToken, encodeJoinToken, issueNodeCertificate, JoinTokenError, removalListSchema } from '../src/index.ts';

// A seeded generator, so a failure names its case and can be replayed.
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  return () => ((x ^= x << 13), (x ^= x >>> 17), (x ^= x << 5), (x >>> 0) / 2 ** 32);
}

describe('outside bytes the trust code parses', () => {
  it('join tokens: the round trip holds, and 5,000 mangled tokens are refused with JoinTokenError only', () => {
    const t = { caSha256: 'c'.repeat(64), id: '0a1b2c3d', secret: 'S'.repeat(43), expiresAt: new Date(1_800_000_000_000) };
    const text = encodeJoinToken(t);
    expect(decodeJoinToken(text)).toEqual(t);
    expect(decodeJoinToken(`  ${text}\n`)).toEqual(t);
    const r = rng(42);
    const alphabet = 'cps1.0123456789abcdefABCDEF-_=/+ \u0000\u00ff\ud800€';
    for (let i = 0; i < 5000; i++) {
      const chars = [...text];
      const edits = 1 + Math.floor(r() * 4);
      for (let e = 0; e < edits; e++) {
        const at = Math.floor(r() * (chars.length + 1));
        const op = r();
        if (op < 0.4) chars.splice(at, 1);
        else if (op < 0.8) chars.splice(at, 0, alphabet[Math.floor(r() * alphabet.length)]!);
        else chars[at] = alphabet[Math.floor(r() * alphabet.length)]!;
      }
      const mangled = chars.join('');
      try {
        const d = decodeJoinToken(mangled);
        // What still decodes is a well-formed token: every part in its own shape.
        expect(d.caSha256).toMatch(/^[0-9a-f]{64}$/);
        expect(d.id).toMatch(/^[0-9a-f]{8}$/);
        expect(d.secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
      } catch (err) {
        expect(err, `case ${i}: ${JSON.stringify(mangled)}`).toBeInstanceOf(JoinTokenError);
      }
    }
  });

  it('CSRs: random bytes, truncations and flipped bytes are refused with CertificateError, never signed', async () => {
    const ca = await createCa({ now: new Date() });
    const { csrPem } = await createCsr('n1');
    const der = Buffer.from(csrPem.replace(/-----[^-]+-----/g, '').replace(/\s/g, ''), 'base64');
    const pem = (b: Buffer) => `-----BEGIN CERTIFICATE REQUEST-----\n${b.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    const r = rng(7);
    const cases: string[] = ['', 'garbage', pem(Buffer.alloc(0)), pem(randomBytes(300))];
    for (let i = 0; i < 60; i++) cases.push(pem(der.subarray(0, Math.floor(r() * der.length))));
    for (let i = 0; i < 60; i++) {
      const b = Buffer.from(der);
      const at = Math.floor(r() * b.length);
      b[at] = b[at]! ^ (1 + Math.floor(r() * 255));
      cases.push(pem(b));
    }
    let signed = 0;
    for (const [i, c] of cases.entries()) {
      try {
        await issueNodeCertificate({ ca, csrPem: c, nodeId: 'n1', addresses: [], now: new Date() });
        signed++;
      } catch (err) {
        expect(err, `case ${i}`).toBeInstanceOf(CertificateError);
      }
    }
    // A flipped bit may land in an ignored corner of the DER and still verify; never most of them.
    expect(signed).toBeLessThan(6);
  });

  it('removal lists from peers: wrong shapes are refused by the schema', () => {
    for (const bad of [null, {}, [{}], [{ nodeId: 'a b', removedAt: '2026-01-01T00:00:00Z', by: 'x' }], [{ nodeId: 'a', removedAt: 'soon', by: 'x' }], [{ nodeId: 'a', removedAt: '2026-01-01T00:00:00Z', by: 'x', extra: 1 }]]) {
      expect(removalListSchema.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    }
    expect(removalListSchema.safeParse([{ nodeId: 'a', removedAt: '2026-01-01T00:00:00Z', by: 'x' }]).success).toBe(true);
  });
});
