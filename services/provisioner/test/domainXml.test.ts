import { randomBytes } from 'node:crypto';
import { XMLParser } from 'fast-xml-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProblemError } from '@cps/common';
import { buildDomainXml, policyFor, serialSocketPath, type DomainSpec } from '../src/domainXml.ts';
import { connectLibvirt, type Hypervisor } from '../src/hypervisor.ts';
import { readLiveXml } from '../src/liveXml.ts';
import { serialSocketOf } from '../src/vms.ts';
import { taskMac } from '../src/taskUuid.ts';

const typical: DomainSpec = {
  taskId: 't-0123abcd',
  displayName: 'my machine',
  type: 'qemu',
  vcpus: 2,
  memoryMiB: 256,
  disks: [
    { path: '/var/lib/cps/disks/t-0123abcd/root.qcow2', format: 'qcow2', device: 'disk' },
    { path: '/var/lib/cps/disks/t-0123abcd/data.raw', format: 'raw', device: 'disk', readonly: true },
    { path: '/var/lib/cps/images/install.iso', format: 'raw', device: 'cdrom' },
  ],
  boot: {
    kind: 'kernel',
    kernel: '/var/lib/cps/images/tiny/vmlinuz',
    initrd: '/var/lib/cps/images/tiny/initrd.img',
    cmdline: 'console=tty0 console=ttyS0,115200 quiet',
  },
  serialLog: '/var/lib/cps/logs/t-0123abcd.serial',
  specDigest: '0123456789abcdef',
};
const policy = policyFor('/var/lib/cps', typical.taskId);

const golden = `<domain type="qemu">
  <name>cps-t-0123abcd</name>
  <uuid>6c070059-04b6-8f60-8fb4-e81fdf6d7101</uuid>
  <title>my machine</title>
  <description>CPS guest of task t-0123abcd</description>
  <metadata>
    <cps:task xmlns:cps="urn:cps:task:1" id="t-0123abcd" spec="0123456789abcdef"/>
  </metadata>
  <memory unit="MiB">256</memory>
  <currentMemory unit="MiB">256</currentMemory>
  <vcpu placement="static">2</vcpu>
  <cputune>
    <shares>512</shares>
    <period>100000</period>
    <quota>100000</quota>
    <emulator_period>100000</emulator_period>
    <emulator_quota>50000</emulator_quota>
  </cputune>
  <memtune>
    <hard_limit unit="MiB">640</hard_limit>
  </memtune>
  <os>
    <type>hvm</type>
    <kernel>/var/lib/cps/images/tiny/vmlinuz</kernel>
    <initrd>/var/lib/cps/images/tiny/initrd.img</initrd>
    <cmdline>console=tty0 console=ttyS0,115200 quiet</cmdline>
  </os>
  <features>
    <acpi/>
    <apic/>
    <tcg>
      <tb-cache unit="MiB">128</tb-cache>
    </tcg>
  </features>
  <clock offset="utc"/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <disk type="file" device="disk">
      <driver name="qemu" type="qcow2"/>
      <source file="/var/lib/cps/disks/t-0123abcd/root.qcow2"/>
      <target dev="vda" bus="virtio"/>
    </disk>
    <disk type="file" device="disk">
      <driver name="qemu" type="raw"/>
      <source file="/var/lib/cps/disks/t-0123abcd/data.raw"/>
      <target dev="vdb" bus="virtio"/>
      <readonly/>
    </disk>
    <disk type="file" device="cdrom">
      <driver name="qemu" type="raw"/>
      <source file="/var/lib/cps/images/install.iso"/>
      <target dev="sda" bus="sata"/>
      <readonly/>
    </disk>
    <serial type="pty">
      <log file="/var/lib/cps/logs/t-0123abcd.serial" append="on"/>
      <target port="0"/>
    </serial>
    <console type="pty">
      <target type="serial" port="0"/>
    </console>
    <channel type="unix">
      <target type="virtio" name="org.qemu.guest_agent.0"/>
    </channel>
    <graphics type="vnc" port="-1" autoport="yes" listen="127.0.0.1">
      <listen type="address" address="127.0.0.1"/>
    </graphics>
    <video>
      <model type="vga"/>
    </video>
    <memballoon model="none"/>
  </devices>
</domain>`;

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  parseTagValue: false,
  trimValues: false,
  htmlEntities: true,
});

function problemOf(fn: () => unknown): ProblemError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ProblemError) return e;
    throw e;
  }
  throw new Error('expected a ProblemError');
}

