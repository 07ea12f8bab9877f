import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProblemError } from '@cps/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkLeaseTiming,
  chooseHead,
  claimableFrom,
  DnsClient,
  DnsLeaseStore,
  FenceGuard,
  HeadElector,
  leadsUntil,
  MemoryLeaseRecord,
  nextEpoch,
  tcpTransport,
  type LeaseStore,
  type LeaseTiming,
  type PeerView,
} from '../src/index.ts';
import { startBind, type Bind } from './bind.ts';

const timing: LeaseTiming = { leaseMs: 15_000, driftMs: 2_000, renewMs: 5_000 };
const peer = (nodeId: string, uptimeSec: number, state: PeerView['state'] = 'alive', lastSeenMs = 0): PeerView => ({ nodeId, uptimeSec, state, lastSeenMs });

describe('who leads: the longest-up live node, ties by node id', () => {
  it.each([
    { name: 'the longest up', self: ['b', 50], peers: [peer('a', 100), peer('c', 10)], head: 'a' },
    { name: 'this node when it is the longest up', self: ['b', 500], peers: [peer('a', 100)], head: 'b' },
    { name: 'a dead peer is no candidate', self: ['b', 50], peers: [peer('a', 100, 'dead')], head: 'b' },
    { name: 'a suspect peer still is (a few lost HELLOs move nothing)', self: ['b', 50], peers: [peer('a', 100, 'suspect')], head: 'a' },
    { name: 'uptime counts the time since its HELLO', self: ['b', 100.5], peers: [peer('a', 100, 'alive', 1_000)], head: 'a' },
    { name: 'a tie goes to the smaller node id', self: ['b', 100], peers: [peer('c', 100), peer('a', 100)], head: 'a' },
    { name: 'alone', self: ['b', 1], peers: [], head: 'b' },
    { name: 'a peer listed under our own id is ignored', self: ['b', 1], peers: [peer('b', 999)], head: 'b' },
  ] as const)('$name', ({ self, peers, head }) => {
    expect(chooseHead({ nodeId: self[0], uptimeSec: self[1] }, peers)).toBe(head);
  });
});

describe('lease timing', () => {
  it('the holder stops driftMs before the end, others start driftMs after it; epochs only grow', () => {
    expect(leadsUntil(1_000, timing)).toBe(14_000);
    expect(claimableFrom({ holder: 'a', epoch: 1, expiresAt: 16_000 }, timing)).toBe(18_000);
    expect(nextEpoch()).toBe(1);
    expect(nextEpoch(3, 7, 2)).toBe(8);
  });
  it.each([
    { leaseMs: 10_000, driftMs: 1_000, renewMs: 5_000 }, // no room for one lost renewal
    { leaseMs: 0, driftMs: 0, renewMs: 1 },
    { leaseMs: 10_000, driftMs: -1, renewMs: 1_000 },
  ])('refuses %j', (t) => {
    expect(() => checkLeaseTiming(t)).toThrow();
  });
});

/** A node on the virtual clock: its elector, its own clock offset, and whether it is paused. */
interface SimNode {
  id: string;
  startedAt: number;
  skew: number;
  paused: boolean;
  elector: HeadElector;
}

/** Nodes sharing one lease record and one virtual clock `t`; `view` is what discovery would say. */
function cluster(ids: string[], storeOf: (id: string) => LeaseStore, skews: Record<string, number> = {}) {
  const clock = { t: 1_000_000 };
  const nodes = ids.map((id, i): SimNode => {
    const skew = skews[id] ?? 0;
    return { id, startedAt: clock.t - (ids.length - i) * 100_000, skew, paused: false, elector: new HeadElector({ self: id, store: storeOf(id), now: () => clock.t + skew, timing }) };
  });
  const lastHeard = new Map<string, number>(ids.map((id) => [id, clock.t]));
  const view = (me: SimNode) => ({
    self: { nodeId: me.id, uptimeSec: (clock.t - me.startedAt) / 1000 },
    peers: nodes
      .filter((p) => p !== me)
      .map((p) => {
        const silent = clock.t - lastHeard.get(p.id)!;
        // discovery's timing: suspect after 3 s of silence, dead after 5 s
        return peer(p.id, (lastHeard.get(p.id)! - p.startedAt) / 1000, silent < 3_000 ? 'alive' : silent < 5_000 ? 'suspect' : 'dead', silent);
      }),
  });
  const step = async (node: SimNode) => node.elector.step(view(node));
  /** Advances the clock by `ms` in 1 s ticks; every unpaused node says HELLO and steps each tick. */
  const run = async (ms: number, each?: () => void) => {
    for (let left = ms; left > 0; left -= 1_000) {
      clock.t += 1_000;
      for (const n of nodes) if (!n.paused) lastHeard.set(n.id, clock.t);
      for (const n of nodes) if (!n.paused) await step(n);
      each?.();
    }
  };
  const heads = () => nodes.filter((n) => n.elector.commandEpoch() !== undefined).map((n) => n.id);
  return { clock, nodes, step, run, heads, node: (id: string) => nodes.find((n) => n.id === id)! };
}

