import { describe, expect, it } from 'vitest';
import { doctor, formatResult } from '../src/commands/doctor.ts';
import { checkAccel, checkTinyImage } from '../src/doctor/guest.ts';
import { checkDisk, checkNode, checkPorts, checkQemuImg } from '../src/doctor/host.ts';
import { runChecks } from '../src/doctor/index.ts';
import { checkLibvirtBinding, checkVirsh, checkVirtlogd } from '../src/doctor/libvirt.ts';
import { checkMulticast, hasMulticastRoute, interfaceOf, linkFlags } from '../src/doctor/network.ts';
import type { DoctorDeps, PortUse, RunResult } from '../src/doctor/types.ts';
import { memoryIo } from '../src/io.ts';

const ok = (stdout = ''): RunResult => ({ code: 0, stdout, stderr: '' });
const GiB = 1024 ** 3;

const ipAddr = `1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever
4: eth0    inet 192.0.2.2/24 brd 192.0.2.255 scope global eth0\\       valid_lft forever
5: veth0@if6    inet 10.9.0.2/24 scope global veth0\\ valid_lft forever`;

// A member's identity in the fake data dir: a healthy node has one.
const identity = await (async () => {
  const { createCa, createCsr, issueNodeCertificate } = await import('@cps/trust');
  const ca = await createCa({ now: new Date() });
  const { csrPem, keyPem } = await createCsr('ws-0');
  return { '/d/tls/ca.pem': ca.certPem, '/d/tls/node.pem': await issueNodeCertificate({ ca, csrPem, nodeId: 'ws-0', addresses: [], now: new Date() }), '/d/tls/node.key': keyPem };
})();

/** A healthy machine; each test breaks one thing. */
function fakeMachine(over: Partial<DoctorDeps> & { commands?: Record<string, RunResult>; files?: Record<string, string> } = {}): DoctorDeps & { ran: string[] } {
  const files: Record<string, string> = {
    '/d/images/tiny/image.json': JSON.stringify({ id: 'tiny', name: 'tiny', kind: 'kernel' }),
    '/d/images/tiny/vmlinuz': 'k',
    '/d/images/tiny/initrd.img': 'i',
    '/d/accel.json': JSON.stringify({ accelerator: 'kvm', probedAt: '2026-11-25T10:00:00Z', detail: '' }),
    '/run/libvirt/virtlogd-sock': '',
    ...identity,
    ...over.files,
  };
  const commands: Record<string, RunResult> = {
    'virsh -c qemu:///system version': ok('Compiled against library: libvirt 9.0.0\nRunning hypervisor: QEMU 7.2.0\n'),
    'qemu-img --version': ok('qemu-img version 7.2.0\nCopyright'),
    'ip -o addr show': ok(ipAddr),
    'ip -o link show dev lo': ok('1: lo: <LOOPBACK,MULTICAST,UP,LOWER_UP> mtu 65536'),
    'ip route show table all': ok('default via 192.0.2.1 dev eth0\n224.0.0.0/4 dev lo scope link\n'),
    'pgrep -x virtlogd': { code: 1, stdout: '', stderr: '' },
    ...over.commands,
  };
  const ran: string[] = [];
  return {
    ran,
    run: async (cmd, args) => {
      const key = [cmd, ...args].join(' ');
      ran.push(key);
      return commands[key] ?? { code: null, stdout: '', stderr: '', error: `${cmd}: not found` };
    },
    readFile: async (p) => {
      if (p in files) return files[p]!;
      throw Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT' });
    },
    exists: async (p) => p in files,
    freeBytes: async () => 50 * GiB,
    probePort: async () => ({ state: 'free' }),
    libvirtBinding: async () => 'host has 2 CPUs',
    nodeVersion: 'v20.19.1',
    now: () => Date.UTC(2026, 0, 1),
    dataDir: '/d',
    env: {},
    ...over,
  };
}

describe('a healthy machine', () => {
  it('passes every check and doctor exits 0', async () => {
    const results = await runChecks(fakeMachine());
    expect(results.filter((r) => r.status !== 'ok')).toEqual([]);
    expect(results.map((r) => r.name)).toEqual(['node', 'libvirt', 'libvirt-node', 'virtlogd', 'qemu-img', 'tiny image', 'kvm', 'multicast', 'cluster identity', 'head DNS', 'disk', 'ports']);
    const io = memoryIo();
    expect(await doctor([], io, fakeMachine())).toBe(0);
    expect(io.stdout).toHaveLength(12);
    expect(io.stdout[1]).toMatch(/^ok {4}libvirt +qemu:\/\/\/system answers \(QEMU 7\.2\.0\)$/);
  });
});

