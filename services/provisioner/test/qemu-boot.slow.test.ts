import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@cps/common';
import { accelReader } from '../src/accel.ts';
import { createApp } from '../src/app.ts';
import { connectLibvirt, type Hypervisor } from '../src/hypervisor.ts';
import { probeMemoryCapMode } from '../src/memoryCap.ts';

// One real boot: the tiny image under QEMU through libvirt, driven only through the API.
const uri = process.env.CPS_LIBVIRT_URI ?? 'qemu:///system';
const dataDir = resolve(process.env.CPS_DATA_DIR ?? '/var/lib/cps');
const image = join(dataDir, 'images', 'tiny');
const taskId = `t-${randomBytes(4).toString('hex')}`;
const domain = `cps-${taskId}`;
const diskDir = join(dataDir, 'disks', taskId);
const virsh = (...args: string[]) => execFileSync('virsh', ['-c', uri, ...args], { encoding: 'utf8', timeout: 30_000 });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let hv: Hypervisor;
let app: ReturnType<typeof createApp>;

beforeAll(async () => {
  if (!existsSync(join(image, 'vmlinuz')) || !existsSync(join(image, 'initrd.img'))) {
    throw new Error(`no tiny image in ${image}: run scripts/build-tiny-image.sh first`);
  }
  hv = await connectLibvirt(uri);
  const log = createLogger('provisioner-slow', 'silent');
  app = createApp({ hypervisor: hv, dataDir, accelerator: accelReader(dataDir, log), memoryCap: probeMemoryCapMode(), log });
  // A real qcow2 disk too, so the test proves libvirt's qemu user can open files under the data dir.
  mkdirSync(diskDir, { recursive: true });
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', join(diskDir, 'root.qcow2'), '64M']);
});

afterAll(async () => {
  await hv?.remove(domain).catch(() => undefined);
  await hv?.close();
  rmSync(diskDir, { recursive: true, force: true });
  rmSync(join(dataDir, 'logs', `${taskId}.serial`), { force: true });
});

