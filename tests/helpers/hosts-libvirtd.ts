import { cpSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { netnsPids, sh } from './hosts-net.ts';

export interface HostLibvirt {
  /** libvirtd's pid; `nsenter -t <pid> -m -n` enters the host's network and private mounts. */
  pid: number;
  /** The private folders bound over the machine's libvirt folders. */
  dir: string;
}

const mounts = [
  ['run', '/run/libvirt'],
  ['lib', '/var/lib/libvirt'],
  ['cache', '/var/cache/libvirt'],
  ['log', '/var/log/libvirt'],
  ['etc', '/etc/libvirt'],
] as const;

/**
 * A libvirtd (+ virtlogd) of the host's own: `unshare -m --propagation private` inside the host's
 * network namespace, private folders bound over libvirt's, then the daemons. Its sockets, state and
 * domains are invisible to the machine's libvirtd and vice versa; its guests live in the host's
 * namespace, so kill() kills them too. The mount namespace lives as long as the daemons do.
 */
export async function startLibvirtd(netns: string, dir: string, timeoutMs = 30_000): Promise<HostLibvirt> {
  for (const [sub] of mounts) mkdirSync(join(dir, sub), { recursive: true });
  cpSync('/etc/libvirt', join(dir, 'etc'), { recursive: true });
  // The skeleton the Debian package makes; libvirtd runs guests as libvirt-qemu, which must reach these.
  const script = [
    'set -e',
    `D='${dir}'`,
    'mkdir -p "$D/lib/images" "$D/lib/boot" "$D/cache/qemu" "$D/log/qemu"',
    'for s in channel snapshot dump checkpoint nvram save ram; do mkdir -p "$D/lib/qemu/$s"; done',
    'chown -R libvirt-qemu:libvirt-qemu "$D/lib/qemu" 2>/dev/null || true',
    ...mounts.map(([sub, target]) => `mount --bind "$D/${sub}" ${target}`),
    'virtlogd -d -p /run/libvirt/virtlogd.pid',
    'libvirtd -d -p /run/libvirt/libvirtd.pid',
  ].join('\n');
  sh('ip', ['netns', 'exec', netns, 'unshare', '-m', '--propagation', 'private', 'sh', '-c', script]);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pid = netnsPids(netns).find((p) => commOf(p) === 'libvirtd');
    if (pid && answers(pid)) return { pid, dir };
    if (Date.now() > deadline) throw new Error(`the libvirtd of ${netns} did not answer within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

function commOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

function answers(pid: number): boolean {
  try {
    sh('nsenter', ['-t', String(pid), '-m', '-n', '--', 'virsh', '-c', 'qemu:///system', 'version']);
    return true;
  } catch {
    return false;
  }
}
