// Console throughput, round-trip latency, CPU per MB and session set-up through CPS's vnc-gateway
// against Debian's websockify, both in front of the same synthetic RFB source, driven by one client.
import { spawnSync } from 'node:child_process';
import { connect } from 'node:net';
import type { BenchContext } from '../lib/context.ts';
import { startChild, type Child } from '../lib/child.ts';
import { treeCpuSeconds } from '../lib/proc.ts';
import { notMeasured, ratioVerdict, type CaseResult } from '../lib/result.ts';
import { median, quantile, round } from '../lib/stats.ts';
import { BANNER } from '../lib/rfb-source.ts';
import { openSession } from '../lib/ws-client.ts';
import { issueConsoleTicket } from '@cps/trust';

interface Proxy {
  name: string;
  /** The process (tree) that carries the stream: its CPU is what is counted. */
  streamPid: number;
  /** The socket URL of the stream or the echo target; the gateway's carries a fresh console ticket each time. */
  url(target: 'stream' | 'echo'): Promise<string>;
  origin: string;
}

interface ProxyFigures {
  mbPerSec: number;
  cpuMsPerMb: number;
  rttP50: number;
  rttP99: number;
  setupMs: number;
}

const tsx = ['--import', 'tsx'];

async function measure(ctx: BenchContext, p: Proxy, o: { streamBytes: number; pings: number; setups: number }): Promise<ProxyFigures> {
  const setups: number[] = [];
  for (let i = 0; i < o.setups; i++) {
    const s = await openSession(await p.url('echo'), p.origin, ctx.now);
    setups.push(s.setupMs);
    s.close();
  }

  const rtts: number[] = [];
  const echo = await openSession(await p.url('echo'), p.origin, ctx.now);
  const ping = Buffer.alloc(16, 7);
  for (let i = 0; i < o.pings; i++) {
    const t = ctx.now();
    echo.send(ping);
    await echo.receive(ping.length);
    rtts.push(ctx.now() - t);
  }
  echo.close();

  const stream = await openSession(await p.url('stream'), p.origin, ctx.now, 60_000);
  const ask = Buffer.alloc(8);
  ask.writeBigUInt64BE(BigInt(o.streamBytes));
  const cpu0 = treeCpuSeconds(p.streamPid);
  const t0 = ctx.now();
  stream.send(ask);
  await stream.receive(o.streamBytes);
  const secs = (ctx.now() - t0) / 1000;
  const cpu = treeCpuSeconds(p.streamPid) - cpu0;
  stream.close();
  const mb = o.streamBytes / 1e6;
  return { mbPerSec: mb / secs, cpuMsPerMb: (cpu * 1000) / mb, rttP50: quantile(rtts, 0.5), rttP99: quantile(rtts, 0.99), setupMs: median(setups) };
}

/** The source read straight over TCP, no proxy: shows the source is not what limits the proxies. */
async function direct(ctx: BenchContext, port: number, bytes: number): Promise<number> {
  const s = connect({ host: '127.0.0.1', port });
  s.on('error', () => {});
  let got = 0;
  let t0 = 0;
  await new Promise<void>((resolve, reject) => {
    s.on('data', (d: Buffer) => {
      got += d.length;
      if (t0 === 0 && got >= BANNER.length) {
        const ask = Buffer.alloc(8);
        ask.writeBigUInt64BE(BigInt(bytes));
        t0 = ctx.now();
        s.write(ask);
      }
      if (t0 && got >= bytes + BANNER.length) resolve();
    });
    s.once('close', () => reject(new Error(`the source closed after ${got} of ${bytes} bytes`)));
  });
  const secs = (ctx.now() - t0) / 1000;
  s.destroy();
  return bytes / 1e6 / secs;
}

async function websockify(ctx: BenchContext, target: number): Promise<{ child: Child; port: number }> {
  const port = ctx.portsBase();
  const child = startChild('websockify', [`127.0.0.1:${port}`, `127.0.0.1:${target}`]);
  await child.waitFor(/proxying from/i, 15_000);
  return { child, port };
}