describe('a real guest under QEMU', () => {
  it('boots tiny through the API, shows it on loopback VNC, and is gone after DELETE', async () => {
    const meta = JSON.parse(readFileSync(join(image, 'image.json'), 'utf8')) as { cmdline: string };
    const accel = existsSync(join(dataDir, 'accel.json'))
      ? (JSON.parse(readFileSync(join(dataDir, 'accel.json'), 'utf8')) as { accelerator: string }).accelerator
      : 'tcg';

    const put = await app.request(`/vms/${taskId}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'slow test <tiny> & "friends"',
        vcpus: 1,
        memoryMiB: 256,
        disks: [{ path: join(diskDir, 'root.qcow2'), format: 'qcow2', device: 'disk' }],
        boot: { kind: 'kernel', kernel: join(image, 'vmlinuz'), initrd: join(image, 'initrd.img'), cmdline: meta.cmdline },
      }),
    });
    const created = await put.json();
    expect(put.status, JSON.stringify(created)).toBe(201);
    expect(created).toMatchObject({ taskId, domain, state: 'running', vcpus: 1, memoryMiB: 256, accelerator: accel });

    // The guest's first words on ttyS0, read back through the API (virtlogd writes the file as root).
    let serial = '';
    for (let i = 0; i < 180 && !serial.includes('cps-guest: up'); i++) {
      await sleep(500);
      const r = await app.request(`/vms/${taskId}/serial`);
      expect(r.status).toBe(200);
      serial = await r.text();
    }
    expect(serial).toContain('cps-guest: up');

    const vm = await (await app.request(`/vms/${taskId}`)).json();
    expect(vm.name).toBe('slow test <tiny> & "friends"');
    expect(vm.console.vnc.host).toBe('127.0.0.1');
    expect(vm.console.vnc.port).toBeGreaterThanOrEqual(5900);
    // The serial port is a unix socket QEMU listens on (the gateway's terminal dials it).
    expect(vm.console.serialSocket).toMatch(new RegExp(`/serial/${taskId}\\.sock$`));

    // What libvirt really runs: vcpus, memory, VNC on loopback only, at the port the API reports.
    const live = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@' }).parse(virsh('dumpxml', domain)).domain;
    expect(String(live.vcpu['#text'] ?? live.vcpu)).toBe('1');
    expect(live.memory).toMatchObject({ '#text': 262144, '@unit': 'KiB' });
    const graphics = [live.devices.graphics].flat();
    expect(graphics).toHaveLength(1);
    expect(graphics[0]).toMatchObject({ '@type': 'vnc', '@listen': '127.0.0.1', '@port': String(vm.console.vnc.port) });
    expect(live['@type']).toBe(accel === 'kvm' ? 'kvm' : 'qemu');
    // The default network, as QEMU runs it: one virtio NIC on user-mode NAT (slirp), no bridge, and
    // the guest booted with it (tiny configures no network, so nothing leaves the guest here).
    const nics = [live.devices.interface ?? []].flat();
    expect(nics).toHaveLength(1);
    expect(nics[0]).toMatchObject({ '@type': 'user', model: { '@type': 'virtio' } });
    expect(nics[0]).not.toHaveProperty('source');
    expect(virsh('dumpxml', domain)).toContain("<interface type='user'>");
    // The share caps, as libvirt runs them: each vCPU at most one core, the emulator half a core,
    // a light CPU weight, and a memory hard limit of the guest's RAM plus QEMU's own room.
    expect(live.cputune).toMatchObject({ shares: 256, period: 100000, quota: 100000, emulator_period: 100000, emulator_quota: 50000 });
    expect(live.memtune.hard_limit).toMatchObject({ '#text': (256 + 384) * 1024, '@unit': 'KiB' });
    const sched = virsh('schedinfo', domain);
    expect(sched).toMatch(/cpu_shares\s*:\s*256/);
    expect(sched).toMatch(/vcpu_quota\s*:\s*100000/);
    expect(sched).toMatch(/emulator_quota\s*:\s*50000/);
    expect(virsh('memtune', domain)).toMatch(/hard_limit\s*:\s*655360/);

    // Capacity as discovery will read it: this host's arch, the probed accelerator, our guest counted.
    const cap = await (await app.request('/capacity')).json();
    expect(cap).toMatchObject({ arch: 'x86_64', accelerator: accel });
    expect(cap.guests).toBeGreaterThanOrEqual(1);
    expect(cap.free.vcpus).toBeLessThanOrEqual(cap.total.vcpus - 1);

    // The port speaks RFB and asks for the per-task password (security type 2 only), which the API
    // gives the local vnc-gateway and libvirt keeps out of its ordinary XML.
    expect(vm.console.vnc.password).toMatch(/^[A-Za-z0-9]{8}$/);
    expect(virsh('dumpxml', domain)).not.toContain('passwd=');
    expect(virsh('dumpxml', '--security-info', domain)).toContain(`passwd='${vm.console.vnc.password}'`);
    const hello = await new Promise<Buffer>((res, rej) => {
      const s = connect(vm.console.vnc.port, '127.0.0.1');
      let got = Buffer.alloc(0);
      s.on('data', (d) => {
        got = Buffer.concat([got, d]);
        if (got.length === 12) s.write('RFB 003.008\n');
        if (got.length >= 14) {
          res(got);
          s.destroy();
        }
      });
      s.once('error', rej);
    });
    expect(hello.subarray(0, 12).toString('latin1')).toMatch(/^RFB 003\.00\d\n$/);
    expect([...hello.subarray(12, 14)]).toEqual([1, 2]);

    expect((await app.request(`/vms/${taskId}`, { method: 'DELETE' })).status).toBe(204);
    expect(virsh('list', '--all', '--name').split('\n').map((l) => l.trim())).not.toContain(domain);
    expect((await app.request(`/vms/${taskId}`)).status).toBe(404);
    // The log outlives the guest, for a post-mortem.
    expect(await (await app.request(`/vms/${taskId}/serial`)).text()).toContain('cps-guest: up');
    expect((await app.request(`/vms/${taskId}`, { method: 'DELETE' })).status).toBe(204);
  });
});