function fenceDir() {
  return join(mkdtempSync(join(tmpdir(), 'cps-fence-')), 'epoch.json');
}

/** The scenarios run on the in-memory record and on a real BIND9, with the same expectations. */
let bind: Bind;
beforeAll(async () => {
  bind = await startBind();
});
afterAll(async () => {
  await bind?.stop();
});
let names = 0;
/** Each backend: a store per node, and what a user resolving the name would get (its A record). */
const backends = {
  memory: () => {
    const record = new MemoryLeaseRecord();
    return { storeOf: (id: string) => record.store(addressOf(id)), resolve: () => (record.address ? [record.address] : []) };
  },
  bind9: () => {
    const name = `sim${++names}.${bind.zone}`;
    // TSIG signs with the real clock (BIND checks it); the lease's times are the virtual clock's.
    const storeOf = (id: string) =>
      new DnsLeaseStore({ client: new DnsClient({ transport: tcpTransport({ host: '127.0.0.1', port: bind.port }), key: bind.key, now: () => Date.now() }), zone: bind.zone, name, address: addressOf(id) });
    return { storeOf, resolve: () => bind.dig(name, 'A') };
  },
};
const addressOf = (id: string) => `10.0.0.${id.charCodeAt(0)}`;

describe.each(Object.entries(backends))('the head on a virtual clock (%s)', (_backend, backend) => {
  it('the longest-up node claims epoch 1, renews, and others follow it', async () => {
    const c = cluster(['a', 'b', 'c'], backend().storeOf);
    expect(await c.step(c.node('a'))).toMatchObject({ role: 'head', epoch: 1 });
    expect(await c.step(c.node('b'))).toMatchObject({ role: 'follower', head: 'a', epoch: 1 });
    await c.run(30_000, () => expect(c.heads()).toEqual(['a']));
    expect(c.node('a').elector.commandEpoch()).toBe(1);
  });

  it('a paused head: its own clock ends its term, the next claims only after lease + drift, and hosts refuse the old epoch', async () => {
    const b = backend();
    const c = cluster(['a', 'b'], b.storeOf);
    const host = await FenceGuard.open(fenceDir());
    expect(await c.step(c.node('a'))).toMatchObject({ role: 'head', epoch: 1 });
    await host.admit(1, 'a');
    c.node('a').paused = true; // SIGSTOP
    const pausedAt = c.clock.t;
    let claimedAt: number | undefined;
    await c.run(40_000, () => {
      const heads = c.heads();
      expect(heads.length).toBeLessThanOrEqual(1);
      if (heads[0] === 'b' && claimedAt === undefined) claimedAt = c.clock.t;
    });
    // a's last write was at pausedAt: b waits out the lease and the drift, never less.
    expect(claimedAt! - pausedAt).toBeGreaterThanOrEqual(timing.leaseMs + timing.driftMs);
    expect(claimedAt! - pausedAt).toBeLessThanOrEqual(timing.leaseMs + timing.driftMs + 1_000);
    expect(claimedAt! - pausedAt).toBeLessThan(2 * timing.leaseMs); // issue 11: within twice the lease
    expect(c.node('b').elector.commandEpoch()).toBe(2);
    expect(b.resolve()).toEqual([addressOf('b')]); // users now reach b by the name
    await host.admit(2, 'b');

    c.node('a').paused = false; // SIGCONT: a wakes believing nothing has happened
    expect(c.node('a').elector.commandEpoch()).toBeUndefined();
    // A command it had already put together still carries epoch 1: the host says no, naming both.
    const refused = await host.admit(1, 'a').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ProblemError);
    expect(refused).toMatchObject({ problemType: 'stale-epoch', extensions: { epoch: 1, highestEpoch: 2 } });
    expect((refused as Error).message).toMatch(/epoch 1 \(from a\) is older than epoch 2/);
    const woke = await c.step(c.node('a'));
    expect(woke).toMatchObject({ role: 'follower', head: 'b', epoch: 2 });
  });

  it('the longer-up node, back, gets the head: the holder hands over and it claims a larger epoch', async () => {
    const b = backend();
    const c = cluster(['a', 'b'], b.storeOf);
    await c.step(c.node('a'));
    c.node('a').paused = true;
    await c.run(20_000);
    expect(c.heads()).toEqual(['b']);
    c.node('a').paused = false;
    const epochs: number[] = [];
    await c.run(10_000, () => {
      expect(c.heads().length).toBeLessThanOrEqual(1);
      const e = c.node('a').elector.commandEpoch();
      if (e !== undefined) epochs.push(e);
    });
    expect(c.heads()).toEqual(['a']);
    expect(epochs[0]).toBe(3);
    expect(b.resolve()).toEqual([addressOf('a')]);
  });

  it('a head that resigns: the name points nowhere, and the next claims after the drift margin only', async () => {
    const b = backend();
    const c = cluster(['a', 'b'], b.storeOf);
    await c.step(c.node('a'));
    expect(b.resolve()).toEqual([addressOf('a')]);
    expect(await c.node('a').elector.resign()).toBe('released');
    c.node('a').paused = true; // it shut down
    expect(b.resolve()).toEqual([]);
    const resignedAt = c.clock.t;
    await c.run(6_000);
    expect(c.heads()).toEqual(['b']);
    expect(c.node('b').elector.commandEpoch()).toBe(2);
    expect(c.clock.t - resignedAt).toBeLessThan(timing.leaseMs);
    expect(b.resolve()).toEqual([addressOf('b')]);
  });

  it('clocks apart by less than the drift margin: never two heads at once, whoever pauses', async () => {
    const c = cluster(['a', 'b', 'c'], backend().storeOf, { a: 1_500, b: -1_500, c: 700 });
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    let epoch = 0;
    for (let round = 0; round < 12; round++) {
      for (const n of c.nodes) n.paused = rand() < 0.3;
      await c.run(6_000, () => {
        const heads = c.heads();
        expect(heads.length).toBeLessThanOrEqual(1);
        // and each new term has a larger epoch than every one before it
        const e = heads[0] ? c.node(heads[0]).elector.commandEpoch()! : epoch;
        expect(e).toBeGreaterThanOrEqual(epoch);
        epoch = e;
      });
    }
    expect(epoch).toBeGreaterThan(1);
  });
});

