import { statfs } from 'node:fs/promises';
import { ProblemError } from '@cps/common';

/** Bytes an unprivileged writer may still use on the file system holding `dir`. */
export type FreeBytes = (dir: string) => Promise<number>;

export const statfsFreeBytes: FreeBytes = async (dir) => {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
};

export const MiB = 1024 * 1024;

/**
 * A qcow2 starts nearly empty but may grow to its full virtual size, so a disk is only promised
 * when that whole size fits beside a reserve kept for logs, images and the host itself.
 */
export function checkCapacity(wantBytes: number, freeBytes: number, reserveBytes: number): void {
  const usable = Math.max(0, freeBytes - reserveBytes);
  if (wantBytes > usable) {
    throw new ProblemError(
      'insufficient-capacity',
      `a disk of ${Math.ceil(wantBytes / MiB)} MiB does not fit: ${Math.floor(usable / MiB)} MiB usable ` +
        `(${Math.floor(freeBytes / MiB)} MiB free minus a ${Math.floor(reserveBytes / MiB)} MiB reserve)`,
      { wantMiB: Math.ceil(wantBytes / MiB), usableMiB: Math.floor(usable / MiB) },
    );
  }
}
