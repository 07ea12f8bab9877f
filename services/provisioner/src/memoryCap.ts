import { accessSync, constants, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * How a guest's memory hard limit is put in place. libvirt raises QEMU's RLIMIT_MEMLOCK to any
 * `<memtune><hard_limit>` in the domain XML, which needs CAP_SYS_RESOURCE in libvirtd; containers
 * often lack it and the domain then fails to start ("cannot limit locked memory").
 * - 'xml': libvirtd holds CAP_SYS_RESOURCE; the limit is in the domain XML.
 * - 'live': the limit is set on the running domain (`virsh memtune --live`, a cgroup setting only)
 *   and lifted around a save, so the save image restores here.
 * - 'off': neither is possible (no virsh, libvirtd's capabilities unknown, e.g. the provisioner
 *   in a container beside the host's libvirtd): guests run without a memory limit, and the
 *   provisioner says so at start.
 */
export type MemoryCapMode = 'xml' | 'live' | 'off';

const CAP_SYS_RESOURCE = 24n;

export interface MemoryCapProbe {
  /** /proc/<pid>/status of libvirtd, when it can be found. */
  libvirtdStatus: () => string | undefined;
  hasVirsh: () => boolean;
}

export function probeMemoryCapMode(probe: MemoryCapProbe = hostProbe, uri = 'qemu:///system'): MemoryCapMode {
  // libvirt's test driver takes <memtune> as it is, and lives in this process only: a virsh beside
  // it would see another, empty, test driver.
  if (uri.startsWith('test:')) return 'xml';
  if (holdsSysResource(safe(probe.libvirtdStatus))) return 'xml';
  return safe(probe.hasVirsh) ? 'live' : 'off';
}

function holdsSysResource(status: string | undefined): boolean {
  const hex = status && /^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  return !!hex && ((BigInt(`0x${hex}`) >> CAP_SYS_RESOURCE) & 1n) === 1n;
}

function safe<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}

const hostProbe: MemoryCapProbe = {
  libvirtdStatus: () => {
    for (const pidFile of ['/run/libvirt/libvirtd.pid', '/var/run/libvirt/libvirtd.pid']) {
      const pid = safe(() => readFileSync(pidFile, 'utf8').trim());
      if (!pid || !/^\d+$/.test(pid)) continue;
      // In a container the pid file is the host's and the number may name some other process here.
      if (safe(() => readFileSync(`/proc/${pid}/comm`, 'utf8').trim()) !== 'libvirtd') continue;
      return readFileSync(`/proc/${pid}/status`, 'utf8');
    }
    return undefined;
  },
  hasVirsh: () =>
    (process.env.PATH ?? '').split(delimiter).some((dir) => safe(() => (accessSync(join(dir, 'virsh'), constants.X_OK), true)) === true),
};
