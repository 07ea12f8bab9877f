import { describe, expect, it } from 'vitest';
import { fairOrder, newFairClock, startedAt, tagFor, type FairClock } from '../src/queue/fairness.ts';
import { afterPlacing, waitReason, type PeerCapacity } from '../src/queue/reason.ts';

/**
 * Replays a script on a one-slot cluster: `a3` submits alice's third task, `.` starts the next task
 * in fair order (the running one ended). Returns the order tasks started in.
 */
function replay(script: string): string[] {
  let clock: FairClock = newFairClock();
  let seq = 0;
  const waiting: { id: string; tag: number; seq: number }[] = [];
  const started: string[] = [];
  for (const step of script.split(/\s+/).filter(Boolean)) {
    if (step === '.') {
      const [next] = fairOrder(waiting);
      if (!next) continue;
      waiting.splice(waiting.indexOf(next), 1);
      clock = startedAt(clock, next.tag);
      started.push(next.id);
      continue;
    }
    const owner = step[0]!;
    const t = tagFor(clock, owner);
    clock = t.clock;
    waiting.push({ id: step, tag: t.tag, seq: ++seq });
  }
  return started;
}

describe('fairness between users (start-time fair queueing)', () => {
  it.each([
    // One user alone: first come, first served.
    ['a1 a2 a3 . . .', 'a1 a2 a3'],
    // Alice's first runs; her second and third wait; Bob's first comes after: it starts before her third.
    ['a1 . a2 a3 b1 . . .', 'a1 a2 b1 a3'],
    // Alice queued ten before Bob's first: his first is the second to start, not the eleventh.
    ['a1 a2 a3 a4 a5 a6 a7 a8 a9 a10 b1 . . . . . . . . . . .', 'a1 b1 a2 a3 a4 a5 a6 a7 a8 a9 a10'],
    // Two users with backlogs alternate.
    ['a1 a2 a3 b1 b2 b3 . . . . . .', 'a1 b1 a2 b2 a3 b3'],
    // Three users: one turn each per round.
    ['a1 a2 b1 b2 c1 c2 . . . . . .', 'a1 b1 c1 a2 b2 c2'],
    // Bob was away while Alice ran five: he banks no credit, he is just next in turn.
    ['b1 . a1 . a2 . a3 . a4 . a5 a6 a7 b2 . . . .', 'b1 a1 a2 a3 a4 a5 b2 a6 a7'],
  ])('%s starts %s', (script, expected) => {
    expect(replay(script)).toEqual(expected.split(' '));
  });

  it('gives each tag once: an owner’s tags grow, and never fall below the virtual time', () => {
    let c = newFairClock();
    const a1 = tagFor(c, 'a');
    c = a1.clock;
    const a2 = tagFor(c, 'a');
    c = startedAt(a2.clock, 7);
    expect([a1.tag, a2.tag]).toEqual([1, 2]);
    expect(tagFor(c, 'a').tag).toBe(8);
    expect(tagFor(c, 'someone new').tag).toBe(8);
  });
});

const peer = (nodeId: string, free?: PeerCapacity['free'], total?: PeerCapacity['total']): PeerCapacity => ({
  nodeId,
  ...(free ? { free } : {}),
  ...(total ? { total } : {}),
});
const r = (vcpus: number, memoryMiB = 256, diskMiB = 64) => ({ vcpus, memoryMiB, diskMiB });
const big = r(16, 65536, 1_000_000);

describe('why a task waits', () => {
  it.each<[string, ReturnType<typeof r>, PeerCapacity[], string | undefined]>([
    ['a peer fits', r(2), [peer('a', r(1)), peer('b', r(2))], undefined],
    ['a peer whose free capacity is unknown might fit: publish', r(2), [peer('a', r(1)), peer('b')], undefined],
    ['no peer at all', r(1), [], 'no peer is known yet'],
    ['vCPUs short', r(4), [peer('a', r(2), big), peer('b', r(1), big)], 'needs 4 vCPUs; the largest free peer lends 2'],
    ['one vCPU, none free', r(1), [peer('a', r(0), big)], 'needs 1 vCPU; the largest free peer lends 0'],
    ['memory short', r(1, 2048), [peer('a', r(4, 1024), big)], 'needs 2048 MiB of memory; the largest free peer lends 1024 MiB'],
    ['disk short', r(1, 256, 5000), [peer('a', r(4, 4096, 100), big)], 'needs 5000 MiB of disk; the largest free peer lends 100 MiB'],
    ['enough of each, but not on one peer', r(2, 2048), [peer('a', r(2, 256), big), peer('b', r(1, 4096), big)],
      'needs 2 vCPUs, 2048 MiB of memory and 64 MiB of disk at once; no peer has them all free'],
    ['bigger than any peer lends in all', r(8), [peer('a', r(4), r(4, 8192, 100_000)), peer('b', r(2), r(2, 8192, 100_000))],
      'needs 8 vCPUs; the largest peer lends 4 in all (it waits for a bigger peer to join)'],
  ])('%s', (_what, need, peers, expected) => {
    expect(waitReason(need, peers)).toBe(expected);
  });

  it('counts a task just placed against its peer until the next HELLO says so', () => {
    const view = afterPlacing([peer('a', r(2, 1024)), peer('b', r(2, 1024))], 'a', r(2, 512));
    expect(view).toEqual([peer('a', r(0, 512, 0)), peer('b', r(2, 1024))]);
    expect(waitReason(r(2), [view[0]!])).toBe('needs 2 vCPUs; the largest free peer lends 0');
  });
});
