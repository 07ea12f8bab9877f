import { statfs } from 'node:fs/promises';
import { ProblemError } from '@cps/common';

/** Bytes an unprivileged writer may still use on the file system holding `dir`. */
export type FreeBytes = (dir: string) => Promise<number>;

export const statfsFreeBytes: FreeBytes = async (dir) => {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
};

export const MiB = 1024 * 1024;

export interface Space {
  /** Free on the file system now. */
  freeBytes: number;
  /** Kept back for the host, logs and images. */
  reserveBytes: number;
  /** Promised to existing qcow2 disks (their virtual size) but not yet written by their guests. */
  promisedBytes: number;
}

/** What a new disk may still be promised. */
export const usableBytes = (s: Space): number => Math.max(0, s.freeBytes - s.reserveBytes - s.promisedBytes);

/**
 * A qcow2 starts nearly empty but may grow to its full virtual size, so a disk is only promised
 * when that whole size fits beside the reserve and beside what earlier disks may still grow by;
 * otherwise several guests filling their disks at once would fill the host's.
 */
export function checkCapacity(wantBytes: number, s: Space): void {
  const usable = usableBytes(s);
  if (wantBytes > usable) {
    const mib = (b: number) => Math.floor(b / MiB);
    throw new ProblemError(
      'insufficient-capacity',
      `a disk of ${Math.ceil(wantBytes / MiB)} MiB does not fit: ${mib(usable)} MiB usable ` +
        `(${mib(s.freeBytes)} MiB free, minus a ${mib(s.reserveBytes)} MiB reserve, minus ${mib(s.promisedBytes)} MiB promised to other disks)`,
      { wantMiB: Math.ceil(wantBytes / MiB), usableMiB: mib(usable) },
    );
  }
}

/**
 * The donor's share policy caps what task disks may add up to (each at its full size), whatever
 * the file system has free: the donor lends this much and no more.
 */
export function checkQuota(wantBytes: number, quotaBytes: number, committedBytes: number): void {
  if (committedBytes + wantBytes > quotaBytes) {
    const mib = (b: number) => Math.floor(b / MiB);
    throw new ProblemError(
      'quota-exceeded',
      `a disk of ${Math.ceil(wantBytes / MiB)} MiB exceeds the donor's share: ${mib(quotaBytes)} MiB shared, ${mib(committedBytes)} MiB already given to task disks`,
      { wantMiB: Math.ceil(wantBytes / MiB), quotaMiB: mib(quotaBytes), committedMiB: mib(committedBytes) },
    );
  }
}