describe('each check', () => {
  it('node: 20.19+ ok, 18 warn, 16 FAIL', async () => {
    expect((await checkNode(fakeMachine({ nodeVersion: 'v22.1.0' }))).status).toBe('ok');
    expect((await checkNode(fakeMachine({ nodeVersion: 'v20.11.0' }))).status).toBe('warn');
    expect((await checkNode(fakeMachine({ nodeVersion: 'v18.19.0' }))).status).toBe('warn');
    expect((await checkNode(fakeMachine({ nodeVersion: 'v16.0.0' }))).status).toBe('FAIL');
    expect((await checkNode(fakeMachine({ nodeVersion: 'garbage' }))).status).toBe('FAIL');
  });

  it('libvirt: a hang is reported, with how to start the daemon', async () => {
    const r = await checkVirsh(fakeMachine({ commands: { 'virsh -c qemu:///system version': { code: null, stdout: '', stderr: '', timedOut: true } } }));
    expect(r).toMatchObject({ status: 'FAIL', detail: expect.stringContaining('no answer within 10 s'), hint: expect.stringContaining('libvirtd -d') });
  });

  it('libvirt: an error names the first line of stderr; the URI comes from CPS_LIBVIRT_URI', async () => {
    const m = fakeMachine({ env: { CPS_LIBVIRT_URI: 'test:///default' }, commands: { 'virsh -c test:///default version': { code: 1, stdout: '', stderr: 'error: failed to connect\nmore' } } });
    expect((await checkVirsh(m)).detail).toBe('test:///default does not answer: exit code 1: error: failed to connect');
  });

  it('libvirt: missing virsh says what to install', async () => {
    const r = await checkVirsh(fakeMachine({ commands: { 'virsh -c qemu:///system version': { code: null, stdout: '', stderr: '', error: 'virsh: not found' } } }));
    expect(r.hint).toMatch(/apt-get install libvirt-clients/);
  });

  it('libvirt binding: a rejection or a hang is a FAIL, never a hang of doctor', async () => {
    const r = await checkLibvirtBinding(fakeMachine({ libvirtBinding: async () => Promise.reject(new Error('Failed to connect socket\nsecond')) }));
    expect(r).toMatchObject({ status: 'FAIL', detail: expect.stringMatching(/Failed to connect socket$/) });
  });

  it('virtlogd: socket, else process, else FAIL', async () => {
    expect((await checkVirtlogd(fakeMachine())).status).toBe('ok');
    const bare = fakeMachine({ exists: async () => false });
    expect(await checkVirtlogd(bare)).toMatchObject({ status: 'FAIL', hint: 'virtlogd -d' });
    const proc = fakeMachine({ exists: async () => false, commands: { 'pgrep -x virtlogd': ok('123\n') } });
    expect(await checkVirtlogd(proc)).toMatchObject({ status: 'ok', detail: 'virtlogd running (pid 123)' });
  });

  it('qemu-img: missing is a FAIL naming the package', async () => {
    const r = await checkQemuImg(fakeMachine({ commands: { 'qemu-img --version': { code: null, stdout: '', stderr: '', error: 'qemu-img: not found' } } }));
    expect(r).toMatchObject({ status: 'FAIL', hint: 'apt-get install qemu-utils' });
  });

  it.each([
    ['missing', {}, /image\.json missing/],
    ['not JSON', { '/d/images/tiny/image.json': '{oops' }, /not valid JSON/],
    ['JSON null', { '/d/images/tiny/image.json': 'null' }, /does not describe the tiny image/],
    ['another image', { '/d/images/tiny/image.json': '{"id":"big"}' }, /does not describe the tiny image/],
  ])('tiny image: %s is a FAIL pointing at the build script', async (_, files, detail) => {
    const m = fakeMachine({ files: files as Record<string, string> });
    if (!('/d/images/tiny/image.json' in files)) {
      const read = m.readFile;
      m.readFile = (p) => (p.endsWith('image.json') ? Promise.reject(Object.assign(new Error('x'), { code: 'ENOENT' })) : read(p));
    }
    expect(await checkTinyImage(m)).toMatchObject({ status: 'FAIL', detail: expect.stringMatching(detail), hint: expect.stringContaining('build-tiny-image.sh') });
  });

  it('tiny image: a missing kernel is named', async () => {
    const m = fakeMachine({ exists: async (p) => !p.endsWith('vmlinuz') });
    expect((await checkTinyImage(m)).detail).toBe('/d/images/tiny lacks vmlinuz');
  });

  it('kvm: says how guests run, from the probe result', async () => {
    expect(await checkAccel(fakeMachine())).toMatchObject({ status: 'ok', detail: expect.stringMatching(/^guests boot under KVM/) });
    const tcg = (devKvm: boolean) =>
      fakeMachine({
        files: { '/d/accel.json': JSON.stringify({ accelerator: 'tcg', probedAt: 'p', detail: 'x' }) },
        exists: async (p) => (p === '/dev/kvm' ? devKvm : true),
      });
    expect((await checkAccel(tcg(false))).detail).toMatch(/^guests run under TCG \(software emulation\): \/dev\/kvm absent/);
    expect((await checkAccel(tcg(true))).detail).toMatch(/^guests run under TCG \(software emulation\): \/dev\/kvm present but a probe guest hung/);
    expect((await checkAccel(tcg(true))).status).toBe('warn');
  });

  it.each([
    ['{"accelerator":"xen"}', /names no known accelerator/],
    ['[]', /names no known accelerator/],
    ['null', /names no known accelerator/],
    ['garbage', /not probed yet/],
  ])('kvm: odd accel.json %s is a warning, not a crash', async (content, detail) => {
    expect(await checkAccel(fakeMachine({ files: { '/d/accel.json': content } }))).toMatchObject({ status: 'warn', detail: expect.stringMatching(detail) });
  });

  it('multicast: a missing flag and route are a warning with the commands to fix them', async () => {
    const m = fakeMachine({ commands: { 'ip -o link show dev lo': ok('1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536'), 'ip route show table all': ok('default via 192.0.2.1 dev eth0') } });
    expect(await checkMulticast(m)).toMatchObject({
      status: 'warn',
      detail: expect.stringContaining('lacks the MULTICAST flag and a 224.0.0.0/4 route'),
      hint: 'ip link set lo multicast on && ip route add 224.0.0.0/4 dev lo',
    });
  });

  it('multicast: follows CPS_PEP_INTERFACE to its device; an unknown address is a FAIL', async () => {
    const m = fakeMachine({ env: { CPS_PEP_INTERFACE: '10.9.0.2' }, commands: { 'ip -o link show dev veth0': ok('5: veth0@if6: <BROADCAST,MULTICAST,UP> mtu 1500'), 'ip route show table all': ok('224.0.0.0/4 dev veth0 scope link') } });
    expect((await checkMulticast(m)).status).toBe('ok');
    expect(m.ran).toContain('ip -o link show dev veth0');
    expect(await checkMulticast(fakeMachine({ env: { CPS_PEP_INTERFACE: '10.1.1.1' } }))).toMatchObject({ status: 'FAIL' });
  });

  it('multicast parsers tolerate junk', () => {
    expect(interfaceOf('', '127.0.0.1')).toBeUndefined();
    expect(interfaceOf('garbage\n\n1:', '127.0.0.1')).toBeUndefined();
    expect(interfaceOf(ipAddr, '127.0.0.10')).toBeUndefined();
    expect(linkFlags('no brackets')).toEqual([]);
    expect(linkFlags('1: lo: <> mtu')).toEqual([]);
    expect(hasMulticastRoute('224.0.0.0/4 dev lo2 scope link', 'lo')).toBe(false);
    expect(hasMulticastRoute('multicast 224.0.0.0/4 dev lo table local', 'lo')).toBe(true);
    expect(hasMulticastRoute('224.0.0.0/40 dev lo', 'lo')).toBe(false);
  });

  it('disk: warn under 5 GiB, FAIL under 0.5 GiB, FAIL when unknowable', async () => {
    expect((await checkDisk(fakeMachine({ freeBytes: async () => 4 * GiB }))).status).toBe('warn');
    expect((await checkDisk(fakeMachine({ freeBytes: async () => 0.1 * GiB }))).status).toBe('FAIL');
    expect((await checkDisk(fakeMachine({ freeBytes: async () => Promise.reject(new Error('EACCES')) }))).status).toBe('FAIL');
  });

  it('ports: free or CPS is fine; a stranger or the wrong CPS service is a FAIL', async () => {
    const uses = (m: Record<number, PortUse>) => fakeMachine({ probePort: async (p) => m[p] ?? { state: 'free' } });
    expect(await checkPorts(uses({}))).toMatchObject({ status: 'ok', detail: '8080, 8081, 8082, 8083, 8084 free' });
    expect((await checkPorts(uses({ 8080: { state: 'cps', service: 'coordinator' } }))).detail).toMatch(/free, except 8080 \(coordinator running\)/);
    expect(await checkPorts(uses({ 8082: { state: 'other', detail: 'not HTTP' } }))).toMatchObject({ status: 'FAIL', detail: expect.stringContaining('8082 (provisioner) is used by something else') });
    expect((await checkPorts(uses({ 8081: { state: 'cps', service: 'storage' } }))).status).toBe('FAIL');
  });

  it('ports: follow CPS_*_PORT', async () => {
    const seen: number[] = [];
    await checkPorts(fakeMachine({ env: { CPS_COORDINATOR_PORT: '18500' }, probePort: async (p) => (seen.push(p), { state: 'free' }) }));
    expect(seen).toEqual([18500, 8081, 8082, 8083, 8084]);
  });
});

