import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger } from '@cps/common';
import { accelReader, domainTypeFor } from '../src/accel.ts';

function logSpy() {
  const warnings: string[] = [];
  const log = createLogger('accel-test', 'silent');
  log.warn = ((_: unknown, msg: string) => void warnings.push(msg)) as unknown as typeof log.warn;
  return { log, warnings };
}

describe('accelReader', () => {
  it('reads the probe result', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cps-accel-'));
    writeFileSync(join(dir, 'accel.json'), JSON.stringify({ accelerator: 'kvm', probedAt: '2026-01-01T00:00:00Z', detail: 'x' }));
    expect(await accelReader(dir, logSpy().log)()).toBe('kvm');
  });

  it.each([
    ['missing', undefined],
    ['not JSON', '{"accelerator":'],
    ['an unknown accelerator', '{"accelerator":"hvf"}'],
    ['the wrong type', '["kvm"]'],
  ])('falls back to tcg when the file is %s, warning once', async (_, content) => {
    const dir = mkdtempSync(join(tmpdir(), 'cps-accel-'));
    if (content !== undefined) writeFileSync(join(dir, 'accel.json'), content);
    const { log, warnings } = logSpy();
    const read = accelReader(dir, log);
    expect(await read()).toBe('tcg');
    expect(await read()).toBe('tcg');
    expect(warnings).toHaveLength(1);
  });

  it('picks up a probe result written after start', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cps-accel-'));
    const read = accelReader(dir, logSpy().log);
    expect(await read()).toBe('tcg');
    writeFileSync(join(dir, 'accel.json'), '{"accelerator":"kvm"}');
    expect(await read()).toBe('kvm');
  });

  it('maps accelerators to libvirt domain types', () => {
    expect(domainTypeFor('kvm')).toBe('kvm');
    expect(domainTypeFor('tcg')).toBe('qemu');
  });
});
