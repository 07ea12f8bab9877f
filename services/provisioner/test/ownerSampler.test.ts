import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OwnerSampler } from '../src/ownerSampler.ts';

// A fake /proc and /run/libvirt/qemu.
function host() {
  const root = mkdtempSync(join(tmpdir(), 'cps-owner-'));
  const proc = join(root, 'proc');
  const run = join(root, 'run');
  mkdirSync(proc);
  mkdirSync(run);
  const cpu = (user: number, system: number, idle: number) =>
    writeFileSync(join(proc, 'stat'), `cpu  ${user} 0 ${system} ${idle} 0 0 0 0 0 0\ncpu0 1 2 3 4\nintr 5\n`);
  const qemu = (domain: string, pid: number, utime: number, stime: number) => {
    writeFileSync(join(run, `${domain}.pid`), String(pid));
    mkdirSync(join(proc, String(pid)), { recursive: true });
    const after = ['S', '1', '1', '1', '0', '-1', '0', '0', '0', '0', '0', String(utime), String(stime), '0', '0'];
    writeFileSync(join(proc, String(pid), 'stat'), `${pid} (qemu-system-x86) ${after.join(' ')}`);
  };
  return { proc, run, cpu, qemu, sampler: new OwnerSampler({ proc, qemuRunDir: run, now: () => 1000 }) };
}

describe('OwnerSampler', () => {
  it('reports the host CPU not spent by the guests, as a share of all cores', async () => {
    const h = host();
    h.cpu(1000, 0, 1000);
    h.qemu('cps-a', 101, 400, 0);
    expect((await h.sampler.sample()).ownerCpuPercent).toBe(0); // the first reading is a baseline
    // 1000 ticks pass: 600 busy, of which the guest took 300 → the owner 300 of 1000.
    h.cpu(1600, 0, 1400);
    h.qemu('cps-a', 101, 600, 100);
    expect((await h.sampler.sample()).ownerCpuPercent).toBe(30);
  });

  it('reads memory pressure and available memory where they exist', async () => {
    const h = host();
    h.cpu(1, 1, 1);
    mkdirSync(join(h.proc, 'pressure'));
    writeFileSync(join(h.proc, 'pressure', 'memory'), 'some avg10=12.50 avg60=1.00 avg300=0.00 total=5\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n');
    writeFileSync(join(h.proc, 'meminfo'), 'MemTotal:       24000000 kB\nMemAvailable:    2097152 kB\n');
    expect(await h.sampler.sample()).toEqual({ atMs: 1000, ownerCpuPercent: 0, memoryPressurePercent: 12.5, availableMemoryMiB: 2048 });
  });

  it('ignores pid files of garbage and of other names', async () => {
    const h = host();
    h.cpu(100, 0, 100);
    writeFileSync(join(h.run, 'cps-b.pid'), 'not a pid');
    writeFileSync(join(h.run, 'other.pid'), '1');
    await h.sampler.sample();
    h.cpu(200, 0, 100);
    expect((await h.sampler.sample()).ownerCpuPercent).toBe(100);
  });

  it('leaves owner CPU out when a guest\'s QEMU is not in this /proc (a container): its load is not the owner\'s', async () => {
    const h = host();
    h.cpu(100, 0, 100);
    writeFileSync(join(h.run, 'cps-c.pid'), '99999');
    await h.sampler.sample();
    h.cpu(200, 0, 100);
    expect((await h.sampler.sample()).ownerCpuPercent).toBeUndefined();
    mkdirSync(join(h.proc, '99999'));
    writeFileSync(join(h.proc, '99999', 'stat'), '99999 (bash) S 1 1 1 0 -1 0 0 0 0 0 5 5 0 0');
    expect((await h.sampler.sample()).ownerCpuPercent).toBeUndefined();
  });

  it('fails clearly on an unreadable /proc/stat', async () => {
    const h = host();
    writeFileSync(join(h.proc, 'stat'), 'cpu  x y z\n');
    await expect(h.sampler.sample()).rejects.toThrow(/unreadable .*stat/);
  });
});
