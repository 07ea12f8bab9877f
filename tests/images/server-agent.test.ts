import { execFileSync } from 'node:child_process';
import { copyFile, link, mkdir, readdir, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildImage, debian12Server } from '@cps/storage/image-build.ts';
import { StorageLayout } from '@cps/storage/paths.ts';
import { runTool } from '@cps/storage/tool.ts';
import { createProvisioner } from '@cps/provisioner/app.ts';
import { domainNameOf } from '@cps/provisioner/domainXml.ts';
import { GuestAgent, runVirshBounded } from '@cps/provisioner/guestAgent.ts';
import { connectLibvirt, type Hypervisor } from '@cps/provisioner/hypervisor.ts';
import { makeFixture, memoryLogger, taskId, type Fixture } from '../../services/storage/test/fixture.ts';
import { until } from '../helpers/until.ts';

// The guest agent in use (issue 14 item 2): debian-12-server (qemu-guest-agent installed) as a task
// of the real provisioner (its domain XML with the agent channel, its lifecycle) under real libvirt,
// TCG unless the probe chose KVM. The agent answers; the guest's addresses on GET /vms/{taskId} are
// the agent's; a checkpoint freezes and thaws the filesystems and the guest works after the restore;
// a stop goes through the agent and systemd shuts the guest down.
const dataDir = path.resolve(process.env.CPS_DATA_DIR ?? '/var/lib/cps');
const uri = 'qemu:///system';
const virsh = (...args: string[]) => execFileSync('virsh', ['-c', uri, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });

let f: Fixture;
let hv: Hypervisor;
let prov: ReturnType<typeof createProvisioner>;
let agent: GuestAgent;
const { log, lines } = memoryLogger();
const id = taskId();
const domain = domainNameOf(id);
const json = { 'content-type': 'application/json' };
let serialLog = '';
const serial = async () => (serialLog = await (await prov.app.request(`/vms/${id}/serial`)).text());
const agentSays = (cmd: object) => JSON.parse(virsh('qemu-agent-command', '--domain', domain, '--timeout', '10', '--cmd', JSON.stringify(cmd))).return;

beforeAll(async () => {
  const built = await buildImage(debian12Server, { run: runTool, layout: new StorageLayout(dataDir), now: () => new Date(), progress: () => undefined });
  f = await makeFixture();
  const dest = path.join(f.root, 'images', debian12Server.id);
  await mkdir(dest, { recursive: true, mode: 0o755 });
  for (const name of await readdir(built.dir)) {
    await link(path.join(built.dir, name), path.join(dest, name)).catch(() => copyFile(path.join(built.dir, name), path.join(dest, name)));
  }
  hv = await connectLibvirt(uri);
  const accel = existsSync(path.join(dataDir, 'accel.json')) ? JSON.parse(readFileSync(path.join(dataDir, 'accel.json'), 'utf8')).accelerator : 'tcg';
  // A guest that has not answered is asked again at once here (the test waits for its agent to come up).
  agent = new GuestAgent({ uri, run: runVirshBounded, log, now: Date.now, sleep: (ms) => new Promise((r) => setTimeout(r, ms)), timeouts: { silentForgetSec: 0 } });
  prov = createProvisioner({ hypervisor: hv, dataDir: f.root, accelerator: async () => accel, memoryCap: 'off', share: { vcpus: 2, memoryMiB: 2048, diskMiB: 8192 }, log, guestAgent: agent });
}, 20 * 60_000);

afterAll(async () => {
  await hv?.remove(domain).catch(() => undefined);
  await hv?.close();
  await f?.cleanup();
});

describe('debian-12-server with its guest agent', () => {
  it('answers the agent, shows its addresses, checkpoints frozen, and shuts down through the agent', async () => {
    // The domain has the agent's channel, as every guest has.
    const { disks } = await f.store.create(id, { image: debian12Server.id, diskMiB: 2048, cloudInit: { userData: '#cloud-config\n' } });
    const put = await prov.app.request(`/vms/${id}`, { method: 'PUT', headers: json, body: JSON.stringify({ name: 'agent test', vcpus: 1, memoryMiB: 512, disks: disks.disks, boot: disks.boot, network: 'user' }) });
    expect(put.status, await put.clone().text()).toBe(201);
    expect(virsh('dumpxml', domain)).toMatch(/<channel type=["']unix["']>[\s\S]*name=["']org\.qemu\.guest_agent\.0["'][\s\S]*<\/channel>/);

    // Under TCG Debian takes minutes to boot; its agent starts with multi-user.
    await until('the guest agent answers', () => agent.available(domain), (ok) => ok, 280_000, () => serialLog);

    // The addresses are the agent's: slirp's DHCP gives the guest 10.0.2.15.
    const vm = await until(
      'the guest has its DHCP address',
      async () => (await prov.app.request(`/vms/${id}`)).json(),
      (v) => Array.isArray(v.addresses) && v.addresses.some((a: { address: string }) => a.address === '10.0.2.15'),
      120_000,
    );
    expect(vm.addresses.find((a: { address: string }) => a.address === '10.0.2.15')).toMatchObject({ family: 'ipv4', prefix: 24 });
    expect(vm.addresses.some((a: { address: string }) => a.address.startsWith('127.') || a.address === '::1')).toBe(false);

    // A checkpoint in passing freezes the filesystems around the save and thaws them after the restore.
    const freeze = vi.spyOn(agent, 'freeze');
    const cp = await prov.app.request(`/vms/${id}/checkpoint`, { method: 'POST', headers: json, body: JSON.stringify({ leaveRunning: true }) });
    expect(cp.status, await cp.clone().text()).toBe(200);
    expect(await freeze.mock.results[0]!.value).toBeGreaterThan(0);
    expect(lines().find((l) => l.msg === 'guest checkpointed')).toMatchObject({ leaveRunning: true, frozen: expect.any(Number) });
    expect(agentSays({ execute: 'guest-fsfreeze-status' })).toBe('thawed');
    // The guest works after the restore: it writes to its disk and its console.
    const started = agentSays({ execute: 'guest-exec', arguments: { path: '/bin/sh', arg: ['-c', 'echo cps-after-restore: ok > /dev/ttyS0; echo x > /root/after-restore; sync'] } });
    expect(started.pid).toBeGreaterThan(0);
    await until('the guest writes after the restore', serial, (t) => t.includes('cps-after-restore: ok'), 60_000);

    // The stop goes through the agent: systemd shuts down (on the serial console), then the guest is gone.
    const shutdown = await prov.app.request(`/vms/${id}/shutdown`, { method: 'POST' });
    expect(shutdown.status).toBe(202);
    // What the agent said, on failure (its refusals are warnings; the pings while it booted are debug lines).
    const agentLines = () => JSON.stringify(lines().filter((l) => String(l.msg).includes('agent') && Number(l.level) >= 30));
    expect(lines().find((l) => l.msg === 'guest asked to power off'), agentLines()).toMatchObject({ via: 'agent' });
    await until('the guest powers off', async () => (await prov.app.request(`/vms/${id}`)).status, (s) => s === 404, 180_000);
    const text = await serial();
    expect(text).toMatch(/reboot: Power down/);
    expect(text).toMatch(/System Power Off|Powering off|Stopped target|Stopping/);
  }, 15 * 60_000);
});
