import { describe, expect, it } from 'vitest';
import { HeadElector, HeadLoop, MemoryLeaseRecord, parseLease, type HeadStatus, type LeaseTiming, type LoopTimers } from '../src/index.ts';

const timing: LeaseTiming = { leaseMs: 15_000, driftMs: 2_000, renewMs: 5_000 };

/** Timers on a virtual clock: `advance` runs what falls due, in order, letting promises settle. */
function virtualTimers() {
  const clock = { t: 0 };
  let seq = 0;
  const due = new Map<number, { at: number; fn: () => void }>();
  const timers: LoopTimers = {
    setTimeout: (fn, ms) => {
      const id = ++seq;
      due.set(id, { at: clock.t + ms, fn });
      return id;
    },
    clearTimeout: (h) => void due.delete(h as number),
  };
  const settle = async () => {
    for (let i = 0; i < 20; i++) await Promise.resolve();
  };
  const advance = async (ms: number) => {
    const end = clock.t + ms;
    for (;;) {
      await settle();
      const next = [...due.entries()].sort((a, b) => a[1].at - b[1].at)[0];
      if (!next || next[1].at > end) break;
      due.delete(next[0]);
      clock.t = next[1].at;
      next[1].fn();
    }
    clock.t = end;
    await settle();
  };
  return { clock, timers, advance, pending: () => due.size };
}

describe('HeadLoop: steps the elector on injected timers', () => {
  it('steps at once and then every renewMs; the lease is renewed each time', async () => {
    const v = virtualTimers();
    const record = new MemoryLeaseRecord();
    const statuses: HeadStatus[] = [];
    const elector = new HeadElector({ self: 'a', store: record.store('10.0.0.1'), now: () => v.clock.t, timing });
    const loop = new HeadLoop({ elector, view: async () => ({ self: { nodeId: 'a', uptimeSec: 1 }, peers: [] }), timers: v.timers, everyMs: timing.renewMs, onStatus: (s) => statuses.push(s) });
    loop.start();
    await v.advance(0);
    expect(statuses).toEqual([{ role: 'head', epoch: 1, leadsUntil: 13_000 }]);
    await v.advance(12_000);
    expect(statuses).toHaveLength(3); // at 0, 5 s, 10 s
    expect(parseLease(record.text!)).toEqual({ holder: 'a', epoch: 1, expiresAt: 25_000 });
    await loop.stop();
    expect(v.pending()).toBe(0);
    await v.advance(20_000);
    expect(statuses).toHaveLength(3);
  });

  it('a view that throws skips the step; stop with resign hands the lease back at once', async () => {
    const v = virtualTimers();
    const record = new MemoryLeaseRecord();
    const elector = new HeadElector({ self: 'a', store: record.store('10.0.0.1'), now: () => v.clock.t, timing });
    let fail = false;
    const statuses: HeadStatus[] = [];
    const loop = new HeadLoop({
      elector,
      view: async () => {
        if (fail) throw new Error('discovery down');
        return { self: { nodeId: 'a', uptimeSec: 1 }, peers: [] };
      },
      timers: v.timers,
      everyMs: timing.renewMs,
      onStatus: (s) => statuses.push(s),
    });
    loop.start();
    await v.advance(0);
    fail = true;
    await v.advance(10_000);
    expect(statuses).toHaveLength(1);
    expect(elector.commandEpoch()).toBe(1); // still within its term by its clock
    await loop.stop({ resign: true });
    expect(elector.commandEpoch()).toBeUndefined();
    expect(parseLease(record.text!)).toEqual({ holder: 'a', epoch: 1, expiresAt: 10_000 });
    expect(record.address).toBeUndefined();
    // The next node claims right after the drift margin, not after the whole lease.
    const b = new HeadElector({ self: 'b', store: record.store('10.0.0.2'), now: () => v.clock.t + timing.driftMs, timing });
    expect(await b.step({ self: { nodeId: 'b', uptimeSec: 1 }, peers: [] })).toMatchObject({ role: 'head', epoch: 2 });
  });
});
