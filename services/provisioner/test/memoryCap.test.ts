import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, ProblemError } from '@cps/common';
import { createApp } from '../src/app.ts';
import { connectLibvirt, type Hypervisor } from '../src/hypervisor.ts';
import { probeMemoryCapMode } from '../src/memoryCap.ts';

describe('probeMemoryCapMode', () => {
  it.each([
    ['libvirtd with full root capabilities', 'Name:\tlibvirtd\nCapEff:\t000001ffffffffff\n', true, 'xml'],
    ['libvirtd without CAP_SYS_RESOURCE, virsh here', 'CapEff:\t000001fffeffffff\n', true, 'live'],
    ['libvirtd without CAP_SYS_RESOURCE, no virsh', 'CapEff:\t000001fffeffffff\n', false, 'off'],
    ['no capabilities', 'CapEff:\t0000000000000000\n', true, 'live'],
    ['no CapEff line', 'Name:\tlibvirtd\n', true, 'live'],
    ['garbage', 'CapEff:\tzz\n', true, 'live'],
    ['libvirtd not found (a container)', undefined, false, 'off'],
  ])('%s → %s', (_, status, virsh, mode) => {
    expect(probeMemoryCapMode({ libvirtdStatus: () => status, hasVirsh: () => virsh })).toBe(mode);
  });
  it('keeps memtune in the XML for libvirt\'s test driver, whatever the host', () => {
    expect(probeMemoryCapMode({ libvirtdStatus: () => undefined, hasVirsh: () => true }, 'test:///tmp/node.xml')).toBe('xml');
  });

  it('treats an unreadable /proc as unknown', () => {
    const probe = { libvirtdStatus: () => { throw new Error('EACCES'); }, hasVirsh: () => true };
    expect(probeMemoryCapMode(probe)).toBe('live');
  });
  it('finds this machine\'s libvirtd and virsh', () => {
    expect(['xml', 'live']).toContain(probeMemoryCapMode());
  });
});

describe("'live' memory caps around create, checkpoint and restore (test:///default)", () => {
  let hv: Hypervisor;
  const dataDir = mkdtempSync(join(tmpdir(), 'cps-prov-memcap-'));
  const calls: string[] = [];
  let failLimit = false;
  const taskId = `t-${randomBytes(4).toString('hex')}`;
  const name = `cps-${taskId}`;
  let app: ReturnType<typeof createApp>;
  const spec = {
    name: 'capped',
    vcpus: 1,
    memoryMiB: 128,
    disks: [],
    boot: { kind: 'kernel', kernel: join(dataDir, 'images/k'), initrd: join(dataDir, 'images/i') },
  };
  const put = () => app.request(`/vms/${taskId}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(spec) });

  beforeAll(async () => {
    hv = await connectLibvirt('test:///default');
    // The test driver has no cgroups: record what would be set, and what libvirt was doing meanwhile.
    const recording: Hypervisor = Object.create(hv, {
      limitMemory: {
        value: async (n: string, mib: number | undefined) => {
          calls.push(`limit ${n} ${mib ?? 'unlimited'}`);
          if (failLimit) throw new ProblemError('hypervisor-error', 'limit memory: cgroup refused');
        },
      },
      save: { value: async (n: string, file: string) => (calls.push(`save ${n}`), hv.save(n, file)) },
      restore: { value: async (file: string, xml: string) => (calls.push('restore'), hv.restore(file, xml)) },
    });
    app = createApp({ hypervisor: recording, dataDir, accelerator: async () => 'tcg', memoryCap: 'live', share: { vcpus: 2, memoryMiB: 1024 }, log: createLogger('t', 'silent') });
  });
  afterAll(async () => {
    await hv.remove(name);
    await hv.close();
  });

  it('leaves memtune out of the XML and sets the limit on the running guest, lifting it around a save', async () => {
    expect((await put()).status).toBe(201);
    expect((await hv.inspect(name))!.xml).not.toContain('<memtune>');
    expect((await hv.inspect(name))!.xml).toContain('<cputune>');
    expect(calls.splice(0)).toEqual([`limit ${name} 512`]);

    expect((await app.request(`/vms/${taskId}/checkpoint`, { method: 'POST' })).status).toBe(200);
    expect(calls.splice(0)).toEqual([`limit ${name} unlimited`, `save ${name}`]);
    expect((await app.request(`/vms/${taskId}/restore`, { method: 'POST' })).status).toBe(201);
    expect(calls.splice(0)).toEqual(['restore', `limit ${name} 512`]);
    await app.request(`/vms/${taskId}`, { method: 'DELETE' });
  });

  it('does not leave a guest running that could not be capped', async () => {
    failLimit = true;
    try {
      const r = await put();
      expect(r.status).toBe(502);
      expect((await r.json()).detail).toMatch(/cgroup refused/);
      expect(await hv.inspect(name)).toBeUndefined();
    } finally {
      failLimit = false;
    }
  });
});
