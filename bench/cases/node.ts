// A one-node `cps up` (its own data dir, ports and cluster, on loopback) from start to healthy, then
// the idle node: RSS and CPU of its five service processes. Beside it, the floor: five bare Node
// processes with tsx, each serving one port, started the same way and left idle just as long.
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchContext } from '../lib/context.ts';
import { startChild, type Child } from '../lib/child.ts';
import { cpuSeconds, memoryMiB } from '../lib/proc.ts';
import { ratioVerdict, type CaseResult } from '../lib/result.ts';
import { median } from '../lib/stats.ts';
import { makeDataDir } from '../../tests/helpers/hosts-data.ts';

const RSS_GOAL_MIB = 200;
const CPU_GOAL_PERCENT = 0.5;

interface Idle {
  rssMiB: number;
  pssMiB: number;
  cpuPercent: number;
}

/** Sums memory over `pids` and their CPU over `windowMs`, as a share of one core. */
async function idle(ctx: BenchContext, pids: number[], windowMs: number): Promise<Idle> {
  const cpu0 = pids.reduce((s, p) => s + cpuSeconds(p), 0);
  const t0 = ctx.now();
  await ctx.sleep(windowMs);
  const cpu = pids.reduce((s, p) => s + cpuSeconds(p), 0) - cpu0;
  const secs = (ctx.now() - t0) / 1000;
  const mem = pids.map(memoryMiB);
  return { rssMiB: mem.reduce((s, m) => s + m.rss, 0), pssMiB: mem.reduce((s, m) => s + m.pss, 0), cpuPercent: (cpu / secs) * 100 };
}

async function startCps(ctx: BenchContext, dataDir: string, base: number, nodeId: string): Promise<{ child: Child; ms: number; pids: number[] }> {
  const t = ctx.now();
  const child = startChild(process.execPath, ['cli/bin/cps.js', 'up', '--ports-base', String(base), '--health-timeout', '120', '--data-dir', dataDir], {
    env: {
      ...process.env,
      NO_COLOR: '1',
      CPS_NODE_ID: nodeId,
      CPS_PEP_PORT: String(base + 9),
      // Loopback only: cps up would otherwise advertise and multicast on the default route's interface.
      CPS_ADVERTISE_ADDRESS: '127.0.0.1',
      CPS_PEP_INTERFACE: '127.0.0.1',
    },
  });
  await child.waitFor(new RegExp(`portal: http://localhost:${base}`), 150_000);
  const ms = ctx.now() - t;
  const pids = [...child.output().matchAll(/started \(pid (\d+), port \d+\)/g)].map((m) => Number(m[1]));
  if (pids.length !== 5) throw new Error(`cps up named ${pids.length} service pids, not 5:\n${child.output().slice(-2000)}`);
  return { child, ms, pids };
}

async function startBare(ctx: BenchContext, base: number): Promise<{ children: Child[]; ms: number }> {
  const t = ctx.now();
  const children = Array.from({ length: 5 }, (_, i) => startChild(process.execPath, ['--import', 'tsx', 'bench/lib/bare-node-main.ts', String(base + i)]));
  await Promise.all(children.map((c) => c.waitFor(/ready on/, 60_000)));
  return { children, ms: ctx.now() - t };
}

export async function nodeCases(ctx: BenchContext): Promise<CaseResult[]> {
  const dataDir = join(ctx.tmp, 'node');
  mkdirSync(dataDir, { recursive: true });
  chmodSync(ctx.tmp, 0o755);
  chmodSync(dataDir, 0o755);
  makeDataDir(dataDir, ctx.sourceDataDir);
  const nodeId = `bench-${randomBytes(3).toString('hex')}`;
  const base = ctx.portsBase();
  const bareBase = ctx.portsBase();
  const starts = ctx.quick ? 1 : 1 + Math.min(ctx.rounds, 3);
  const settleMs = ctx.quick ? 2_000 : 10_000;
  const windowMs = ctx.quick ? 3_000 : 10_000;
  const first: number[] = [];
  const again: number[] = [];
  const bareStarts: number[] = [];
  let ours: Idle | undefined;
  let bare: Idle | undefined;
  for (let i = 0; i < starts; i++) {
    const b = await startBare(ctx, bareBase);
    bareStarts.push(b.ms);
    const last = i === starts - 1;
    if (last) {
      await ctx.sleep(settleMs);
      bare = await idle(ctx, b.children.map((c) => c.pid), windowMs);
    }
    for (const c of b.children) await c.stop();

    const n = await startCps(ctx, dataDir, base, nodeId);
    (i === 0 ? first : again).push(n.ms);
    try {
      if (last) {
        await ctx.sleep(settleMs);
        ours = await idle(ctx, n.pids, windowMs);
      }
    } finally {
      await n.child.stop('SIGINT');
    }
    ctx.log(`  cps up start ${i + 1}: healthy after ${Math.round(n.ms)} ms (5 bare Node processes: ${Math.round(b.ms)} ms)`);
  }
  const up = median(again.length ? again : first);
  const floor = median(bareStarts);
  const rssRatio = ours!.rssMiB / bare!.rssMiB;
  const window = `${windowMs / 1000} s after ${settleMs / 1000} s to settle`;
  return [
    {
      id: 'cps-up',
      title: 'one-node cps up, start → healthy, vs five bare Node processes',
      ratio: up / floor,
      verdict: 'no goal',
      goal: 'none set (README: seconds)',
      ours: { what: again.length ? 'cps up, a cluster that exists (median)' : 'cps up, a new cluster', value: up, unit: 'ms' },
      reference: { what: 'five node --import tsx HTTP servers', value: floor, unit: 'ms' },
      extra: [{ what: 'first cps up (makes the cluster CA, certificate and PEP key)', value: first[0]!, unit: 'ms' }],
      rounds: starts,
      notes: ['until cps up prints the portal URL, which it does once every service answers /healthz'],
    },
    {
      id: 'idle-rss',
      title: 'idle node memory, five services vs five bare Node processes',
      ratio: rssRatio,
      goal: `< ${RSS_GOAL_MIB} MB RSS in all`,
      verdict: ours!.rssMiB < RSS_GOAL_MIB ? 'met' : 'missed',
      ours: { what: 'RSS, sum of the five', value: ours!.rssMiB, unit: 'MiB' },
      reference: { what: 'RSS, five bare', value: bare!.rssMiB, unit: 'MiB' },
      extra: [
        { what: 'PSS, sum of the five services', value: ours!.pssMiB, unit: 'MiB' },
        { what: 'PSS, five bare', value: bare!.pssMiB, unit: 'MiB' },
      ],
      notes: [`the goal is absolute; measured ${window}`],
    },
    {
      id: 'idle-cpu',
      title: 'idle node CPU, five services (ratio: of the goal)',
      ratio: ours!.cpuPercent / CPU_GOAL_PERCENT,
      goal: `< ${CPU_GOAL_PERCENT}% of a core`,
      goalRatio: { limit: 1, better: 'lower' },
      verdict: ratioVerdict(ours!.cpuPercent / CPU_GOAL_PERCENT, 1, 'lower') === 'met' && ours!.cpuPercent < CPU_GOAL_PERCENT ? 'met' : 'missed',
      ours: { what: 'CPU, sum of the five', value: ours!.cpuPercent, unit: '% of a core' },
      reference: { what: 'five bare', value: bare!.cpuPercent, unit: '% of a core' },
      notes: [`the goal is absolute (the bare floor is near 0, so the ratio is to the goal); ${window}; 10 ms ticks from /proc/<pid>/stat`],
    },
  ];
}
