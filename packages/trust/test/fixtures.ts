import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClusterTls } from '@cps/common';
import { certInfo, clusterTlsOf, createCa, createCsr, fingerprintOf, issueNodeCertificate, Removals, type CaFiles } from '../src/index.ts';

export const tmpDir = (prefix = 'cps-trust-') => mkdtempSync(join(tmpdir(), prefix));

/** A node of a cluster made in memory: its TLS material and the removals it honours. */
export async function memberOf(ca: CaFiles, nodeId: string, opts: { now?: Date; days?: number; removals?: Removals } = {}): Promise<ClusterTls & { removals: Removals }> {
  const { csrPem, keyPem } = await createCsr(nodeId);
  const certPem = await issueNodeCertificate({ ca, csrPem, nodeId, addresses: ['127.0.0.1'], now: opts.now ?? new Date(), days: opts.days });
  const removals = opts.removals ?? new Removals();
  const info = certInfo(certPem);
  const tls = clusterTlsOf({ nodeId, caPem: ca.certPem, certPem, keyPem, caSha256: fingerprintOf(ca.certPem), cert: info }, () => removals);
  return Object.assign(tls, { removals });
}

export const newCa = () => createCa({ now: new Date() });