describe('the head without DNS (memory record)', () => {
  it('DNS down: the head runs out its term by its own clock, then nobody leads; DNS back: a new term', async () => {
    const record = new MemoryLeaseRecord();
    const c = cluster(['a', 'b'], (id) => record.store(id));
    await c.step(c.node('a'));
    record.down = true;
    const downAt = c.clock.t;
    await c.run(20_000, () => {
      if (c.clock.t < leadsUntil(downAt, timing)) expect(c.heads()).toEqual(['a']);
      else expect(c.heads()).toEqual([]);
    });
    record.down = false;
    await c.run(1_000);
    expect(c.heads()).toEqual(['a']);
    expect(c.node('a').elector.commandEpoch()).toBe(2);
  });

  it('a new term goes above the epoch a host has seen, even when the lease says less', async () => {
    const record = new MemoryLeaseRecord();
    const host = await FenceGuard.open(fenceDir());
    await host.admit(41, 'an-old-head');
    const e = new HeadElector({ self: 'a', store: record.store('a'), now: () => 5, timing, epochFloor: () => host.highest });
    expect(await e.step({ self: { nodeId: 'a', uptimeSec: 9 }, peers: [] })).toMatchObject({ role: 'head', epoch: 42 });
  });

  it('a head commands on while its renewal is in flight (a slow DNS write), and not after it fails', async () => {
    const record = new MemoryLeaseRecord();
    const inner = record.store('a');
    let hold: (() => void) | undefined;
    const slow: LeaseStore = { ...inner, claim: async (token, next) => { await new Promise<void>((r) => (hold = r)); return inner.claim(token, next); } };
    let t = 0;
    const e = new HeadElector({ self: 'a', store: slow, now: () => t, timing });
    const view = { self: { nodeId: 'a', uptimeSec: 9 }, peers: [] };
    const first = e.step(view);
    await new Promise((r) => setImmediate(r));
    hold!();
    expect(await first).toMatchObject({ role: 'head', epoch: 1 });
    t = timing.renewMs;
    const renewing = e.step(view);
    await new Promise((r) => setImmediate(r));
    expect(e.commandEpoch()).toBe(1);
    record.text = 'someone else';
    hold!();
    expect(await renewing).toMatchObject({ role: 'follower' });
    expect(e.commandEpoch()).toBeUndefined();
  });

  it('a head whose record an operator replaces stops at its next step, not at the end of its term', async () => {
    const record = new MemoryLeaseRecord();
    let t = 0;
    const e = new HeadElector({ self: 'a', store: record.store('a'), now: () => t, timing });
    const view = { self: { nodeId: 'a', uptimeSec: 9 }, peers: [] };
    expect(await e.step(view)).toMatchObject({ role: 'head', epoch: 1 });
    record.text = 'maintenance';
    t = 1_000;
    expect(await e.step(view)).toMatchObject({ role: 'follower' });
    expect(e.commandEpoch()).toBeUndefined();
  });

  it('a record that is not a lease is left alone: nobody claims over it', async () => {
    const record = new MemoryLeaseRecord();
    record.text = 'maintenance';
    const e = new HeadElector({ self: 'a', store: record.store('a'), now: () => 5, timing });
    expect(await e.step({ self: { nodeId: 'a', uptimeSec: 9 }, peers: [] })).toMatchObject({ role: 'follower', reason: expect.stringMatching(/not ours: maintenance/) });
    expect(record.text).toBe('maintenance');
  });
});