describe('doctor command', () => {
  it('exits 1 on any FAIL and prints the hint under the line', async () => {
    const io = memoryIo();
    const m = fakeMachine({ commands: { 'qemu-img --version': { code: null, stdout: '', stderr: '', error: 'qemu-img: not found' } } });
    expect(await doctor([], io, m)).toBe(1);
    const line = io.stdout.find((l) => l.startsWith('FAIL'))!;
    expect(line).toMatch(/^FAIL  qemu-img +qemu-img does not run: qemu-img: not found\n +→ apt-get install qemu-utils$/);
  });

  it('a check that throws becomes a FAIL line', async () => {
    const r = await runChecks(fakeMachine(), [async () => { throw new Error('bug'); }]);
    expect(r[0]).toMatchObject({ status: 'FAIL', detail: 'the check itself failed: bug' });
  });

  it('--reprobe runs the probe script before the checks; --json prints the results', async () => {
    const m = fakeMachine();
    const io = memoryIo();
    expect(await doctor(['--reprobe', '--json'], io, m)).toBe(0);
    expect(m.ran[0]).toMatch(/^bash .*scripts\/probe-accel\.sh$/);
    expect(JSON.parse(io.stdout.join(''))).toHaveLength(12);
  });

  it('formats ok lines without a hint', () => {
    expect(formatResult({ name: 'x', status: 'ok', detail: 'fine', hint: 'never shown' })).toBe('ok    x            fine');
  });
});

