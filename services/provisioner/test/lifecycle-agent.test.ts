import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, ProblemError } from '@cps/common';
import { createApp } from '../src/app.ts';
import { GuestAgent, type AgentRunner } from '../src/guestAgent.ts';
import { connectLibvirt, type Hypervisor } from '../src/hypervisor.ts';

// The lifecycle with a guest agent, against libvirt's test:///default driver and a fake virsh for
// the agent: what is asked of the agent and of libvirt, and in which order, is what is checked.
let hv: Hypervisor;
const dataDir = mkdtempSync(join(tmpdir(), 'cps-prov-agent-'));
const log = createLogger('provisioner-agent-test', 'silent');
const made = new Set<string>();
const spec = {
  name: 'agent',
  vcpus: 1,
  memoryMiB: 256,
  disks: [],
  boot: { kind: 'kernel', kernel: join(dataDir, 'images/tiny/vmlinuz'), initrd: join(dataDir, 'images/tiny/initrd.img') },
};
const json = { 'content-type': 'application/json' };

type Answers = Record<string, string | Error | (() => Promise<string>)>;

/** An app whose agent answers by `answers` and whose libvirt save can be made to fail; `steps` records both. */
function setup(answers: Answers, o: { saveFails?: boolean; sleep?: (ms: number) => Promise<void> } = {}) {
  const steps: string[] = [];
  const run: AgentRunner = async (args) => {
    const key = args.includes('shutdown') ? 'shutdown' : (JSON.parse(args[args.indexOf('--cmd') + 1]!) as { execute: string }).execute;
    steps.push(`agent:${key}`);
    const a = answers[key] ?? new Error('error: Guest agent is not responding: QEMU guest agent is not connected');
    if (a instanceof Error) throw a;
    return typeof a === 'function' ? a() : a;
  };
  const wrapped: Hypervisor = Object.assign(Object.create(hv) as Hypervisor, {
    shutdown: async (name: string) => {
      steps.push('libvirt:acpi');
      return hv.shutdown(name);
    },
    save: async (name: string, file: string) => {
      steps.push('libvirt:save');
      if (o.saveFails) throw new ProblemError('hypervisor-error', 'save: no space left on device');
      return hv.save(name, file);
    },
    restore: async (file: string, xml: string) => {
      steps.push('libvirt:restore');
      return hv.restore(file, xml);
    },
  });
  // Time passes only where a test lets it (the agent's wait for a shutdown's refusal).
  const agent = new GuestAgent({ uri: 'qemu:///system', run, log, now: () => 0, sleep: o.sleep ?? (() => new Promise(() => undefined)) });
  const app = createApp({ hypervisor: wrapped, dataDir, accelerator: async () => 'tcg', share: { vcpus: 4, memoryMiB: 2048, diskMiB: 100 }, log, guestAgent: agent });
  const id = `t-${randomBytes(4).toString('hex')}`;
  made.add(id);
  const post = (op: string, body?: unknown) => app.request(`/vms/${id}/${op}`, { method: 'POST', headers: json, body: JSON.stringify(body ?? {}) });
  const start = async () => {
    expect((await app.request(`/vms/${id}`, { method: 'PUT', headers: json, body: JSON.stringify(spec) })).status).toBe(201);
  };
  return { app, id, post, start, steps };
}

const PONG = '{"return":{}}';

beforeAll(async () => {
  hv = await connectLibvirt('test:///default');
});
afterEach(async () => {
  for (const id of made) await hv.remove(`cps-${id}`);
  made.clear();
});
afterAll(async () => {
  await hv.close();
});