describe('buildDomainXml', () => {
  it('writes the golden XML for a typical spec', () => {
    expect(buildDomainXml(typical, policy)).toBe(golden);
  });

  it('gives every guest the qemu-guest-agent channel, once, with no host path of ours', () => {
    for (const xml of [buildDomainXml(typical, policy), buildDomainXml({ ...typical, network: 'user' }, policy)]) {
      expect(xml.match(/<channel /g)).toHaveLength(1);
      expect(xml).toContain('<target type="virtio" name="org.qemu.guest_agent.0"/>');
      expect(xml).not.toMatch(/<channel[^>]*>\s*<source/);
    }
  });

  it('caps CPU and memory by the guest\'s own size', () => {
    const tune = parser.parse(buildDomainXml({ ...typical, vcpus: 4, memoryMiB: 1024 }, policy)).domain;
    expect(tune.cputune).toMatchObject({
      shares: '1024',
      period: '100000',
      quota: '100000',
      emulator_period: '100000',
      emulator_quota: '50000',
    });
    expect(tune.memtune.hard_limit).toEqual({ '#text': '1408', '@unit': 'MiB' });
    expect(buildDomainXml({ ...typical, memtune: false }, policy)).not.toContain('memtune');
  });

  it('puts the VNC password on the graphics element, and accepts only 8 letters or digits', () => {
    const xml = buildDomainXml({ ...typical, vncPassword: 'Ab3dE6gH' }, policy);
    expect(parser.parse(xml).domain.devices.graphics['@passwd']).toBe('Ab3dE6gH');
    expect(readLiveXml(xml).vncPassword).toBe('Ab3dE6gH');
    for (const bad of ['short', 'waytoolong1', 'pass word', 'pa"ss><x', 'päss1234', '']) {
      expect(problemOf(() => buildDomainXml({ ...typical, vncPassword: bad }, policy)).problemType).toBe('validation-failed');
    }
    expect(buildDomainXml(typical, policy)).not.toContain('passwd');
  });

  it('puts the serial port on a unix socket when given one, still logged to the file; no pty, no console of its own', () => {
    const serialSocket = serialSocketPath('/var/lib/cps', typical.taskId);
    expect(serialSocket).toBe('/var/lib/cps/serial/t-0123abcd.sock');
    const xml = buildDomainXml({ ...typical, serialSocket }, policy);
    const serial = `    <serial type="unix">
      <source mode="bind" path="/var/lib/cps/serial/t-0123abcd.sock"/>
      <log file="/var/lib/cps/logs/t-0123abcd.serial" append="on"/>
      <target port="0"/>
    </serial>
`;
    const pty = /    <serial type="pty">[\s\S]*?<\/console>\n/.exec(golden)![0];
    expect(xml).toBe(golden.replace(pty, serial));
    expect(serialSocketOf(xml)).toEqual({ serialSocket });
    expect(serialSocketOf(golden)).toEqual({});
  });

  it.each([
    ['outside the serial folder', '/tmp/t.sock', /outside/],
    ['among the logs', '/var/lib/cps/logs/t.sock', /outside/],
    ['climbing out', '/var/lib/cps/serial/../disks/t.sock', /\.\./],
    ['relative', 'serial/t.sock', /not absolute/],
  ])('refuses a serial socket %s', (_what, serialSocket, why) => {
    expect(() => buildDomainXml({ ...typical, serialSocket }, policy)).toThrow(why);
  });

  it('refuses a serial socket path longer than a unix socket can be', () => {
    const dataDir = `/${'d'.repeat(60)}`;
    const taskId = `t-${'a'.repeat(50)}`;
    const spec = { ...typical, taskId, disks: [], serialLog: `${dataDir}/logs/${taskId}.serial`, serialSocket: serialSocketPath(dataDir, taskId) };
    expect(() => buildDomainXml(spec, policyFor(dataDir, taskId))).toThrow(/longer than a unix socket allows/);
  });

  it('boots from disk or cdrom when asked', () => {
    expect(buildDomainXml({ ...typical, boot: { kind: 'disk' } }, policy)).toContain('<boot dev="hd"/>');
    expect(buildDomainXml({ ...typical, boot: { kind: 'cdrom' } }, policy)).toContain('<boot dev="cdrom"/>');
    expect(buildDomainXml({ ...typical, boot: { kind: 'disk' } }, policy)).not.toContain('<kernel>');
  });

  it('adds user-mode networking only when asked: one virtio NIC after the disks, its MAC from the task id, nothing else changed', () => {
    const nic = `    <interface type="user">
      <mac address="${taskMac(typical.taskId)}"/>
      <model type="virtio"/>
    </interface>
`;
    const withNic = golden.replace('    <serial type="pty">', `${nic}    <serial type="pty">`);
    expect(withNic).not.toBe(golden);
    expect(buildDomainXml({ ...typical, network: 'user' }, policy)).toBe(withNic);
    expect(buildDomainXml({ ...typical, network: 'none' }, policy)).toBe(golden);
    expect(buildDomainXml(typical, policy)).not.toContain('<interface');
  });

  it.each([['bridge'], ['network'], ['USER'], [''], [`user"/><interface type="bridge">`], [1], [null]])(
    'rejects the network %j',
    (network) => {
      const spec = { ...typical, network } as unknown as DomainSpec;
      expect(problemOf(() => buildDomainXml(spec, policy)).problemType).toBe('validation-failed');
    },
  );

  it.each([
    ['markup', '</name><devices>'],
    ['quotes and ampersands', `"quotes' & <x>`],
    ['an entity', '&amp;&lt;&#10;'],
    ['a CDATA end', ']]><x/>'],
    ['a comment opener', '<!-- x -->'],
    ['unicode', 'Ünïcödé 名前 🙂 ‮rtl'],
  ])('escapes a display name with %s: it parses back as the same text, never as elements', (_, name) => {
    const xml = buildDomainXml({ ...typical, displayName: name }, policy);
    const d = parser.parse(xml).domain;
    expect(d.title).toBe(name);
    expect(d.name).toBe('cps-t-0123abcd');
    expect(Object.keys(d).filter((k) => !k.startsWith('#') && !k.startsWith('@'))).toEqual([
      'name', 'uuid', 'title', 'description', 'metadata', 'memory', 'currentMemory', 'vcpu', 'cputune', 'memtune', 'os', 'features',
      'clock', 'on_poweroff', 'on_reboot', 'on_crash', 'devices',
    ]);
    // Only ever once: the name did not open or close any element.
    expect(xml.match(/<devices>/g)).toHaveLength(1);
    expect(xml.match(/<\/name>/g)).toHaveLength(1);
    expect(readLiveXml(xml).title).toBe(name);
  });

  it.each([
    ['NUL', 'a\u0000b'],
    ['newline', 'a\nb'],
    ['carriage return', 'a\rb'],
    ['tab', 'a\tb'],
    ['escape', '\u001b[2J'],
    ['DEL', 'a\u007fb'],
    ['C1 control', 'a\u0085b'],
    ['line separator', 'a\u2028b'],
    ['lone surrogate', 'a\uD800b'],
    ['empty', ''],
    ['10 kB', 'x'.repeat(10_000)],
    ['129 characters', 'x'.repeat(129)],
  ])('rejects a display name with %s', (_, name) => {
    expect(problemOf(() => buildDomainXml({ ...typical, displayName: name }, policy)).problemType).toBe('validation-failed');
  });

  it('lets a guest read a shared image as a read-only disk', () => {
    const ro = { ...typical, disks: [{ path: '/var/lib/cps/images/base/disk.qcow2', format: 'qcow2', device: 'disk', readonly: true }] } as DomainSpec;
    expect(buildDomainXml(ro, policy)).toContain('<readonly/>');
  });

  it('accepts 128 characters, counted as characters not UTF-16 units', () => {
    expect(() => buildDomainXml({ ...typical, displayName: '🙂'.repeat(128) }, policy)).not.toThrow();
  });

  it.each([
    ['markup', '</name><x>'],
    ['upper case', 'T-1'],
    ['leading dash', '-t1'],
    ['a slash', 't/../x'],
    ['NUL', 't\u00001'],
    ['too long', 'a'.repeat(64)],
    ['empty', ''],
  ])('rejects a task id with %s', (_, taskId) => {
    expect(problemOf(() => buildDomainXml({ ...typical, taskId }, policy)).problemType).toBe('validation-failed');
  });

  it.each([
    ['a kernel outside the data dir', { ...typical, boot: { ...typical.boot, kernel: '/boot/vmlinuz' } as DomainSpec['boot'] }],
    ['an initrd with ..', { ...typical, boot: { ...typical.boot, initrd: '/var/lib/cps/../../etc/shadow' } as DomainSpec['boot'] }],
    ['a relative disk', { ...typical, disks: [{ path: 'disks/x.qcow2', format: 'qcow2', device: 'disk' }] }],
    ['a disk outside', { ...typical, disks: [{ path: '/etc/passwd', format: 'raw', device: 'disk' }] }],
    ['a serial log outside', { ...typical, serialLog: '/tmp/x.serial' }],
    ['a serial log among the disks', { ...typical, serialLog: '/var/lib/cps/disks/t-0123abcd/x.serial' }],
    ['another task\'s disk', { ...typical, disks: [{ path: '/var/lib/cps/disks/t-other/root.qcow2', format: 'qcow2', device: 'disk' }] }],
    ['another task\'s disk, read-only', { ...typical, disks: [{ path: '/var/lib/cps/disks/t-other/root.qcow2', format: 'qcow2', device: 'disk', readonly: true }] }],
    ['a shared image as a writable disk', { ...typical, disks: [{ path: '/var/lib/cps/images/base/disk.qcow2', format: 'qcow2', device: 'disk' }] }],
    ['a disk in the data dir itself', { ...typical, disks: [{ path: '/var/lib/cps/accel.json', format: 'raw', device: 'disk', readonly: true }] }],
    ['a kernel from the logs', { ...typical, boot: { ...typical.boot, kernel: '/var/lib/cps/logs/x' } as DomainSpec['boot'] }],
  ] as [string, DomainSpec][])('rejects %s', (_, spec) => {
    expect(problemOf(() => buildDomainXml(spec, policy)).problemType).toBe('path-not-allowed');
  });

  it.each([
    ['0 vcpus', { vcpus: 0 }],
    ['65 vcpus', { vcpus: 65 }],
    ['fractional memory', { memoryMiB: 100.5 }],
    ['too little memory', { memoryMiB: 16 }],
    ['a bad domain type', { type: 'xen' }],
    ['nine disks', { disks: Array.from({ length: 9 }, () => typical.disks[0]) }],
    ['a bad disk format', { disks: [{ ...typical.disks[0], format: 'vmdk' }] }],
    ['a control char in cmdline', { boot: { ...typical.boot, cmdline: 'a\nb' } }],
    ['a huge cmdline', { boot: { ...typical.boot, cmdline: 'a'.repeat(2049) } }],
    ['an unknown boot kind', { boot: { kind: 'pxe' } }],
    ['a non-hex digest', { specDigest: '"/><x/>' }],
  ])('rejects %s', (_, patch) => {
    const spec = { ...typical, ...patch } as unknown as DomainSpec;
    expect(problemOf(() => buildDomainXml(spec, policy)).problemType).toBe('validation-failed');
  });
});