export async function consoleCases(ctx: BenchContext): Promise<CaseResult[]> {
  const titles = {
    throughput: 'console throughput, one gateway vs websockify',
    p99: 'console round-trip p99, one gateway vs websockify',
    cpu: 'console CPU per MB, one gateway vs websockify',
  };
  if (spawnSync('websockify', ['--help'], { stdio: 'ignore' }).status !== 0) {
    const why = "Debian's websockify (apt-get install websockify)";
    return [notMeasured('console-throughput', titles.throughput, why, '≥ 1.5x'), notMeasured('console-p99', titles.p99, why, '≤ 1x'), notMeasured('console-cpu', titles.cpu, why, '≤ 1x')];
  }
  const children: Child[] = [];
  try {
    const source = startChild(process.execPath, [...tsx, 'bench/lib/rfb-source-main.ts']);
    children.push(source);
    const ports = JSON.parse((await source.waitFor(/\{.*\}/, 30_000))[0]) as { streamPort: number; echoPort: number };
    const gw = startChild(process.execPath, [...tsx, 'bench/lib/gateway-main.ts', String(ports.streamPort), String(ports.echoPort)], { env: { ...process.env, CPS_LOG_LEVEL: 'info' } });
    children.push(gw);
    const gwInfo = JSON.parse((await gw.waitFor(/\{"port":\d+,"ticketKey":"[0-9a-f]+"\}/, 30_000))[0]) as { port: number; ticketKey: string };
    const gwPort = gwInfo.port;
    const key = new Uint8Array(Buffer.from(gwInfo.ticketKey, 'hex'));
    // A ticket as the coordinator issues one (minted before the session, so set-up times the socket only).
    const ticketed = async (taskId: string) => {
      const { ticket } = await issueConsoleTicket(key, { taskId, kind: 'vnc', userId: 'u-00000000000000be', userName: 'bench', now: new Date() });
      return `ws://127.0.0.1:${gwPort}/console/${taskId}/websockify?ticket=${ticket}`;
    };
    const wsStream = await websockify(ctx, ports.streamPort);
    const wsEcho = await websockify(ctx, ports.echoPort);
    children.push(wsStream.child, wsEcho.child);

    const gateway: Proxy = {
      name: 'vnc-gateway',
      streamPid: gw.pid,
      url: (target) => ticketed(target === 'stream' ? 't-stream' : 't-echo'),
      origin: `http://127.0.0.1:${gwPort}`,
    };
    // websockify proxies to one target per process: one for the stream, one for the echo.
    const ref: Proxy = {
      name: 'websockify',
      streamPid: wsStream.child.pid,
      url: async (target) => `ws://127.0.0.1:${(target === 'stream' ? wsStream : wsEcho).port}/`,
      origin: `http://127.0.0.1:${wsStream.port}`,
    };
    const sizes = ctx.quick ? { streamBytes: 32e6, pings: 50, setups: 3 } : { streamBytes: 256e6, pings: 2000, setups: 20 };
    const ceiling: number[] = [];
    const ours: ProxyFigures[] = [];
    const theirs: ProxyFigures[] = [];
    // One small untimed pass through each first: JIT and first-connection costs are not the figure.
    for (const p of [gateway, ref]) await measure(ctx, p, { streamBytes: 4e6, pings: 10, setups: 1 });
    for (let r = 0; r < ctx.rounds; r++) {
      // Alternate who goes first, so a warm cache or a neighbour's burst favours neither.
      const order = r % 2 === 0 ? (['gw', 'ws'] as const) : (['ws', 'gw'] as const);
      for (const who of order) {
        if (who === 'gw') ours.push(await measure(ctx, gateway, sizes));
        else theirs.push(await measure(ctx, ref, sizes));
      }
      ceiling.push(await direct(ctx, ports.streamPort, sizes.streamBytes));
      ctx.log(`  console round ${r + 1}: gateway ${round(ours.at(-1)!.mbPerSec)} MB/s, websockify ${round(theirs.at(-1)!.mbPerSec)} MB/s`);
    }
    const m = (xs: ProxyFigures[], k: keyof ProxyFigures) => median(xs.map((x) => x[k]));
    const notes = [`${round(sizes.streamBytes / 1e6)} MB streamed per round from a synthetic RFB source (own process); ${sizes.pings} pings of 16 bytes; no VNC password (both proxies are a byte pipe after the upgrade)`];
    const through = m(ours, 'mbPerSec') / m(theirs, 'mbPerSec');
    const p99 = m(ours, 'rttP99') / m(theirs, 'rttP99');
    const cpu = m(ours, 'cpuMsPerMb') / m(theirs, 'cpuMsPerMb');
    const setup = { what: 'session set-up (open → RFB banner), median', unit: 'ms' };
    return [
      {
        id: 'console-throughput',
        title: titles.throughput,
        ratio: through,
        goal: '≥ 1.5x',
        goalRatio: { limit: 1.5, better: 'higher' },
        verdict: ratioVerdict(through, 1.5, 'higher'),
        ours: { what: 'vnc-gateway', value: m(ours, 'mbPerSec'), unit: 'MB/s' },
        reference: { what: 'websockify', value: m(theirs, 'mbPerSec'), unit: 'MB/s' },
        extra: [
          { ...setup, what: `vnc-gateway ${setup.what}`, value: m(ours, 'setupMs') },
          { ...setup, what: `websockify ${setup.what}`, value: m(theirs, 'setupMs') },
          { what: 'the source read over plain TCP, no proxy', value: median(ceiling), unit: 'MB/s' },
        ],
        rounds: ctx.rounds,
        notes,
      },
      {
        id: 'console-p99',
        title: titles.p99,
        ratio: p99,
        goal: '≤ 1x (no worse)',
        goalRatio: { limit: 1, better: 'lower' },
        verdict: ratioVerdict(p99, 1, 'lower'),
        ours: { what: 'vnc-gateway p99', value: m(ours, 'rttP99'), unit: 'ms' },
        reference: { what: 'websockify p99', value: m(theirs, 'rttP99'), unit: 'ms' },
        extra: [
          { what: 'vnc-gateway p50', value: m(ours, 'rttP50'), unit: 'ms' },
          { what: 'websockify p50', value: m(theirs, 'rttP50'), unit: 'ms' },
        ],
        rounds: ctx.rounds,
      },
      {
        id: 'console-cpu',
        title: titles.cpu,
        ratio: cpu,
        goal: '≤ 1x (no worse)',
        goalRatio: { limit: 1, better: 'lower' },
        verdict: ratioVerdict(cpu, 1, 'lower'),
        ours: { what: 'vnc-gateway process', value: m(ours, 'cpuMsPerMb'), unit: 'CPU ms/MB' },
        reference: { what: 'websockify process tree', value: m(theirs, 'cpuMsPerMb'), unit: 'CPU ms/MB' },
        rounds: ctx.rounds,
        notes: ['CPU from /proc/<pid>/stat (10 ms ticks) over the stream only'],
      },
      notMeasured('console-two-gateways', 'console through two gateways (the hop, mutual TLS) vs websockify', 'two gateways with member identities of one cluster and a coordinator that locates the task (the hop of tests/hosts/trust.test.ts, run against the synthetic source)'),
    ];
  } finally {
    for (const c of children.reverse()) await c.stop();
  }
}
