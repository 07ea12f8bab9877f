// Placements per second with libvirt's test driver in place of QEMU: the provisioner's PUT /vms
// (contract check, admission against the share, domain XML, create), several at once as a
// coordinator would send them, against the same domain XML created straight through the binding.
// PEP and storage are not in this figure (see the PEP case); the goal is absolute: ≥ 500/s.
import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger } from '@cps/common';
import type { BenchContext } from '../lib/context.ts';
import type { CaseResult } from '../lib/result.ts';
import { median, round } from '../lib/stats.ts';
import { makeDataDir, writeTestDriverNode } from '../../tests/helpers/hosts-data.ts';
import { createApp } from '../../services/provisioner/src/app.ts';
import { connectLibvirt, type Hypervisor } from '../../services/provisioner/src/hypervisor.ts';

const GOAL = 500;
const concurrency = 8;

/** Runs `n` jobs, `concurrency` at a time; resolves with jobs per second. */
async function rate(ctx: BenchContext, n: number, job: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const start = ctx.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) await job(next++);
    }),
  );
  return n / ((ctx.now() - start) / 1000);
}

async function clear(hv: Hypervisor): Promise<void> {
  for (const name of await hv.listNames()) if (name.startsWith('cps-') || name.startsWith('bench-')) await hv.remove(name);
}

export async function placementCases(ctx: BenchContext): Promise<CaseResult[]> {
  const dataDir = join(ctx.tmp, 'placements');
  mkdirSync(dataDir, { recursive: true });
  chmodSync(dataDir, 0o755);
  makeDataDir(dataDir, ctx.sourceDataDir);
  const node = { cpus: 4096, memoryMiB: 4096 * 1024 };
  const hv = await connectLibvirt(writeTestDriverNode(join(ctx.tmp, 'placements-node.xml'), node));
  const bare = await connectLibvirt(writeTestDriverNode(join(ctx.tmp, 'placements-bare.xml'), node));
  // The XML the provisioner hands libvirt, kept to create the very same domain by hand.
  let lastXml = '';
  const seen: Hypervisor = new Proxy(hv, {
    get: (t, k) => (k === 'create' ? (xml: string) => ((lastXml = xml), t.create(xml)) : Reflect.get(t, k, t)),
  });
  const app = createApp({ hypervisor: seen, dataDir, accelerator: async () => 'tcg', share: { vcpus: node.cpus, memoryMiB: node.memoryMiB, diskMiB: 1_000_000 }, log: createLogger('provisioner', 'warn') });
  const tiny = join(dataDir, 'images', 'tiny');
  const spec = JSON.stringify({ name: 'bench', vcpus: 1, memoryMiB: 128, disks: [], boot: { kind: 'kernel', kernel: join(tiny, 'vmlinuz'), initrd: join(tiny, 'initrd.img'), cmdline: 'console=ttyS0' } });
  let task = 0;
  const place = async () => {
    const id = `t-${(0x10000000 + task++).toString(16)}`;
    const r = await app.request(`/vms/${id}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: spec });
    if (r.status !== 201) throw new Error(`PUT /vms/${id} answered ${r.status}: ${await r.text()}`);
  };
  const byHand = async (i: number) => {
    const xml = lastXml.replace(/<name>[^<]*<\/name>/, `<name>bench-${i}</name>`).replace(/<uuid>[^<]*<\/uuid>/, '');
    await bare.create(xml);
  };
  const n = ctx.quick ? 50 : 200;
  const ours: number[] = [];
  const ref: number[] = [];
  try {
    await place(); // warm-up, and the XML for the reference
    await clear(hv);
    let offset = 0;
    for (let r = 0; r < ctx.rounds; r++) {
      const pair = [async () => ours.push(await rate(ctx, n, place)), async () => ref.push(await rate(ctx, n, (i) => byHand(offset + i)))];
      for (const step of r % 2 === 0 ? pair : pair.reverse()) await step();
      offset += n;
      await clear(hv);
      await clear(bare);
    }
  } finally {
    await clear(hv).catch(() => undefined);
    await hv.close();
    await bare.close();
  }
  const o = median(ours);
  const b = median(ref);
  return [
    {
      id: 'placements',
      title: "placements per second, provisioner PUT /vms on libvirt's test driver vs the same XML by hand",
      ratio: o / b,
      goal: `≥ ${GOAL}/s`,
      verdict: o >= GOAL ? 'met' : 'missed',
      ours: { what: 'PUT /vms', value: o, unit: '/s' },
      reference: { what: 'domainCreateXML', value: b, unit: '/s' },
      rounds: ctx.rounds,
      notes: [`${n} guests per round, ${concurrency} at a time, through the provisioner's app in this process (no HTTP socket, no PEP, no storage); the goal is absolute, the ratio says what the provisioner adds to libvirt (${round(o)} vs ${round(b)}/s)`],
    },
  ];
}
