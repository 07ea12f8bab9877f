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

/** One line of /proc/self/mountinfo's cgroup part: what to mount where, as it is mounted here. */
export interface CgroupMount {
  fstype: 'tmpfs' | 'cgroup' | 'cgroup2';
  target: string;
  options: string;
}

// mountinfo escapes space, tab, newline and backslash as octal.
const unescapeMount = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

/**
 * The machine's cgroup hierarchy as mounted in this process's mount namespace: the tmpfs at
 * /sys/fs/cgroup (cgroup v1 and hybrid), then every cgroup and cgroup2 mount under it, in order.
 * `ip netns exec` mounts a fresh /sys without them, and libvirtd then refuses `<cputune>`
 * ("cgroup cpu is required for scheduler tuning").
 */
export function cgroupMounts(mountinfo: string): CgroupMount[] {
  const out: CgroupMount[] = [];
  for (const line of mountinfo.split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const target = unescapeMount(left.split(' ')[4] ?? '');
    const [fstype, , superOptions = ''] = right.split(' ');
    if (target !== '/sys/fs/cgroup' && !target.startsWith('/sys/fs/cgroup/')) continue;
    if (fstype !== 'tmpfs' && fstype !== 'cgroup' && fstype !== 'cgroup2') continue;
    // The super-block options name the controllers (cpu, memory, name=systemd …) or the tmpfs mode.
    const options = superOptions.split(',').filter((o) => o !== 'rw' && o !== 'ro' && !o.startsWith('size=') && !o.startsWith('nr_inodes=')).join(',');
    out.push({ fstype, target, options });
  }
  return out;
}

/** Shell lines that mount those again (in a mount namespace of its own). */
export function cgroupMountScript(mounts: readonly CgroupMount[]): string[] {
  const q = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;
  return mounts.flatMap((m) => [
    `mkdir -p ${q(m.target)}`,
    `mount -t ${m.fstype}${m.options ? ` -o ${q(m.options)}` : ''} ${m.fstype} ${q(m.target)}`,
  ]);
}

/**
 * A libvirtd (+ virtlogd) of the host's own: `unshare -m --propagation private` inside the host's
 * network namespace, private folders bound over libvirt's, then the daemons. Its sockets, state and
 * domains are invisible to the machine's libvirtd and vice versa; its guests live in the host's
 * namespace, so kill() kills them too. The machine's cgroup hierarchy is mounted again inside (the
 * same hierarchies, so the guests' caps are the machine's real cgroups). The mount namespace lives as long as the daemons do.
 */
export async function startLibvirtd(netns: string, dir: string, timeoutMs = 30_000): Promise<HostLibvirt> {
  for (const [sub] of mounts) mkdirSync(join(dir, sub), { recursive: true });
  cpSync('/etc/libvirt', join(dir, 'etc'), { recursive: true });
  // The skeleton the Debian package makes; libvirtd runs guests as libvirt-qemu, which must reach these.
  const script = [
    'set -e',
    `D='${dir}'`,
    // Before anything else: the machine's cgroups, which libvirtd needs for <cputune> and <memtune>.
    ...cgroupMountScript(cgroupMounts(readFileSync('/proc/self/mountinfo', 'utf8'))),
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