describe('libvirt round trip (test:///default)', () => {
  let hv: Hypervisor;
  const made: string[] = [];
  beforeAll(async () => {
    hv = await connectLibvirt('test:///default');
  });
  afterAll(async () => {
    for (const n of made) await hv.remove(n).catch(() => undefined);
    await hv.close();
  });

  it('libvirt accepts the XML and keeps a hostile name as the title only', async () => {
    const taskId = `t-${randomBytes(4).toString('hex')}`;
    const name = `</title><devices><disk/></devices> "q' & 🙂`;
    const disks = typical.disks.map((d) => ({ ...d, path: d.path.replace('t-0123abcd', taskId) }));
    const xml = buildDomainXml(
      { ...typical, taskId, disks, displayName: name, serialLog: `/var/lib/cps/logs/${taskId}.serial`, serialSocket: serialSocketPath('/var/lib/cps', taskId) },
      policyFor('/var/lib/cps', taskId),
    );
    made.push(`cps-${taskId}`);
    await hv.create(xml);
    const status = await hv.inspect(`cps-${taskId}`);
    expect(status?.state).toBe('running');
    expect(status?.vcpus).toBe(2);
    expect(status?.maxMemKiB).toBe(256 * 1024);
    const facts = readLiveXml(status!.xml);
    expect(facts.title).toBe(name);
    expect(facts.task).toEqual({ id: taskId, spec: '0123456789abcdef' });
    expect(facts.type).toBe('qemu');
    const d = parser.parse(status!.xml).domain;
    expect(d.devices.disk).toHaveLength(3);
    expect(serialSocketOf(status!.xml)).toEqual({ serialSocket: `/var/lib/cps/serial/${taskId}.sock` });
  });

  it('libvirt accepts the user-mode NIC', async () => {
    const taskId = `t-${randomBytes(4).toString('hex')}`;
    const xml = buildDomainXml(
      { ...typical, taskId, disks: [], network: 'user', serialLog: `/var/lib/cps/logs/${taskId}.serial` },
      policyFor('/var/lib/cps', taskId),
    );
    made.push(`cps-${taskId}`);
    await hv.create(xml);
    const nic = parser.parse((await hv.inspect(`cps-${taskId}`))!.xml).domain.devices.interface;
    expect(nic).toMatchObject({ '@type': 'user', model: { '@type': 'virtio' } });
  });
});
