import type { DiscoverySchemas } from '@cps/openapi';

type Resources = DiscoverySchemas['Resources'];

/**
 * Load the owner may cause before their workstation counts as busy: half a core beyond what the
 * guests hold. Below it, the machine is idle apart from the work it lends (the paper's "idle times").
 */
export const ownerBusyLoad = 0.5;

/**
 * Whether the workstation's owner is using it, from what discovery reports: the 1-minute load
 * average less the vCPUs its guests hold (a busy guest keeps about one core per vCPU busy), so a
 * host full of guests is not taken for a busy owner. Without a load or capacity it cannot tell.
 */
export function ownerActivity(load: number | undefined, total: Resources | undefined, free: Resources | undefined): 'busy' | 'idle' | 'unknown' {
  if (load === undefined || !total || !free) return 'unknown';
  const guestVcpus = Math.max(0, total.vcpus - free.vcpus);
  return load - guestVcpus >= ownerBusyLoad ? 'busy' : 'idle';
}
