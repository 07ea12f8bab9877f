import { statfs } from 'node:fs/promises';
import { ProblemError } from '@cps/common';
import type { NodeInfo } from './hypervisor.ts';

export interface Resources {
  vcpus: number;
  memoryMiB: number;
  diskMiB: number;
}

/** The owner's explicit share settings (CPS_SHARE_*); an absent one falls back to a default. */
export interface ShareSettings {
  vcpus?: number;
  memoryMiB?: number;
  diskMiB?: number;
  /** When lending is allowed ("HH:MM-HH:MM", local time); empty or absent: always. */
  hours?: readonly string[];
}

export const NOTHING: Resources = { vcpus: 0, memoryMiB: 0, diskMiB: 0 };

const MiB = 1024 * 1024;

/**
 * What this peer lends: the host minus a reserve for its owner, unless the owner said otherwise.
 * Defaults keep one vCPU and 1 GiB (or half of a small host's memory) for the owner, and 10% of
 * the data dir's free disk back.
 */
export function lendable(node: NodeInfo, diskAvailMiB: number, share: ShareSettings): Resources {
  const hostMiB = Math.floor(node.memoryKiB / 1024);
  return {
    vcpus: share.vcpus ?? (node.cpus > 1 ? node.cpus - 1 : node.cpus),
    memoryMiB: share.memoryMiB ?? (hostMiB > 2048 ? hostMiB - 1024 : Math.floor(hostMiB / 2)),
    diskMiB: share.diskMiB ?? Math.floor(diskAvailMiB * 0.9),
  };
}

/** Free = lendable minus what the running guests hold; disk is bounded by what the disk still has. */
export function freeOf(total: Resources, used: { vcpus: number; memoryMiB: number }, diskAvailMiB: number): Resources {
  return {
    vcpus: Math.max(0, total.vcpus - used.vcpus),
    memoryMiB: Math.max(0, total.memoryMiB - used.memoryMiB),
    diskMiB: Math.max(0, Math.min(total.diskMiB, Math.floor(diskAvailMiB * 0.9))),
  };
}

/** Admission: throws `insufficient-capacity` naming each resource that is short, or why nothing is lent now. */
export function admit(want: { vcpus: number; memoryMiB: number }, free: Resources, closed?: string): void {
  if (closed) throw new ProblemError('insufficient-capacity', `this peer lends nothing now: ${closed}`, { short: ['vcpus', 'memoryMiB'], free });
  const short: string[] = [];
  if (want.vcpus > free.vcpus) short.push(`vcpus: want ${want.vcpus}, free ${free.vcpus}`);
  if (want.memoryMiB > free.memoryMiB) short.push(`memoryMiB: want ${want.memoryMiB}, free ${free.memoryMiB}`);
  if (short.length > 0) {
    throw new ProblemError('insufficient-capacity', `not enough free capacity on this peer (${short.join('; ')})`, {
      short: short.map((s) => s.split(':')[0]),
      free,
    });
  }
}

export async function diskAvailMiB(dir: string): Promise<number> {
  const s = await statfs(dir);
  return Math.floor((s.bavail * s.bsize) / MiB);
}
