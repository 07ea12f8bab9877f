import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { OwnerSample } from './ownerRules.ts';

const run = promisify(execFile);

export interface OwnerSamplerOptions {
  proc?: string;
  /** Where libvirt writes the pid files of its QEMUs (their CPU time is the guests', not the owner's). */
  qemuRunDir?: string;
  /** Seconds since the last desktop input, or undefined where there is no session. */
  desktopIdleSec?: () => Promise<number | undefined>;
  now?: () => number;
}

interface CpuTimes {
  total: number;
  busy: number;
  guests: Map<number, number>;
  /** A guest's QEMU could not be found in this /proc: its CPU time cannot be taken out. */
  unknownGuests: boolean;
}

/**
 * Samples what the owner does to this host: CPU not spent by the guests (/proc/stat minus the
 * QEMU processes' utime+stime, both in clock ticks), memory pressure (PSI) or MemAvailable, and
 * the desktop's idle time where a session exists. CPU is a rate: the first sample reports 0.
 */
export class OwnerSampler {
  private last: CpuTimes | undefined;
  private readonly proc: string;
  private readonly runDir: string;

  constructor(private readonly o: OwnerSamplerOptions = {}) {
    this.proc = o.proc ?? '/proc';
    this.runDir = o.qemuRunDir ?? '/run/libvirt/qemu';
  }

  async sample(): Promise<OwnerSample> {
    const [cpu, pressure, available, idle] = await Promise.all([
      this.cpuTimes(),
      this.memoryPressure(),
      this.availableMemoryMiB(),
      (this.o.desktopIdleSec ?? (async () => undefined))().catch(() => undefined),
    ]);
    const ownerCpuPercent = cpu.unknownGuests ? undefined : this.last ? ownerShare(this.last, cpu) : 0;
    this.last = cpu;
    return {
      atMs: (this.o.now ?? Date.now)(),
      ...(ownerCpuPercent !== undefined ? { ownerCpuPercent } : {}),
      ...(pressure !== undefined ? { memoryPressurePercent: pressure } : {}),
      ...(available !== undefined ? { availableMemoryMiB: available } : {}),
      ...(idle !== undefined ? { desktopIdleSec: idle } : {}),
    };
  }

  private async cpuTimes(): Promise<CpuTimes> {
    const stat = await readFile(join(this.proc, 'stat'), 'utf8');
    const line = stat.split('\n').find((l) => l.startsWith('cpu '));
    // user nice system idle iowait irq softirq steal (guest and guest_nice are already in user).
    const f = (line ?? '').trim().split(/\s+/).slice(1, 9).map(Number);
    if (f.length < 4 || f.some((n) => !Number.isFinite(n))) throw new Error(`unreadable ${join(this.proc, 'stat')}`);
    const total = f.reduce((a, b) => a + b, 0);
    const busy = total - f[3]! - (f[4] ?? 0);
    return { total, busy, ...(await this.guestTicks()) };
  }

  private async guestTicks(): Promise<{ guests: Map<number, number>; unknownGuests: boolean }> {
    const ticks = new Map<number, number>();
    let unknownGuests = false;
    let files: string[] = [];
    try {
      files = (await readdir(this.runDir)).filter((f) => f.startsWith('cps-') && f.endsWith('.pid'));
    } catch {
      return { guests: ticks, unknownGuests };
    }
    await Promise.all(
      files.map(async (f) => {
        const pid = Number((await readFile(join(this.runDir, f), 'utf8').catch(() => '')).trim());
        if (!Number.isInteger(pid) || pid <= 0) return;
        const stat = await readFile(join(this.proc, String(pid), 'stat'), 'utf8').catch(() => undefined);
        // libvirt removes the pid file when QEMU ends: a file whose process is not a QEMU here
        // means another pid namespace (a container), whose guests' CPU would pass for the owner's.
        if (!stat || !/^\d+ \(qemu/.test(stat)) {
          unknownGuests = true;
          return;
        }
        // Fields after the command name: state is field 3, utime 14, stime 15.
        const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        const used = Number(rest[11]) + Number(rest[12]);
        if (Number.isFinite(used)) ticks.set(pid, used);
      }),
    );
    return { guests: ticks, unknownGuests };
  }

  private async memoryPressure(): Promise<number | undefined> {
    const text = await readFile(join(this.proc, 'pressure', 'memory'), 'utf8').catch(() => undefined);
    const m = text && /^some avg10=([\d.]+)/m.exec(text);
    return m ? Number(m[1]) : undefined;
  }

  private async availableMemoryMiB(): Promise<number | undefined> {
    const text = await readFile(join(this.proc, 'meminfo'), 'utf8').catch(() => undefined);
    const m = text && /^MemAvailable:\s+(\d+) kB/m.exec(text);
    return m ? Math.floor(Number(m[1]) / 1024) : undefined;
  }
}

/** The owner's share of all cores between two readings: busy ticks minus the guests' ticks. */
export function ownerShare(before: CpuTimes, after: CpuTimes): number {
  const total = after.total - before.total;
  if (total <= 0) return 0;
  let guests = 0;
  for (const [pid, used] of after.guests) {
    const was = before.guests.get(pid);
    if (was !== undefined && used >= was) guests += used - was;
  }
  const owner = Math.max(0, after.busy - before.busy - guests);
  return Math.min(100, (owner / total) * 100);
}

/** Desktop idle time from `xprintidle` where an X session is there; undefined otherwise. */
export async function xIdleSec(env: NodeJS.ProcessEnv = process.env): Promise<number | undefined> {
  if (!env.DISPLAY) return undefined;
  try {
    const { stdout } = await run('xprintidle', [], { timeout: 2000, env });
    const ms = Number(stdout.trim());
    return Number.isFinite(ms) ? ms / 1000 : undefined;
  } catch {
    return undefined;
  }
}
