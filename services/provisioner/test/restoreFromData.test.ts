import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@cps/common';
import { createApp } from '../src/app.ts';
import { connectLibvirt, LibvirtHypervisor, type Hypervisor, type LibvirtConn } from '../src/hypervisor.ts';
import { taskUuid } from '../src/taskUuid.ts';

// A checkpoint is data, not instructions: restore rebuilds the domain XML from the task's spec with
// this peer's paths. libvirt's test driver restores an image as saved (it takes no XML), so what
// these tests read is the XML the provisioner hands to Hypervisor.restore, recorded on the way.
let hv: Hypervisor;
const restoredWith: string[] = [];
const peerA = mkdtempSync(join(tmpdir(), 'cps-restore-a-'));
const peerB = mkdtempSync(join(tmpdir(), 'cps-restore-b-'));
let appA: ReturnType<typeof createApp>;
let appB: ReturnType<typeof createApp>;
const made = new Set<string>();
const newTask = () => {
  const id = `t-${randomBytes(4).toString('hex')}`;
  made.add(id);
  return id;
};
const specOn = (dataDir: string, over: Record<string, unknown> = {}) => ({
  name: 'from data',
  vcpus: 1,
  memoryMiB: 256,
  disks: [],
  boot: { kind: 'kernel', kernel: join(dataDir, 'images/tiny/vmlinuz'), initrd: join(dataDir, 'images/tiny/initrd.img'), cmdline: 'console=ttyS0' },
  ...over,
});
const json = { 'content-type': 'application/json' };
const put = (app: typeof appA, id: string, spec: unknown) => app.request(`/vms/${id}`, { method: 'PUT', headers: json, body: JSON.stringify(spec) });
const post = (app: typeof appA, id: string, op: string, body?: unknown) =>
  app.request(`/vms/${id}/${op}`, { method: 'POST', ...(body === undefined ? {} : { headers: json, body: JSON.stringify(body) }) });

beforeAll(async () => {
  const real = await connectLibvirt('test:///default');
  hv = Object.create(real, {
    restore: { value: async (file: string, xml: string) => (restoredWith.push(xml), real.restore(file, xml)) },
  }) as Hypervisor;
  const deps = { hypervisor: hv, accelerator: async () => 'tcg' as const, share: { vcpus: 4, memoryMiB: 2048, diskMiB: 100 }, log: createLogger('t', 'silent') };
  appA = createApp({ ...deps, dataDir: peerA });
  appB = createApp({ ...deps, dataDir: peerB });
});

afterEach(async () => {
  for (const id of made) await hv.remove(`cps-${id}`);
  made.clear();
  restoredWith.length = 0;
});

afterAll(async () => {
  await hv.close();
});

async function checkpointOnA(id: string, spec = specOn(peerA)): Promise<string> {
  expect((await put(appA, id, spec)).status).toBe(201);
  const password = (await (await appA.request(`/vms/${id}`)).json()).console.vnc.password as string;
  const cp = await post(appA, id, 'checkpoint');
  expect(cp.status, await cp.clone().text()).toBe(200);
  return password;
}

