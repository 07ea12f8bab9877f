import { describe, expect, it } from 'vitest';
import { HeadElector, MemoryLeaseRecord, parseLease, rankHeads, type LeaseTiming, type PeerView } from '../src/index.ts';

// Found by the simulator (scenarios/fence-paused-head-stalled-command): a head whose coordinator
// is stopped while its discovery still says HELLO stays "the one to lead" in every view, so
// nobody ever claimed its run-out lease, and its late command was obeyed for want of a newer epoch.
const timing: LeaseTiming = { leaseMs: 15_000, driftMs: 2_000, renewMs: 5_000 };
const peer = (nodeId: string, uptimeSec: number): PeerView => ({ nodeId, uptimeSec, state: 'alive', lastSeenMs: 0 });

describe('the next in line claims when the chosen node leaves the lease free', () => {
  it('ranks every live candidate in chooseHead order', () => {
    expect(rankHeads({ nodeId: 'c', uptimeSec: 5 }, [peer('b', 10), peer('a', 10), { ...peer('z', 99), state: 'dead' }])).toEqual(['a', 'b', 'c']);
  });

  it('one whole lease per node ahead of it, then it keeps the term even though the chosen node is still heard', async () => {
    const clock = { t: 0 };
    const record = new MemoryLeaseRecord();
    const make = (id: string) => new HeadElector({ self: id, store: record.store(id), now: () => clock.t, timing });
    const [a, b, c] = [make('a'), make('b'), make('c')];
    const view = (self: string, up: number) => ({ self: { nodeId: self, uptimeSec: up }, peers: [peer('a', 300), peer('b', 200), peer('c', 100)].filter((p) => p.nodeId !== self) });
    expect(await a.step(view('a', 300))).toMatchObject({ role: 'head', epoch: 1 });
    // a's coordinator stops; its lease expires at 15 s, claimable from 17 s.
    clock.t = 17_000;
    expect(await b.step(view('b', 200))).toMatchObject({ role: 'follower' }); // free since 17 s
    expect(await c.step(view('c', 100))).toMatchObject({ role: 'follower' });
    clock.t = 31_999;
    expect(await b.step(view('b', 200))).toMatchObject({ role: 'follower' });
    clock.t = 32_000;
    expect(await b.step(view('b', 200))).toMatchObject({ role: 'head', epoch: 2 });
    expect(parseLease(record.text!)).toMatchObject({ holder: 'b', epoch: 2 });
    // c, third in line, now sees a live lease and starts its wait again.
    clock.t = 37_000;
    expect(await c.step(view('c', 100))).toMatchObject({ role: 'follower', head: 'b' });
    // b renews, and does not hand back to a, which it still hears.
    expect(await b.step(view('b', 200))).toMatchObject({ role: 'head', epoch: 2 });
    // a wakes: its term is over, b's lease is live, so it follows.
    expect(await a.step(view('a', 300))).toMatchObject({ role: 'follower', head: 'b' });
  });

  it('a chosen node that claims in time is never overtaken', async () => {
    const clock = { t: 0 };
    const record = new MemoryLeaseRecord();
    const a = new HeadElector({ self: 'a', store: record.store('a'), now: () => clock.t, timing });
    const b = new HeadElector({ self: 'b', store: record.store('b'), now: () => clock.t, timing });
    const view = (self: string) => ({ self: { nodeId: self, uptimeSec: self === 'a' ? 300 : 200 }, peers: [peer(self === 'a' ? 'b' : 'a', self === 'a' ? 200 : 300)] });
    await a.step(view('a'));
    for (clock.t = 5_000; clock.t <= 120_000; clock.t += 5_000) {
      expect(await b.step(view('b'))).toMatchObject({ role: 'follower', head: 'a' });
      expect(await a.step(view('a'))).toMatchObject({ role: 'head', epoch: 1 });
    }
  });
});

// Found by the simulator (scenarios/forwarding-released-lease): a follower kept forwarding to a
// head that had released its lease, until the drift margin after the release had passed.
describe('whom a follower forwards to', () => {
  it('the holder while its lease runs; nobody after a release or in the drift margin after the end', async () => {
    const clock = { t: 0 };
    const record = new MemoryLeaseRecord();
    const a = new HeadElector({ self: 'a', store: record.store('a'), now: () => clock.t, timing });
    const b = new HeadElector({ self: 'b', store: record.store('b'), now: () => clock.t, timing });
    const view = (self: string) => ({ self: { nodeId: self, uptimeSec: self === 'a' ? 300 : 200 }, peers: [peer(self === 'a' ? 'b' : 'a', self === 'a' ? 200 : 300)] });
    await a.step(view('a'));
    clock.t = 14_999;
    expect(await b.step(view('b'))).toMatchObject({ role: 'follower', head: 'a' });
    clock.t = 15_000; // expired, not yet claimable (drift)
    expect(await b.step(view('b'))).toMatchObject({ role: 'follower', head: undefined });
    clock.t = 20_000;
    await a.step(view('a')); // a claims again (its own lapsed lease), then resigns
    expect(await a.resign()).toBe('released');
    clock.t = 20_001;
    expect(await b.step({ self: { nodeId: 'b', uptimeSec: 200 }, peers: [] })).toMatchObject({ role: 'follower', head: undefined });
  });
});
