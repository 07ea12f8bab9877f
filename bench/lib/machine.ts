// What kind of machine the figures come from: KVM or TCG (the probe's answer, not /dev/kvm), cores, memory.
import { existsSync, readFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import type { Machine } from './result.ts';

export function describeMachine(dataDir: string): Machine {
  const file = join(dataDir, 'accel.json');
  let accelerator: Machine['accelerator'] = 'unknown';
  let accelDetail: string | undefined;
  if (existsSync(file)) {
    try {
      const a = JSON.parse(readFileSync(file, 'utf8')) as { accelerator?: string; detail?: string };
      if (a.accelerator === 'kvm' || a.accelerator === 'tcg') accelerator = a.accelerator;
      accelDetail = a.detail;
    } catch {
      accelDetail = `${file} is not JSON`;
    }
  } else accelDetail = `no ${file}: scripts/probe-accel.sh has not run`;
  const c = cpus();
  return {
    accelerator,
    ...(accelDetail ? { accelDetail } : {}),
    cores: c.length,
    cpuModel: c[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    kernel: release(),
  };
}
