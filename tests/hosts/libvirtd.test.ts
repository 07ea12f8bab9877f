// A test host's own libvirtd (for the multi-host issues that run guests on several "machines"): it
// answers inside the host, its domains are invisible to the machine's libvirt, its guests run
// inside the host's namespace, and killing the host kills them.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHosts, type Host, type Hosts } from '../helpers/hosts.ts';
import { sourceDataDir } from '../helpers/hosts-data.ts';
import { cgroupMounts, cgroupMountScript } from '../helpers/hosts-libvirtd.ts';
import { netnsPids } from '../helpers/hosts-net.ts';

let cluster: Hosts;
let a: Host;
const name = `cps-t-${randomBytes(4).toString('hex')}`;
const taskId = `t-${randomBytes(4).toString('hex')}`;
// The machine's own image, whose files must keep their owner whatever the hosts' guests do.
const machineTiny = join(sourceDataDir(), 'images', 'tiny');
const owners = (dir: string) => Object.fromEntries(readdirSync(dir).map((f) => [f, `${statSync(join(dir, f)).uid}:${statSync(join(dir, f)).gid}`]));
const machineOwners = owners(machineTiny);

beforeAll(async () => {
  cluster = await createHosts(1);
  a = cluster.hosts[0]!;
  await a.startLibvirtd();
  // Inside the libvirtd's mounts (hosts.ts enters them, with --wd for the checkout).
  await a.startServices({ services: ['storage', 'provisioner'] });
}, 120_000);

afterAll(async () => {
  await cluster?.destroy();
});

const virshHere = (...args: string[]) => a.exec('virsh', ['-c', 'qemu:///system', ...args]);
const machineDomains = () => execFileSync('virsh', ['-c', 'qemu:///system', 'list', '--all', '--name'], { encoding: 'utf8' });

describe('cgroupMounts', () => {
  it("reads the machine's cgroup hierarchy (v1 with its tmpfs, hybrid, v2) from mountinfo, and nothing else", () => {
    const info = [
      '25 30 0:23 / /sys rw,nosuid - sysfs sysfs rw',
      '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,size=4096k,nr_inodes=1024,mode=755',
      '32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct',
      '40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd',
      '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate',
      '50 30 0:40 / /sys/fs/cgroup\\040x rw - tmpfs tmpfs rw',
      '51 30 0:41 / /tmp/cgroup rw - cgroup2 cgroup2 rw',
    ].join('\n');
    const mounts = cgroupMounts(info);
    expect(mounts).toEqual([
      { fstype: 'tmpfs', target: '/sys/fs/cgroup', options: 'mode=755' },
      { fstype: 'cgroup', target: '/sys/fs/cgroup/cpu,cpuacct', options: 'cpu,cpuacct' },
      { fstype: 'cgroup', target: '/sys/fs/cgroup/systemd', options: 'xattr,name=systemd' },
      { fstype: 'cgroup2', target: '/sys/fs/cgroup/unified', options: 'nsdelegate' },
    ]);
    expect(cgroupMountScript(mounts.slice(1, 2))).toEqual(["mkdir -p '/sys/fs/cgroup/cpu,cpuacct'", "mount -t cgroup -o 'cpu,cpuacct' cgroup '/sys/fs/cgroup/cpu,cpuacct'"]);
    expect(cgroupMountScript([{ fstype: 'cgroup2', target: '/sys/fs/cgroup', options: '' }])).toEqual(["mkdir -p '/sys/fs/cgroup'", 'mount -t cgroup2 cgroup2 \'/sys/fs/cgroup\'']);
  });
});

describe("a host's own libvirtd", () => {
  it("runs a real CPS guest with its CPU caps through the host's own storage and provisioner, and leaves the machine's image files alone", async () => {
    const { storage, provisioner } = a;
    const path = { params: { path: { taskId } } };
    const { data: disks, error: diskError } = await storage.PUT('/disks/{taskId}', { ...path, body: { image: 'tiny', diskMiB: 64 } });
    expect(diskError, JSON.stringify(diskError)).toBeUndefined();
    expect(disks!.boot.kind).toBe('kernel');
    const boot = disks!.boot as { kind: 'kernel'; kernel: string; initrd: string; cmdline?: string };
    expect(boot.kernel.startsWith(`${a.dataDir}/`)).toBe(true);

    const { data: vm, error } = await provisioner.PUT('/vms/{taskId}', {
      ...path,
      body: {
        name: 'namespace host guest', vcpus: 1, memoryMiB: 128,
        disks: disks!.disks.map((d) => ({ path: d.path, format: d.format, device: d.device, ...(d.readonly === undefined ? {} : { readonly: d.readonly }) })),
        boot: { kind: 'kernel', kernel: boot.kernel, initrd: boot.initrd, ...(boot.cmdline === undefined ? {} : { cmdline: boot.cmdline }) },
      },
    });
    expect(error, `${JSON.stringify(error)}\n${a.logs()}`).toBeUndefined();
    expect(vm!.state).toBe('running');

    // The guest really boots, and libvirt runs it with the caps the provisioner wrote (cgroup cpu).
    let serial = '';
    for (let i = 0; i < 240 && !serial.includes('cps-guest: up'); i++) {
      await new Promise((r) => setTimeout(r, 500));
      const r = await provisioner.GET('/vms/{taskId}/serial', { ...path, parseAs: 'text' });
      serial = r.data ?? '';
    }
    expect(serial).toContain('cps-guest: up');
    const sched = await virshHere('schedinfo', `cps-${taskId}`);
    expect(sched).toMatch(/vcpu_quota\s*:\s*100000/);
    expect(sched).toMatch(/emulator_quota\s*:\s*50000/);
    expect(machineDomains()).not.toContain(`cps-${taskId}`);

    // The host's image is its own copy (libvirt chowns what a guest opens); the machine's keeps its owner.
    const hostTiny = join(a.dataDir, 'images', 'tiny');
    for (const f of readdirSync(machineTiny)) expect(statSync(join(hostTiny, f)).ino).not.toBe(statSync(join(machineTiny, f)).ino);
    // What a hard link would have shared: while the guest runs, libvirt has handed the kernel to QEMU's user.
    expect(statSync(join(hostTiny, 'vmlinuz')).uid).toBe(Number(execFileSync('id', ['-u', 'libvirt-qemu'], { encoding: 'utf8' }).trim()));
    expect(owners(machineTiny)).toEqual(machineOwners);

    expect((await provisioner.DELETE('/vms/{taskId}', path)).response.status).toBe(204);
    expect((await storage.DELETE('/disks/{taskId}', path)).response.status).toBe(204);
    expect(owners(machineTiny)).toEqual(machineOwners);
  });

  it('runs a guest the machine cannot see, and the guest dies with the host', async () => {
    // No disk and no network: SeaBIOS finds nothing to boot and idles, which is all a running guest needs to be here.
    const xml = join(a.dir, `${name}.xml`);
    writeFileSync(xml, `<domain type='qemu'><name>${name}</name><memory unit='MiB'>32</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os><devices><graphics type='vnc' listen='127.0.0.1' autoport='yes'/></devices></domain>`);
    await virshHere('create', xml);
    expect(await virshHere('list', '--name')).toContain(name);
    expect(machineDomains()).not.toContain(name);

    const qemu = netnsPids(a.netns).filter((p) => execFileSync('cat', [`/proc/${p}/cmdline`], { encoding: 'utf8' }).includes(`guest=${name}`));
    expect(qemu).toHaveLength(1);
    await a.kill();
    expect(netnsPids(a.netns)).toEqual([]);
  });
});