describe('the cluster identity check', () => {
  it('says none yet, ok with the node and cluster, and FAIL for files of two clusters or a wrong CPS_NODE_ID', async () => {
    const { checkIdentity } = await import('../src/doctor/identity.ts');
    const { createCa, createCsr, issueNodeCertificate } = await import('@cps/trust');
    expect((await checkIdentity(fakeMachine({ exists: async () => false }))).status).toBe('warn');
    const ca = await createCa({ now: new Date() });
    const other = await createCa({ now: new Date() });
    const { csrPem, keyPem } = await createCsr('ws-1');
    const cert = await issueNodeCertificate({ ca, csrPem, nodeId: 'ws-1', addresses: [], now: new Date() });
    const files = { '/d/tls/ca.pem': ca.certPem, '/d/tls/node.pem': cert, '/d/tls/node.key': keyPem };
    const ok = await checkIdentity(fakeMachine({ files }));
    expect(ok).toMatchObject({ status: 'ok' });
    expect(ok.detail).toMatch(/^node ws-1 of cluster [0-9a-f]{16}…, certificate valid until \d{4}-/);
    expect((await checkIdentity(fakeMachine({ files: { ...files, '/d/tls/ca.pem': other.certPem } }))).status).toBe('FAIL');
    const named = await checkIdentity({ ...fakeMachine({ files }), env: { CPS_NODE_ID: 'ws-2' } });
    expect(named).toMatchObject({ status: 'FAIL' });
    expect(named.detail).toMatch(/CPS_NODE_ID is ws-2/);
  });
});
