// A bootstrap disk of 1,000 small files (quick: 20): storage's POST /bootstraps (our tar reader,
// extraction, truncate + mkfs.ext4 -d) against libguestfs's virt-make-fs of the same tar, with
// `tar -x` + `mkfs.ext4 -d` by hand beside them (the floor: where storage's time goes).
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { BenchContext } from '../lib/context.ts';
import { ratioVerdict, type CaseResult } from '../lib/result.ts';
import { median } from '../lib/stats.ts';
import { makeFixture } from '../../services/storage/test/fixture.ts';

const run = promisify(execFile);
const guestfsEnv = { ...process.env, LIBGUESTFS_BACKEND: 'direct', LIBGUESTFS_BACKEND_SETTINGS: 'force_tcg' };

/** `count` small files in ten folders, one of them naming the round (storage keeps disks by content). */
async function makeTar(dir: string, count: number, round: number): Promise<string> {
  const src = join(dir, `src-${round}`);
  for (let i = 0; i < count; i++) {
    const sub = join(src, `d${i % 10}`);
    mkdirSync(sub, { recursive: true });
    writeFileSync(join(sub, `f${i}.txt`), `round ${round} file ${i}\n${'x'.repeat(100 + (i % 50))}\n`);
  }
  writeFileSync(join(src, 'run.sh'), `#!/bin/sh\necho round ${round}\n`);
  const tar = join(dir, `files-${round}.tar`);
  await run('tar', ['-C', src, '-cf', tar, '.']);
  rmSync(src, { recursive: true });
  return tar;
}

async function timed(ctx: BenchContext, fn: () => Promise<unknown>): Promise<number> {
  const t = ctx.now();
  await fn();
  return ctx.now() - t;
}

export async function bootstrapCases(ctx: BenchContext): Promise<CaseResult[]> {
  const count = ctx.quick ? 20 : 1000;
  const dir = join(ctx.tmp, 'bootstrap');
  mkdirSync(dir, { recursive: true });
  const f = await makeFixture();
  const ours: number[] = [];
  const guestfs: number[] = [];
  const byHand: number[] = [];
  try {
    for (let r = 0; r < ctx.rounds; r++) {
      const tar = await makeTar(dir, count, r);
      const body = readFileSync(tar);
      const storage = async () => {
        const res = await f.app.request('/bootstraps', { method: 'POST', headers: { 'content-type': 'application/x-tar' }, body });
        if (res.status !== 201) throw new Error(`POST /bootstraps answered ${res.status}: ${await res.text()}`);
      };
      const virtMakeFs = () => run('virt-make-fs', ['--format=raw', '--type=ext4', tar, join(dir, `vmf-${r}.img`)], { env: guestfsEnv, timeout: 300_000 });
      const hand = async () => {
        const out = join(dir, `hand-${r}`);
        mkdirSync(out);
        await run('tar', ['-C', out, '-xf', tar]);
        const img = join(dir, `hand-${r}.raw`);
        await run('truncate', ['-s', String(16 * 2 ** 20 + Math.ceil(body.length * 1.25)), img]);
        await run('mkfs.ext4', ['-q', '-L', 'CPSBOOT', '-d', out, '-E', 'root_owner=0:0', img]);
      };
      const steps = [async () => ours.push(await timed(ctx, storage)), async () => guestfs.push(await timed(ctx, virtMakeFs)), async () => byHand.push(await timed(ctx, hand))];
      for (const step of r % 2 === 0 ? steps : steps.reverse()) await step();
      ctx.log(`  bootstrap round ${r + 1}: storage ${Math.round(ours.at(-1)!)} ms, virt-make-fs ${Math.round(guestfs.at(-1)!)} ms, by hand ${Math.round(byHand.at(-1)!)} ms`);
      rmSync(join(dir, `vmf-${r}.img`), { force: true });
    }
  } finally {
    await f.cleanup();
  }
  const o = median(ours);
  const g = median(guestfs);
  const h = median(byHand);
  return [
    {
      id: 'bootstrap-disk',
      title: `bootstrap disk of ${count} small files, storage vs virt-make-fs`,
      ratio: o / g,
      goal: '≤ 0.05x',
      goalRatio: { limit: 0.05, better: 'lower' },
      verdict: ratioVerdict(o / g, 0.05, 'lower'),
      ours: { what: 'POST /bootstraps', value: o, unit: 'ms' },
      reference: { what: 'virt-make-fs (libguestfs, TCG appliance)', value: g, unit: 'ms' },
      extra: [
        { what: 'tar -x + truncate + mkfs.ext4 -d by hand', value: h, unit: 'ms' },
        { what: 'storage / by hand', value: o / h, unit: 'x' },
      ],
      rounds: ctx.rounds,
      notes: [`through storage's app in this process (no HTTP socket); tar of ${count} files plus run.sh`],
    },
  ];
}
