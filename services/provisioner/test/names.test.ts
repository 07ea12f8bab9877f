import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Contract, createLogger } from '@cps/common';
import { specFiles } from '@cps/openapi';
import { createApp } from '../src/app.ts';
import { connectLibvirt, type Hypervisor } from '../src/hypervisor.ts';

// One name rule at both doors: a name the coordinator takes (its TaskRequest check, which its
// POST /api/tasks runs) is one this provisioner's PUT /vms takes too, on libvirt's test driver.
const coordinator = Contract.fromFile(specFiles.coordinator);
let hv: Hypervisor;
let app: ReturnType<typeof createApp>;
const dataDir = mkdtempSync(join(tmpdir(), 'cps-prov-names-'));

beforeAll(async () => {
  hv = await connectLibvirt('test:///default');
  app = createApp({
    hypervisor: hv,
    dataDir,
    accelerator: async () => 'tcg',
    share: { vcpus: 8, memoryMiB: 4096, diskMiB: 100 },
    log: createLogger('provisioner-test', 'silent'),
  });
});
afterAll(async () => {
  await hv.close();
});

// Both doors read JSON text: a lone surrogate travels as a \ud800 escape and arrives as one.
const coordinatorAccepts = (name: string): boolean => {
  const body = JSON.parse(JSON.stringify({ name }));
  return coordinator.validatorFor('TaskRequest')(body);
};

async function provisionerAccepts(name: string): Promise<boolean> {
  const id = `t-${randomBytes(4).toString('hex')}`;
  const spec = {
    name,
    vcpus: 1,
    memoryMiB: 64,
    disks: [],
    boot: { kind: 'kernel', kernel: join(dataDir, 'images/k'), initrd: join(dataDir, 'images/i') },
  };
  const res = await app.request(`/vms/${id}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(spec) });
  await hv.remove(`cps-${id}`);
  if (res.status === 201) return true;
  expect(res.status, `PUT /vms answered ${res.status} for ${JSON.stringify(name)}: ${await res.text()}`).toBe(400);
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  return false;
}

// Code units a hostile name is made of: plain text, every kind the rule refuses, surrogates alone and paired.
const pieces = [
  'a', 'Z', ' ', '-', 'é', '✓', '<', '"', '\u00A0', '\uFEFF', '\uFFFD', '\uFFFE', '\uFFFF', '\u2028', '\u2029',
  '\u0000', '\u0009', '\n', '\u001F', '\u007F', '\u0085', '\u009F',
  '\uD800', '\uDBFF', '\uDC00', '\uDFFF', '\uD83D', '\uDE00', '😀', '\u{10FFFF}',
];

/** mulberry32: a seeded generator, so a failing name can be found again. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomName(next: () => number): string {
  const len = 1 + Math.floor(next() * 6);
  let s = '';
  for (let i = 0; i < len; i++) {
    // Mostly known pieces, sometimes any UTF-16 code unit at all.
    s += next() < 0.8 ? pieces[Math.floor(next() * pieces.length)] : String.fromCharCode(Math.floor(next() * 0x10000));
  }
  return s;
}

describe('task names: what the coordinator accepts, the provisioner accepts', () => {
  it.each([
    ['plain text', 'my machine', true],
    ['markup, accents, symbols', '</script> "é" ✓', true],
    ['an emoji', 'box 😀', true],
    ['64 emoji (64 characters, 128 UTF-16 units)', '😀'.repeat(64), true],
    ['a lone high surrogate', 'a\uD800b', false],
    ['a lone low surrogate', '\uDC00', false],
    ['a surrogate pair backwards', '\uDE00\uD83D', false],
    ['U+FFFE', 'x\uFFFE', false],
    ['U+FFFF', 'x\uFFFF', false],
    ['NUL', 'a\u0000b', false],
    ['a newline', 'a\nb', false],
    ['DEL', 'a\u007Fb', false],
    ['a C1 control', 'a\u0085b', false],
    ['a paragraph separator', 'a\u2029b', false],
  ])('%s: both doors agree', async (_what, name, ok) => {
    expect(coordinatorAccepts(name)).toBe(ok);
    expect(await provisionerAccepts(name)).toBe(ok);
  });

  it('holds for random strings of surrogates, controls and text (coordinator accepts ⇒ provisioner accepts)', async () => {
    const seed = 20261130;
    const next = rng(seed);
    let accepted = 0;
    let refused = 0;
    for (let i = 0; i < 400; i++) {
      const name = randomName(next);
      if (!coordinatorAccepts(name)) {
        refused++;
        continue;
      }
      accepted++;
      expect(await provisionerAccepts(name), `seed ${seed}, name ${JSON.stringify(name)}`).toBe(true);
    }
    // The sample exercised both verdicts.
    expect(accepted).toBeGreaterThan(30);
    expect(refused).toBeGreaterThan(30);
  });
});
