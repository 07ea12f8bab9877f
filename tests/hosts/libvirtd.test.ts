// A test host's own libvirtd (for the multi-host issues that run guests on several "machines"): it
// answers inside the host, its domains are invisible to the machine's libvirt, its guests run
// inside the host's namespace, and killing the host kills them.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHosts, type Host, type Hosts } from '../helpers/hosts.ts';
import { netnsPids } from '../helpers/hosts-net.ts';

let cluster: Hosts;
let a: Host;
const name = `cps-t-${randomBytes(4).toString('hex')}`;

beforeAll(async () => {
  cluster = await createHosts(1);
  a = cluster.hosts[0]!;
  await a.startLibvirtd();
});

afterAll(async () => {
  await cluster?.destroy();
});

const virshHere = (...args: string[]) => a.exec('virsh', ['-c', 'qemu:///system', ...args]);
const machineDomains = () => execFileSync('virsh', ['-c', 'qemu:///system', 'list', '--all', '--name'], { encoding: 'utf8' });

describe("a host's own libvirtd", () => {
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