describe('a guest with an agent', () => {
  it('is shut down through its agent, not the power button', async () => {
    const { post, start, steps } = setup({ 'guest-ping': PONG, shutdown: 'Domain is being shutdown' });
    await start();
    expect((await post('shutdown')).status).toBe(202);
    expect(steps).toEqual(['agent:guest-ping', 'agent:shutdown']);
  });

  it('falls back to ACPI when the agent does not take the shutdown, or there is none', async () => {
    const refused = setup({ 'guest-ping': PONG, shutdown: new Error('error: Guest agent is not responding') });
    await refused.start();
    expect((await refused.post('shutdown')).status).toBe(202);
    expect(refused.steps).toEqual(['agent:guest-ping', 'agent:shutdown', 'agent:guest-exec', 'libvirt:acpi']);

    const none = setup({});
    await none.start();
    expect((await none.post('shutdown')).status).toBe(202);
    expect(none.steps).toEqual(['agent:guest-ping', 'libvirt:acpi']);
  });

  it('does not ask the agent of a paused guest (its vCPUs could not answer)', async () => {
    const { post, start, steps } = setup({ 'guest-ping': PONG, shutdown: 'ok' });
    await start();
    expect((await post('suspend')).status).toBe(200);
    expect((await post('shutdown')).status).toBe(202);
    expect(steps).toEqual(['libvirt:acpi']);
  });

  it('freezes the filesystems before the save and thaws after it (and after the restore)', async () => {
    const { post, start, steps } = setup({ 'guest-ping': PONG, 'guest-fsfreeze-freeze': '{"return":1}', 'guest-fsfreeze-thaw': '{"return":1}' });
    await start();
    const r = await post('checkpoint', { leaveRunning: true });
    expect(r.status).toBe(200);
    expect(steps).toEqual(['agent:guest-ping', 'agent:guest-fsfreeze-freeze', 'libvirt:save', 'agent:guest-fsfreeze-thaw', 'libvirt:restore', 'agent:guest-fsfreeze-thaw']);
  });

  it('thaws even when the save fails, and the guest runs on', async () => {
    const { app, id, post, start, steps } = setup({ 'guest-ping': PONG, 'guest-fsfreeze-freeze': '{"return":1}', 'guest-fsfreeze-thaw': '{"return":1}' }, { saveFails: true });
    await start();
    const r = await post('checkpoint');
    expect(r.status).toBe(502);
    expect(steps).toEqual(['agent:guest-ping', 'agent:guest-fsfreeze-freeze', 'libvirt:save', 'agent:guest-fsfreeze-thaw']);
    expect((await (await app.request(`/vms/${id}`)).json()).state).toBe('running');
  });

  it('checkpoints as before where the freeze fails or the agent answers garbage: no thaw of what was not frozen', async () => {
    const failing = setup({ 'guest-ping': PONG, 'guest-fsfreeze-freeze': new Error('error: internal error: unable to execute QEMU agent command'), 'guest-fsfreeze-thaw': '{"return":0}' });
    await failing.start();
    expect((await failing.post('checkpoint')).status).toBe(200);
    expect(failing.steps).toEqual(['agent:guest-ping', 'agent:guest-fsfreeze-freeze', 'libvirt:save']);

    const garbage = setup({ 'guest-ping': '\u0000\u0001 not json', 'guest-fsfreeze-freeze': '{"return":1}' });
    await garbage.start();
    expect((await garbage.post('checkpoint')).status).toBe(200);
    expect(garbage.steps).toEqual(['agent:guest-ping', 'libvirt:save']);
  });

  it('shows the addresses the agent gives on GET /vms/{taskId}, and none when it answers garbage', async () => {
    const good = setup({
      'guest-ping': PONG,
      'guest-network-get-interfaces': JSON.stringify({ return: [{ name: 'lo', 'ip-addresses': [{ 'ip-address-type': 'ipv4', 'ip-address': '127.0.0.1', prefix: 8 }] }, { name: 'enp1s0', 'ip-addresses': [{ 'ip-address-type': 'ipv4', 'ip-address': '10.0.2.15', prefix: 24 }] }] }),
    });
    await good.start();
    const vm = await (await good.app.request(`/vms/${good.id}`)).json();
    expect(vm.addresses).toEqual([{ interface: 'enp1s0', family: 'ipv4', address: '10.0.2.15', prefix: 24 }]);

    const bad = setup({ 'guest-ping': PONG, 'guest-network-get-interfaces': '{"return":[{"name":"e0","ip-addresses":[{"ip-address-type":"ipv9"}]}]}' });
    await bad.start();
    const r = await bad.app.request(`/vms/${bad.id}`);
    expect(r.status).toBe(200);
    expect((await r.json()).addresses).toBeUndefined();
  });

  it('a shutdown is not held up while libvirt waits for the guest to power off: not refused in time is taken', async () => {
    const { post, start, steps } = setup({ 'guest-ping': PONG, shutdown: () => new Promise(() => undefined) }, { sleep: () => Promise.resolve() });
    await start();
    expect((await post('shutdown')).status).toBe(202);
    expect(steps).toEqual(['agent:guest-ping', 'agent:shutdown']);
  });

  it('a ping that never answers ends with its runner\'s timeout, and ACPI follows', async () => {
    // The fake runner rejects as the real one does when its timeout kills virsh.
    const { post, start, steps } = setup({ 'guest-ping': () => Promise.reject(new Error('Command failed: virsh (killed: SIGKILL)')) });
    await start();
    expect((await post('shutdown')).status).toBe(202);
    expect(steps).toEqual(['agent:guest-ping', 'libvirt:acpi']);
  });
});
