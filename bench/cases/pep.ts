// PEP publish → first ACK with 16 and 128 simulated peers on loopback multicast, against a bare UDP
// multicast ping-pong on the same loopback. Goal: at most 2x + 1 ms. The ACK delay that spreads
// answers by headroom (timing.ts) is left out of the figure and reported apart.
import type { BenchContext } from '../lib/context.ts';
import { memoryPeers, pepCluster, peerCapacity, pingPong, requirements, udpPeers, type PepCluster } from '../lib/pep-peers.ts';
import type { CaseResult } from '../lib/result.ts';
import { median, quantile, round } from '../lib/stats.ts';
import { ackDelayMs } from '../../services/discovery/src/timing.ts';

// A group of the bench's own (a node on this machine uses 239.192.77.1, the tests 239.192.77.184).
const group = '239.192.77.219';

async function times(ctx: BenchContext, c: PepCluster, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    out.push(await c.firstAck(ctx.now));
    await ctx.sleep(10); // late ACKs and CONFIRMs settle before the next exchange
  }
  return out;
}

async function measureAt(ctx: BenchContext, peers: number): Promise<CaseResult> {
  const base = ctx.portsBase();
  // 128 sockets in one process take ~1 s a publish here: fewer per round keeps a full run in minutes.
  const perRound = ctx.quick ? 3 : peers > 32 ? 5 : 20;
  const pep = await pepCluster(peers, udpPeers(group, base));
  const bare = await pingPong(peers, group, base + 1);
  const ours: number[] = [];
  const ref: number[] = [];
  try {
    await times(ctx, pep, 2); // warm-up, untimed
    await times(ctx, bare, 2);
    for (let r = 0; r < ctx.rounds; r++) {
      // Alternate who goes first in each round.
      const pair = [() => times(ctx, pep, perRound).then((t) => ours.push(...t)), () => times(ctx, bare, perRound).then((t) => ref.push(...t))];
      for (const step of r % 2 === 0 ? pair : pair.reverse()) await step();
    }
  } finally {
    await pep.close();
    await bare.close();
  }
  const inMemory = await pepCluster(peers, memoryPeers());
  let mem: number[];
  try {
    mem = await times(ctx, inMemory, perRound);
  } finally {
    await inMemory.close();
  }
  const o = median(ours);
  const b = median(ref);
  const limit = 2 * b + 1;
  const delay = ackDelayMs(requirements, peerCapacity({ vcpus: 4, memoryMiB: 4096 }).free, 50);
  return {
    id: `pep-ack-${peers}`,
    title: `PEP publish → first ACK, ${peers} peers (loopback multicast) vs bare UDP ping-pong`,
    ratio: o / b,
    goal: '≤ 2x + 1 ms',
    goalRatio: { limit: limit / b, better: 'lower' },
    verdict: o <= limit ? 'met' : 'missed',
    ours: { what: 'PEP, median', value: o, unit: 'ms' },
    reference: { what: 'ping-pong, median', value: b, unit: 'ms' },
    extra: [
      { what: 'PEP p99', value: quantile(ours, 0.99), unit: 'ms' },
      { what: 'ping-pong p99', value: quantile(ref, 0.99), unit: 'ms' },
      { what: `PEP on the in-memory bus (no sockets), median`, value: median(mem), unit: 'ms' },
      { what: 'ACK delay left out (ackDelayMs at these peers\' headroom, CPS_PEP_ACK_DELAY_MAX_MS=50)', value: delay, unit: 'ms' },
    ],
    rounds: ctx.rounds,
    notes: [`${ours.length} publishes; every peer is a socket in one process, so each datagram is read ${peers + 1} times on these ${ctx.machine.cores} cores; the limit is ${round(limit)} ms`],
  };
}

export async function pepCases(ctx: BenchContext): Promise<CaseResult[]> {
  return [await measureAt(ctx, 16), await measureAt(ctx, 128)];
}
