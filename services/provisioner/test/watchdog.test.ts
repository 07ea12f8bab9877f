import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, ProblemError } from '@cps/common';
import { createApp } from '../src/app.ts';
import { EventBus, type VmEvent } from '../src/events.ts';
import { Expectations } from '../src/expectations.ts';
import { connectLibvirt, type Hypervisor } from '../src/hypervisor.ts';
import type { QemuProcesses } from '../src/qemuProcess.ts';
import { Watchdog } from '../src/watchdog.ts';

// The watchdog over libvirt's test driver: what happens behind the API's back is reported,
// what the API did is not. Looks are taken by hand (tick), not on a timer.
let hv: Hypervisor;
let app: ReturnType<typeof createApp>;
let watchdog: Watchdog;
let events: EventBus;
let reason: string | undefined;
let libvirtAway = false;
/** Start guests as QEMU does: paused until set up, a watchdog look in that moment, then running. */
let startPaused = false;
const dataDir = mkdtempSync(join(tmpdir(), 'cps-prov-watch-'));
const made = new Set<string>();
const newTask = () => {
  const id = `t-${randomBytes(4).toString('hex')}`;
  made.add(id);
  return id;
};
const spec = {
  name: 'watched',
  vcpus: 1,
  memoryMiB: 64,
  disks: [],
  boot: { kind: 'kernel', kernel: join(dataDir, 'images/k'), initrd: join(dataDir, 'images/i') },
};
const put = (id: string) => app.request(`/vms/${id}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(spec) });
const post = (id: string, op: string) => app.request(`/vms/${id}/${op}`, { method: 'POST' });
const of = (id: string): VmEvent[] => events.recent().filter((e) => e.taskId === id);

beforeAll(async () => {
  hv = await connectLibvirt('test:///default');
  const watched: Hypervisor = Object.create(hv, {
    stateReason: { value: async () => reason },
    create: {
      value: async (xml: string) => {
        await hv.create(xml);
        if (!startPaused) return;
        const name = /<name>([^<]+)<\/name>/.exec(xml)![1]!;
        await hv.suspend(name);
        await watchdog.tick();
        expect((await hv.inspect(name))?.state).toBe('paused');
        await hv.resume(name);
      },
    },
    listNames: {
      value: async () => {
        if (libvirtAway) throw new ProblemError('hypervisor-error', 'list domains: client socket is closed');
        return hv.listNames();
      },
    },
  });
  events = new EventBus();
  const expectations = new Expectations();
  const log = createLogger('t', 'silent');
  app = createApp({ hypervisor: watched, dataDir, accelerator: async () => 'tcg', share: { vcpus: 8, memoryMiB: 4096 }, log, events, expectations });
  watchdog = new Watchdog({ hypervisor: watched, expectations, events, log });
  await watchdog.tick();
});
afterEach(async () => {
  for (const id of made) await hv.remove(`cps-${id}`);
  made.clear();
  reason = undefined;
  libvirtAway = false;
  startPaused = false;
  await watchdog.tick();
});
afterAll(async () => {
  await watchdog.stop();
  await hv.close();
});

describe('the watchdog', () => {
  it('reports a guest that vanished behind the API\'s back, with when it was last seen', async () => {
    const id = newTask();
    expect((await put(id)).status).toBe(201);
    await watchdog.tick();
    await hv.remove(`cps-${id}`);
    await watchdog.tick();
    const [e, ...more] = of(id);
    expect(more).toEqual([]);
    expect(e).toMatchObject({ kind: 'vanished', taskId: id });
    expect(Date.parse(e!.at)).toBeGreaterThanOrEqual(Date.parse(e!.lastSeenAt!));
    await watchdog.tick();
    expect(of(id)).toHaveLength(1);
  });

  it('stays quiet about what the API did: destroy, suspend/resume, checkpoint/restore, shutdown', async () => {
    const id = newTask();
    expect((await put(id)).status).toBe(201);
    await watchdog.tick();
    for (const op of ['suspend', 'resume', 'checkpoint', 'restore']) {
      expect((await post(id, op)).status).toBeLessThan(300);
      await watchdog.tick();
    }
    expect((await post(id, 'shutdown')).status).toBe(202);
    await watchdog.tick();
    expect((await put(id)).status).toBe(201);
    await watchdog.tick();
    await app.request(`/vms/${id}`, { method: 'DELETE' });
    await watchdog.tick();
    expect(of(id).map((e) => e.kind)).toEqual(['suspended', 'resumed', 'checkpointed']);
  });

  it('reports a pause nobody asked for, and an I/O error pause as io-error', async () => {
    const a = newTask();
    const b = newTask();
    expect((await put(a)).status).toBe(201);
    expect((await put(b)).status).toBe(201);
    await watchdog.tick();
    await hv.suspend(`cps-${a}`);
    await watchdog.tick();
    reason = 'paused (I/O error)';
    await hv.suspend(`cps-${b}`);
    await watchdog.tick();
    expect(of(a)).toMatchObject([{ kind: 'paused', state: 'paused' }]);
    expect(of(b)).toMatchObject([{ kind: 'io-error', state: 'paused' }]);
    expect(of(b)[0]!.detail).toContain('paused (I/O error)');
  });

  it('says nothing of the pause every start passes through (libvirt holds QEMU paused until it is set up)', async () => {
    startPaused = true;
    const id = newTask();
    expect((await put(id)).status).toBe(201);
    await watchdog.tick();
    await watchdog.tick();
    expect(of(id)).toEqual([]);
  });

  it('still reports a pause from outside right after such a start', async () => {
    startPaused = true;
    const id = newTask();
    expect((await put(id)).status).toBe(201);
    expect(of(id)).toEqual([]);
    // The look during the start must not have remembered the guest as paused: this is a change.
    await hv.suspend(`cps-${id}`);
    await watchdog.tick();
    expect(of(id)).toMatchObject([{ kind: 'paused', state: 'paused' }]);
  });

  it('does not take libvirt being away for every guest vanishing', async () => {
    const id = newTask();
    expect((await put(id)).status).toBe(201);
    await watchdog.tick();
    libvirtAway = true;
    await watchdog.tick();
    libvirtAway = false;
    await watchdog.tick();
    expect(of(id)).toEqual([]);
  });

  it('never watches a cps-* domain that a CPS provisioner did not make', async () => {
    const id = newTask();
    await hv.create(`<domain type='test'><name>cps-${id}</name><memory unit='MiB'>64</memory><os><type>hvm</type></os></domain>`);
    await watchdog.tick();
    await hv.remove(`cps-${id}`);
    await watchdog.tick();
    expect(of(id)).toEqual([]);
  });

  it('reports a guest started and gone before any look saw it running (a look caught its start paused), and not one deleted so', async () => {
    const expectations = new Expectations();
    const bus = new EventBus();
    const log = createLogger('t', 'silent');
    const own = createApp({ hypervisor: hv, dataDir, accelerator: async () => 'tcg', share: { vcpus: 8, memoryMiB: 4096 }, log, events: bus, expectations });
    const dog = new Watchdog({ hypervisor: hv, expectations, events: bus, log });
    await dog.tick(); // the first look only learns
    const a = newTask();
    const b = newTask();
    // A look while libvirt starts a and b: both "starting", so neither is remembered (the pause of a start).
    for (const id of [a, b]) expectations.mark(id, 'starting');
    for (const id of [a, b]) {
      expect((await own.request(`/vms/${id}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(spec) })).status).toBe(201);
    }
    // Both marked running now; a is killed outside, b deleted through the API, before the next look.
    await hv.remove(`cps-${a}`);
    expect((await own.request(`/vms/${b}`, { method: 'DELETE' })).status).toBe(204);
    await dog.tick();
    await dog.tick();
    expect(bus.recent().filter((e) => e.kind === 'vanished').map((e) => e.taskId)).toEqual([a]);
  });

  it('reports a dead QEMU from the process table once, before libvirt drops the domain, and not after a DELETE', async () => {
    const dead = new Set<string>();
    const processes = { check: (d: string) => (dead.has(d) ? 'dead' : 'alive'), keepOnly: () => undefined } as unknown as QemuProcesses;
    const expectations = new Expectations();
    const bus = new EventBus();
    const log = createLogger('t', 'silent');
    const own = createApp({ hypervisor: hv, dataDir, accelerator: async () => 'tcg', share: { vcpus: 8, memoryMiB: 4096 }, log, events: bus, expectations });
    const dog = new Watchdog({ hypervisor: hv, expectations, events: bus, log, processes });
    const a = newTask();
    const b = newTask();
    for (const id of [a, b]) {
      expect((await own.request(`/vms/${id}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(spec) })).status).toBe(201);
    }
    await dog.tick();
    await dog.tick();
    dead.add(`cps-${a}`);
    await dog.tick(); // libvirt still lists a: only the process table knows
    expect(await hv.inspect(`cps-${a}`)).toBeDefined();
    expect(bus.recent().map((e) => `${e.taskId}:${e.kind}`)).toEqual([`${a}:vanished`]);
    const [e] = bus.recent();
    expect(Date.parse(e!.at) - Date.parse(e!.lastSeenAt!)).toBeGreaterThanOrEqual(0);
    await hv.remove(`cps-${a}`);
    await dog.tick();
    await dog.tick();
    // b is destroyed through the API: its process dies as asked.
    const deleting = own.request(`/vms/${b}`, { method: 'DELETE' });
    dead.add(`cps-${b}`);
    await deleting;
    await dog.tick();
    await dog.tick();
    expect(bus.recent().map((x) => `${x.taskId}:${x.kind}`)).toEqual([`${a}:vanished`]);
  });

  it('watches a guest again once a new QEMU runs it (restored between two looks)', async () => {
    const state = new Map<string, 'alive' | 'dead'>();
    const processes = { check: (d: string) => state.get(d) ?? 'alive', keepOnly: () => undefined } as unknown as QemuProcesses;
    const expectations = new Expectations();
    const bus = new EventBus();
    const log = createLogger('t', 'silent');
    let dog!: Watchdog;
    // As with QEMU: the process ends while libvirt still lists the domain, and a look falls in between.
    const saving: Hypervisor = Object.create(hv, {
      save: {
        value: async (name: string, file: string) => {
          state.set(name, 'dead');
          await dog.tick();
          await hv.save(name, file);
        },
      },
      restore: {
        value: async (file: string, xml: string) => {
          await hv.restore(file, xml);
          for (const name of state.keys()) state.set(name, 'alive');
        },
      },
    });
    const own = createApp({ hypervisor: saving, dataDir, accelerator: async () => 'tcg', share: { vcpus: 8, memoryMiB: 4096 }, log, events: bus, expectations });
    dog = new Watchdog({ hypervisor: saving, expectations, events: bus, log, processes });
    const id = newTask();
    expect((await own.request(`/vms/${id}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(spec) })).status).toBe(201);
    await dog.tick();
    await dog.tick();
    const r = await own.request(`/vms/${id}/checkpoint`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"leaveRunning":true}' });
    expect(r.status).toBe(200);
    await dog.tick();
    await dog.tick();
    expect(bus.recent().filter((e) => e.kind === 'vanished')).toEqual([]);
    // Watched again: its QEMU dying now is news.
    state.set(`cps-${id}`, 'dead');
    await dog.tick();
    expect(bus.recent().filter((e) => e.kind === 'vanished').map((e) => e.taskId)).toEqual([id]);
  });

  it('looks on its own once started', async () => {
    const id = newTask();
    expect((await put(id)).status).toBe(201);
    await watchdog.tick();
    watchdog.start();
    try {
      const seen = new Promise<VmEvent>((resolve) => {
        const off = events.subscribe((e) => e.taskId === id && (off(), resolve(e)));
      });
      await hv.remove(`cps-${id}`);
      expect((await seen).kind).toBe('vanished');
    } finally {
      await watchdog.stop();
    }
  });
});