describe('restore from data (test:///default)', () => {
  it('restores under XML rebuilt from the kept spec: our UUID, our paths, the same VNC password; the API shows neither spec nor password', async () => {
    const id = newTask();
    const password = await checkpointOnA(id);
    const shown = await (await appA.request(`/vms/${id}/checkpoint`)).json();
    expect(Object.keys(shown).sort()).toEqual(['createdAt', 'memoryMiB', 'path', 'running', 'sizeBytes', 'taskId', 'vcpus']);
    const kept = JSON.parse(readFileSync(join(peerA, 'checkpoints', id, 'checkpoint.json'), 'utf8'));
    expect(JSON.parse(kept.specJson)).toMatchObject({ name: 'from data', memoryMiB: 256, network: 'user' });

    const r = await post(appA, id, 'restore');
    expect(r.status, await r.clone().text()).toBe(201);
    expect(restoredWith).toHaveLength(1);
    const xml = restoredWith[0]!;
    expect(xml).toContain(`<name>cps-${id}</name>`);
    expect(xml).toContain(`<uuid>${taskUuid(id)}</uuid>`);
    expect(xml).toContain(`passwd="${password}"`);
    expect(xml).toContain(`<log file="${join(peerA, 'logs', `${id}.serial`)}" append="on"/>`);
    // The same PUT again is the same guest: the rebuilt XML carries the same spec digest.
    expect((await put(appA, id, specOn(peerA))).status).toBe(200);
  });

  it('restores a checkpoint copied to another peer with the spec the request carries, naming only that peer\'s paths', async () => {
    const id = newTask();
    await checkpointOnA(id);
    cpSync(join(peerA, 'checkpoints', id), join(peerB, 'checkpoints', id), { recursive: true });
    // The kept spec names peer A's files: held to B's policy, it is refused, not followed.
    const bare = await post(appB, id, 'restore');
    expect(bare.status).toBe(400);
    expect((await bare.json()).type).toMatch(/path-not-allowed|validation-failed/);
    expect(restoredWith).toHaveLength(0);

    const r = await post(appB, id, 'restore', { spec: specOn(peerB) });
    expect(r.status, await r.clone().text()).toBe(201);
    const xml = restoredWith[0]!;
    expect(xml).toContain(join(peerB, 'images/tiny/vmlinuz'));
    expect(xml).toContain(join(peerB, 'logs', `${id}.serial`));
    expect(xml).toContain(join(peerB, 'serial', `${id}.sock`));
    expect(xml).not.toContain(peerA);
    expect(existsSync(join(peerB, 'logs'))).toBe(true);
  });

  it.each([
    ['more memory', { memoryMiB: 512 }],
    ['another boot command line', { boot: { kind: 'kernel', kernel: '', initrd: '', cmdline: 'init=/bin/sh' } }],
    ['no network', { network: 'none' }],
  ])('refuses a request spec of another machine (%s) than the checkpoint was taken of (422 checkpoint-rejected)', async (_, over) => {
    const id = newTask();
    await checkpointOnA(id);
    const spec = specOn(peerA, over);
    if ((spec.boot as { kernel: string }).kernel === '') spec.boot = { ...specOn(peerA).boot, cmdline: 'init=/bin/sh' };
    const r = await post(appA, id, 'restore', { spec });
    expect(r.status).toBe(422);
    expect((await r.json()).type).toMatch(/checkpoint-rejected$/);
    expect(restoredWith).toHaveLength(0);
    expect((await appA.request(`/vms/${id}`)).status).toBe(404);
  });

  it('refuses a save image that holds another domain, even under a checkpoint.json of this task', async () => {
    const other = newTask();
    await checkpointOnA(other);
    const id = newTask();
    await checkpointOnA(id);
    // Task id's checkpoint.json, but other's memory: its header names cps-<other> and other's UUID.
    cpSync(join(peerA, 'checkpoints', other, 'state.sav'), join(peerA, 'checkpoints', id, 'state.sav'));
    const r = await post(appA, id, 'restore');
    expect(r.status).toBe(422);
    const p = await r.json();
    expect(p.type).toMatch(/checkpoint-rejected$/);
    expect(p.detail).toContain(`cps-${other}`);
    expect(restoredWith).toHaveLength(0);
    expect(await hv.listNames()).not.toContain(`cps-${other}`);
    expect(await hv.listNames()).not.toContain(`cps-${id}`);
  });

  it('rebuilds the guest agent\'s channel only where the saved domain has it (checkpoints saved before guests had one)', async () => {
    const id = newTask();
    await checkpointOnA(id);
    expect((await post(appA, id, 'restore')).status).toBe(201);
    expect(restoredWith[0]).toContain('name="org.qemu.guest_agent.0"');
    await hv.remove(`cps-${id}`);
    // The test driver's image: its magic, the XML's length, the XML. Saved as an older guest was, without the channel.
    const file = join(peerA, 'checkpoints', id, 'state.sav');
    const bytes = readFileSync(file);
    const magic = 'TestGuestMagic\0'.length;
    const saved = bytes.subarray(magic + 4, magic + 4 + bytes.readUInt32LE(magic)).toString('utf8');
    const older = Buffer.from(saved.replace(/\s*<channel type=['"]unix['"]>[\s\S]*?<\/channel>/, ''));
    expect(older.toString()).not.toContain('guest_agent');
    const len = Buffer.alloc(4);
    len.writeUInt32LE(older.length);
    writeFileSync(file, Buffer.concat([bytes.subarray(0, magic), len, older]));
    const r = await post(appA, id, 'restore');
    expect(r.status, await r.clone().text()).toBe(201);
    expect(restoredWith[1]).not.toContain('<channel');
  });

  it.each([
    ['not a save image', Buffer.from('just some bytes, no header')],
    ['an empty file', Buffer.alloc(0)],
  ])('refuses a state file that is %s (422)', async (_, bytes) => {
    const id = newTask();
    await checkpointOnA(id);
    writeFileSync(join(peerA, 'checkpoints', id, 'state.sav'), bytes);
    const r = await post(appA, id, 'restore');
    expect(r.status).toBe(422);
    expect(restoredWith).toHaveLength(0);
  });

  it.each([
    ['not JSON', '{"name":'],
    ['a spec the contract refuses', JSON.stringify({ ...specOn(peerA), vcpus: 0 })],
    ['a spec with a field the contract does not know', JSON.stringify({ ...specOn(peerA), xml: '<domain/>' })],
  ])('refuses a checkpoint whose kept spec is %s (422), with or without a spec in the request: it was tampered with', async (_, specJson) => {
    const id = newTask();
    await checkpointOnA(id);
    const file = join(peerA, 'checkpoints', id, 'checkpoint.json');
    writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), specJson }));
    const r = await post(appA, id, 'restore');
    expect(r.status).toBe(422);
    expect((await r.json()).type).toMatch(/checkpoint-rejected$/);
    expect((await post(appA, id, 'restore', { spec: specOn(peerA) })).status).toBe(422);
    expect(restoredWith).toHaveLength(0);
  });

  it('refuses a checkpoint that keeps no spec unless the request carries it', async () => {
    const id = newTask();
    await checkpointOnA(id);
    const file = join(peerA, 'checkpoints', id, 'checkpoint.json');
    const { specJson: _s, ...meta } = JSON.parse(readFileSync(file, 'utf8'));
    writeFileSync(file, JSON.stringify(meta));
    const r = await post(appA, id, 'restore');
    expect(r.status).toBe(422);
    expect((await r.json()).detail).toMatch(/keeps no spec/);
    expect((await post(appA, id, 'restore', { spec: specOn(peerA) })).status).toBe(201);
  });

  it('refuses a restore body that is not the contract\'s (400)', async () => {
    const id = newTask();
    await checkpointOnA(id);
    expect((await post(appA, id, 'restore', { xml: '<domain/>' })).status).toBe(400);
    expect((await post(appA, id, 'restore', { spec: { name: 'x' } })).status).toBe(400);
  });

  it('refuses to checkpoint a guest whose live XML lacks its spec or our UUID (made before), before stopping it', async () => {
    const id = newTask();
    mkdirSync(join(peerA, 'logs'), { recursive: true });
    await hv.create(
      `<domain type='test'><name>cps-${id}</name><memory unit='MiB'>64</memory><os><type>hvm</type></os>` +
        `<metadata><cps:task xmlns:cps="urn:cps:task:1" id="${id}"/></metadata></domain>`,
    );
    const r = await post(appA, id, 'checkpoint', { leaveRunning: true });
    expect(r.status).toBe(422);
    expect((await hv.inspect(`cps-${id}`))?.state).toBe('running');
  });
});

