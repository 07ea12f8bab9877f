import { checkAccel, checkTinyImage } from './guest.ts';
import { checkDisk, checkNode, checkPorts, checkQemuImg } from './host.ts';
import { checkHeadDns } from './head-dns.ts';
import { checkIdentity } from './identity.ts';
import { checkLibvirtBinding, checkVirsh, checkVirtlogd } from './libvirt.ts';
import { checkMulticast } from './network.ts';
import type { Check, CheckResult, DoctorDeps } from './types.ts';

export const checks: Check[] = [
  checkNode,
  checkVirsh,
  checkLibvirtBinding,
  checkVirtlogd,
  checkQemuImg,
  checkTinyImage,
  checkAccel,
  checkMulticast,
  checkIdentity,
  checkHeadDns,
  checkDisk,
  checkPorts,
];

/** Runs every check in order; a check that throws is itself reported as FAIL, never a crash. */
export async function runChecks(d: DoctorDeps, list: Check[] = checks): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  for (const check of list) {
    try {
      out.push(await check(d));
    } catch (err) {
      out.push({ name: check.name.replace(/^check/, '').toLowerCase(), status: 'FAIL', detail: `the check itself failed: ${(err as Error).message}` });
    }
  }
  return out;
}
