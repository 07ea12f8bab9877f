import { describe, expect, it } from 'vitest';
import { Membership } from '../src/membership.ts';
import { declineReason } from '../src/responder.ts';
import { ackDelayMs, peerState, retransmitOffsets } from '../src/timing.ts';
import { capacity, req } from './cluster.ts';
import { ports } from './fixtures.ts';

describe('retransmitOffsets', () => {
  it.each([
    [2000, 200, 2, 800, [200, 600, 1400]],
    [200, 200, 2, 800, []],
    [201, 200, 2, 800, [200]],
    [5000, 200, 2, 800, [200, 600, 1400, 2200, 3000, 3800, 4600]],
    [1000, 100, 1, 800, [100, 200, 300, 400, 500, 600, 700, 800, 900]],
  ])('timeout %i, first %i, ×%i, cap %i → %j', (timeout, first, factor, cap, want) => {
    expect(retransmitOffsets(timeout, first, factor, cap)).toEqual(want);
  });

  it('never schedules more than 32 resends', () => {
    expect(retransmitOffsets(60_000, 1, 1, 1)).toHaveLength(32);
  });
});

describe('ackDelayMs', () => {
  it.each([
    [{ vcpus: 1, memoryMiB: 256 }, { vcpus: 4, memoryMiB: 4096 }, 50, 13], // headroom min(0.75, 0.9375)
    [{ vcpus: 1, memoryMiB: 256 }, { vcpus: 1, memoryMiB: 4096 }, 50, 50], // last vCPU: last to answer
    [{ vcpus: 1, memoryMiB: 256 }, { vcpus: 64, memoryMiB: 1 << 20 }, 50, 1],
    [{ vcpus: 1, memoryMiB: 256 }, { vcpus: 4, memoryMiB: 4096 }, 0, 0],
    [{ vcpus: 1, memoryMiB: 256 }, { vcpus: 0, memoryMiB: 0 }, 50, 50],
  ])('need %j, free %j, max %i → %i ms', (need, free, max, want) => {
    expect(ackDelayMs(need, free, max)).toBe(want);
  });
});

describe('peerState', () => {
  it.each([
    [0, 'alive'],
    [2999, 'alive'],
    [3000, 'suspect'],
    [9999, 'suspect'],
    [10_000, 'dead'],
  ] as const)('%i ms of silence → %s', (age, want) => {
    expect(peerState(age)).toBe(want);
  });
});

describe('declineReason', () => {
  it.each([
    [req(256), capacity(), undefined],
    [req(256, { arch: 'aarch64' }), capacity(), 'arch'],
    [req(256, { needsKvm: true }), capacity(), 'kvm'],
    [req(256, { needsKvm: true }), capacity({}, { accelerator: 'kvm' }), undefined],
    [req(256, { vcpus: 5 }), capacity(), 'vcpus'],
    [req(4097), capacity(), 'memory'],
    [req(4096), capacity(), undefined],
    [req(256, { diskMiB: 100_001 }), capacity(), 'disk'],
  ] as const)('%j on %j → %s', (r, cap, want) => {
    expect(declineReason(r, cap.free, cap)).toBe(want);
  });
});

describe('Membership', () => {
  it('tracks peers by last word, ages them, forgets the dead, ignores itself', () => {
    let now = 1000;
    const m = new Membership('me', () => now, { suspectAfterMs: 3000, deadAfterMs: 10_000, forgetAfterMs: 60_000 });
    const info = (nodeId: string) => ({ nodeId, address: '127.0.0.1', ports, uptimeSec: 1 });
    m.observe(info('me'));
    m.observe(info('b'), true);
    m.observe(info('a'));
    expect(m.list().map((p) => [p.nodeId, p.state])).toEqual([['a', 'alive'], ['b', 'alive']]);
    now += 5000;
    m.observe(info('a'));
    expect(m.describe()).toBe('a (alive), b (suspect)');
    now += 60_000;
    expect(m.list()).toEqual([]);
    expect(m.describe()).toBe('none');
  });
});
