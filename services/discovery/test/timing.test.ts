import { describe, expect, it } from 'vitest';
import { Membership } from '../src/membership.ts';
import { declineReason } from '../src/responder.ts';
import { ackDelayMs, membershipTiming, peerState, retransmitOffsets } from '../src/timing.ts';
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
    [4999, 'suspect'],
    [5000, 'dead'],
  ] as const)('%i ms of silence → %s', (age, want) => {
    expect(peerState(age)).toBe(want);
  });
});

describe('membershipTiming', () => {
  it.each([
    // helloMs, then suspect, dead, forget, tick
    [1000, 3000, 5000, 60_000, 250],
    [250, 750, 1250, 60_000, 63],
    [100, 300, 500, 60_000, 25],
    [5000, 15_000, 25_000, 300_000, 500],
    [0, 3000, 5000, 60_000, 250], // HELLO once: time as if every second
  ])('HELLO every %i ms → suspect %i, dead %i, forget %i, tick %i', (hello, suspect, dead, forget, tick) => {
    expect(membershipTiming(hello)).toEqual({ suspectAfterMs: suspect, deadAfterMs: dead, forgetAfterMs: forget, tickMs: tick });
  });

  it('dead always comes after suspect', () => {
    expect(membershipTiming(1000, 4, 2)).toMatchObject({ suspectAfterMs: 4000, deadAfterMs: 5000 });
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
  const info = (nodeId: string, uptimeSec = 1) => ({ nodeId, address: '127.0.0.1', ports, uptimeSec });
  const timing = { suspectAfterMs: 3000, deadAfterMs: 5000, forgetAfterMs: 60_000 };
  function setup() {
    const clock = { now: 1_000_000 };
    const m = new Membership('me', () => clock.now, timing);
    const events: string[] = [];
    m.subscribe((e) => events.push(`${e.type}:${e.peer.nodeId}${e.reason ? `:${e.reason}` : ''}`));
    return { clock, m, events };
  }

  it('tracks peers by last word, ages them, forgets the dead, ignores itself', () => {
    const { clock, m } = setup();
    m.observe(info('me'));
    m.observe(info('b'), { head: true });
    m.observe(info('a'));
    expect(m.list().map((p) => [p.nodeId, p.state, p.head])).toEqual([['a', 'alive', false], ['b', 'alive', true]]);
    clock.now += 4000;
    m.observe(info('a'));
    expect(m.describe()).toBe('a (alive), b (suspect)');
    clock.now += 60_000;
    expect(m.list()).toEqual([]);
    expect(m.describe()).toBe('none');
  });

  // Each row: steps of [advance ms, action], then the events expected (memberlist's table style).
  it.each([
    ['silence: suspect then dead', [[0, 'hello a'], [2999, 'tick'], [1, 'tick'], [1999, 'tick'], [1, 'tick']], ['joined:a', 'suspect:a', 'dead:a']],
    ['heard again while suspect', [[0, 'hello a'], [3500, 'tick'], [0, 'hello a'], [100, 'tick']], ['joined:a', 'suspect:a', 'alive:a']],
    ['heard again after dead', [[0, 'hello a'], [6000, 'tick'], [0, 'hello a']], ['joined:a', 'dead:a', 'alive:a']],
    ['LEAVE removes at once', [[0, 'hello a'], [10, 'leave a'], [0, 'tick']], ['joined:a', 'left:a:leave']],
    ['dead long enough is forgotten', [[0, 'hello a'], [60_000, 'tick']], ['joined:a', 'left:a:forgotten']],
    ['a HELLO sent before the LEAVE (reordered) does not revive', [[0, 'hello a'], [10, 'leave a'], [0, 'hello a@-5']], ['joined:a', 'left:a:leave']],
    ['a HELLO sent after the LEAVE (restart) joins again', [[0, 'hello a'], [10, 'leave a'], [1000, 'hello a']], ['joined:a', 'left:a:leave', 'joined:a']],
    ['an older HELLO after a newer one is ignored', [[0, 'hello a'], [100, 'hello a@-50'], [0, 'tick']], ['joined:a']],
    ['steady HELLOs: no events after joining', [[0, 'hello a'], [1000, 'hello a'], [1000, 'hello a'], [1000, 'tick']], ['joined:a']],
  ] as const)('%s', (_name, steps, want) => {
    const { clock, m, events } = setup();
    for (const [dt, action] of steps) {
      clock.now += dt;
      const [verb, arg = ''] = action.split(' ');
      const [id, skew] = arg.split('@');
      const sentAt = clock.now + Number(skew ?? 0);
      if (verb === 'hello') m.observe(info(id!), { sentAt });
      else if (verb === 'leave') m.leave(id!, sentAt);
      else m.tick();
    }
    expect(events).toEqual(want);
  });

  it('lists unicast targets for peers not dead, with the address they send from', () => {
    const { clock, m } = setup();
    m.observe(info('a'), { from: { address: '10.0.0.1', port: 47777 } });
    m.observe(info('b'));
    expect(m.unicastTargets()).toEqual([{ address: '10.0.0.1', port: 47777 }]);
    clock.now += 5000;
    expect(m.unicastTargets()).toEqual([]);
  });
});
