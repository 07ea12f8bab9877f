import { join } from 'node:path';
import type { Check } from './types.ts';

export const checkTinyImage: Check = async (d) => {
  const name = 'tiny image';
  const dir = join(d.dataDir, 'images', 'tiny');
  const hint = 'build it: scripts/build-tiny-image.sh';
  let meta: { id?: unknown; kind?: unknown };
  try {
    meta = JSON.parse(await d.readFile(join(dir, 'image.json')));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? 'missing' : e instanceof SyntaxError ? 'not valid JSON' : e.message;
    return { name, status: 'FAIL', detail: `${join(dir, 'image.json')} ${why}`, hint };
  }
  if (typeof meta !== 'object' || meta === null || meta.id !== 'tiny') return { name, status: 'FAIL', detail: `${join(dir, 'image.json')} does not describe the tiny image`, hint };
  const missing = [];
  for (const f of ['vmlinuz', 'initrd.img']) if (!(await d.exists(join(dir, f)))) missing.push(f);
  if (missing.length) return { name, status: 'FAIL', detail: `${dir} lacks ${missing.join(' and ')}`, hint };
  return { name, status: 'ok', detail: `${dir} (${String(meta.kind)})` };
};

/**
 * Reports what the probe boot found (scripts/probe-accel.sh writes accel.json): /dev/kvm alone does
 * not tell, since on some machines it opens but guests hang.
 */
export const checkAccel: Check = async (d) => {
  const name = 'kvm';
  const file = join(d.dataDir, 'accel.json');
  const hint = 'cps doctor --reprobe (runs scripts/probe-accel.sh)';
  let accel: { accelerator?: unknown; probedAt?: unknown; detail?: unknown };
  try {
    accel = JSON.parse(await d.readFile(file));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return { name, status: 'warn', detail: `not probed yet (${file} ${e.code === 'ENOENT' ? 'missing' : 'unreadable'})`, hint };
  }
  const when = typeof accel?.probedAt === 'string' ? `, probed ${accel.probedAt}` : '';
  const more = typeof accel?.detail === 'string' && accel.detail ? `; ${accel.detail}` : '';
  if (accel?.accelerator === 'kvm') return { name, status: 'ok', detail: `guests boot under KVM${when}` };
  if (accel?.accelerator === 'tcg') {
    const why = (await d.exists('/dev/kvm')) ? '/dev/kvm present but a probe guest hung' : '/dev/kvm absent';
    return { name, status: 'warn', detail: `guests run under TCG (software emulation): ${why}${more}${when}`, hint: 'slower but works; after fixing KVM: cps doctor --reprobe' };
  }
  return { name, status: 'warn', detail: `${file} names no known accelerator`, hint };
};
