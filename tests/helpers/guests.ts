import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';

/** The libvirt domains of the machine's system connection (where `cps up` makes its guests), by name. */
export const systemDomains = (): string[] =>
  execFileSync('virsh', ['-c', 'qemu:///system', 'list', '--all', '--name'], { encoding: 'utf8' })
    .split('\n')
    .map((s) => s.trim())
    .filter(Boolean);

/**
 * Guests outlive the services by design: a failed run must not leave a task's guest holding the
 * share or its disks the node's disk. Destroys `cps-<taskId>` if it is still there, and its disks.
 */
export function destroyLeftoverGuest(taskId: string, dataDir = process.env.CPS_DATA_DIR ?? '/var/lib/cps'): void {
  if (!systemDomains().includes(`cps-${taskId}`)) return;
  execFileSync('virsh', ['-c', 'qemu:///system', 'destroy', `cps-${taskId}`], { stdio: 'ignore' });
  rmSync(join(dataDir, 'disks', taskId), { recursive: true, force: true });
}
