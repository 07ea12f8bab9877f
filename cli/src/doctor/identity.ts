import { certInfo, fingerprintOf, signedBy, trustLayout } from '@cps/trust';
import type { Check } from './types.ts';

const day = 86_400_000;

/** The node's cluster identity: there (or not yet, which `cps up` fixes), consistent, not expiring. */
export const checkIdentity: Check = async (d) => {
  const name = 'cluster identity';
  const l = trustLayout(d.dataDir);
  const missing = [];
  for (const f of [l.caCert, l.nodeCert, l.nodeKey]) if (!(await d.exists(f))) missing.push(f.slice(l.dir.length + 1));
  if (missing.length === 3) return { name, status: 'warn', detail: `none yet in ${l.dir}`, hint: 'the first `cps up` makes the cluster (CA, certificate, PEP key); to join one: cps up --join HOST:PORT --token T' };
  if (missing.length) return { name, status: 'FAIL', detail: `${l.dir} lacks ${missing.join(', ')}`, hint: `move ${l.dir} away and join again (cps join-token on a member)` };
  const ca = await d.readFile(l.caCert);
  const cert = await d.readFile(l.nodeCert);
  if (!signedBy(cert, ca)) return { name, status: 'FAIL', detail: `${l.nodeCert} is not signed by ${l.caCert}`, hint: `the files are from two clusters: move ${l.dir} away and join again` };
  const info = certInfo(cert);
  const left = info.notAfter.getTime() - Date.now();
  const what = `node ${info.nodeId} of cluster ${fingerprintOf(ca).slice(0, 16)}…, certificate valid until ${info.notAfter.toISOString().slice(0, 10)}`;
  if (left <= 0) return { name, status: 'FAIL', detail: `${what}: expired`, hint: 'every peer refuses it: move the tls folder away and join again' };
  if (left < 30 * day) return { name, status: 'warn', detail: `${what}: expires in ${Math.ceil(left / day)} days`, hint: 'join again with a new token before then' };
  if (d.env.CPS_NODE_ID && d.env.CPS_NODE_ID !== info.nodeId) return { name, status: 'FAIL', detail: `${what}, but CPS_NODE_ID is ${d.env.CPS_NODE_ID}`, hint: 'the services refuse to start: unset CPS_NODE_ID or set it to the certificate\'s name' };
  return { name, status: 'ok', detail: what };
};