describe('LibvirtHypervisor.restore on a real URI goes through virsh with our XML', () => {
  const conn = { connectClose: async () => undefined, domainRestore: async () => { throw new Error('the binding must not be used: it takes no XML'); } } as unknown as LibvirtConn;

  it('runs virsh -c URI restore FILE --xml X, X holding exactly our XML, and removes X afterwards', async () => {
    const calls: { args: string[]; xml: string }[] = [];
    const hv = await LibvirtHypervisor.open('qemu:///system', async () => conn, async (args) => {
      calls.push({ args, xml: readFileSync(args[5]!, 'utf8') });
      return { stdout: 'Domain restored\n' };
    });
    await hv.restore('/var/lib/cps/checkpoints/t-1/state.sav', '<domain>ours</domain>');
    expect(calls).toHaveLength(1);
    expect(calls[0]!.args.slice(0, 5)).toEqual(['-c', 'qemu:///system', 'restore', '/var/lib/cps/checkpoints/t-1/state.sav', '--xml']);
    expect(calls[0]!.xml).toBe('<domain>ours</domain>');
    expect(existsSync(calls[0]!.args[5]!)).toBe(false);
  });

  it("answers virsh's refusal as a hypervisor-error with its message", async () => {
    const hv = await LibvirtHypervisor.open('qemu:///system', async () => conn, async () => {
      throw new Error('error: Target domain uuid 1 does not match source 2');
    });
    await expect(hv.restore('/x.sav', '<domain/>')).rejects.toMatchObject({ problemType: 'hypervisor-error', message: expect.stringContaining('does not match') });
  });
});
