import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { headEpochFile, type Logger } from '@cps/common';
import { discoveryClient, provisionerClient, storageClient, viaApp } from '@cps/openapi';
import { DiscoveryLeaseStore } from '../src/head/discovery-lease-store.ts';
import type { HeadDiscovery, HeadPeer } from '../src/head/discovery-view.ts';
import { EpochFloor } from '../src/head/epoch-floor.ts';
import { HeadDuties } from '../src/head/head-duties.ts';
import { Placer } from '../src/placement.ts';
import { Tasks } from '../src/tasks/tasks.ts';
import { fakeDiscovery, fakeNode, fastPolling, reach } from './fakes.ts';
import { fakeLan, ports, roleOn, silent, virtualTime } from './head-lan.ts';

const peer = (nodeId: string, o: Partial<HeadPeer> = {}): HeadPeer => ({ nodeId, state: 'alive', uptimeSec: 100, lastSeenMs: 0, address: `10.0.0.${nodeId.length}`, ports, head: false, ...o });

/** A discovery whose view the test sets; PUT/DELETE /head recorded. */
function viewed(peers: HeadPeer[] = []) {
  const state = { peers, fail: false, calls: [] as string[] };
  const discovery: HeadDiscovery = {
    view: async () => {
      if (state.fail) throw new Error('discovery: connect ECONNREFUSED');
      return { self: { nodeId: 'me', uptimeSec: 10 }, peers: state.peers };
    },
    claim: async (epoch) => void state.calls.push(`PUT ${epoch}`),
    end: async () => void state.calls.push('DELETE'),
  };
  return { state, discovery };
}

/** A Logger that keeps what the role logs at info, by event. */
function capture() {
  const events: Record<string, unknown>[] = [];
  const log = { info: (o: Record<string, unknown>) => events.push(o), warn: () => {}, error: () => {}, debug: () => {}, fatal: () => {}, child: () => log } as unknown as Logger;
  return { log, roles: () => events.filter((e) => e.event === 'head.role').map((e) => `${e.role} epoch=${e.epoch} head=${e.head}`) };
}

describe('DiscoveryLeaseStore: the lease from discovery (DNS-less)', () => {
  const now = 1_000_000;
  const store = (d: HeadDiscovery) => new DiscoveryLeaseStore({ self: 'me', discovery: d, now: () => now, leaseMs: 15_000 });

  it('reads no lease when no HELLO claims the head', async () => {
    const { discovery } = viewed([peer('a'), peer('b')]);
    expect(await store(discovery).read()).toEqual({ result: 'read', lease: undefined, token: undefined });
  });

  it('reads the claim with the highest epoch among live peers, running until last heard + the lease', async () => {
    const { discovery } = viewed([
      peer('a', { head: true, headEpoch: 3, lastSeenMs: 400 }),
      peer('b', { head: true, headEpoch: 5, lastSeenMs: 1200, state: 'suspect' }),
      peer('c', { head: true, headEpoch: 9, state: 'dead' }),
    ]);
    expect(await store(discovery).read()).toEqual({ result: 'read', lease: { holder: 'b', epoch: 5, expiresAt: now - 1200 + 15_000 }, token: 'holder=b epoch=5' });
  });

  it('ignores claims that are no epoch (0, negative, fractional, head false) and its own id in the peers', async () => {
    const { discovery } = viewed([
      peer('a', { head: true, headEpoch: 0 }),
      peer('b', { head: true, headEpoch: -4 }),
      peer('c', { head: true, headEpoch: 2.5 }),
      peer('d', { head: false, headEpoch: 7 }),
      peer('me', { head: true, headEpoch: 8 }),
    ]);
    const r = await store(discovery).read();
    expect(r).toEqual({ result: 'read', lease: undefined, token: undefined });
  });

  it('claims only while the view still gives the lease it read (compare-and-swap), then PUTs /head', async () => {
    const { state, discovery } = viewed([peer('a', { head: true, headEpoch: 2 })]);
    const s = store(discovery);
    const read = await s.read();
    expect(read).toMatchObject({ token: 'holder=a epoch=2' });
    // a's claim has gone (it ended it) since the read: the claim is lost, nothing PUT.
    state.peers = [peer('a')];
    expect(await s.claim('holder=a epoch=2', { holder: 'me', epoch: 3, expiresAt: now + 15_000 })).toMatchObject({ result: 'lost' });
    expect(state.calls).toEqual([]);
    // Read again: free; the claim goes through, and this node's claim is the lease from now on.
    expect(await s.claim(undefined, { holder: 'me', epoch: 3, expiresAt: now + 15_000 })).toEqual({ result: 'done', token: 'holder=me epoch=3' });
    expect(state.calls).toEqual(['PUT 3']);
    expect(await s.read()).toEqual({ result: 'read', lease: { holder: 'me', epoch: 3, expiresAt: now + 15_000 }, token: 'holder=me epoch=3' });
  });

  it('of two that read an empty view, the one whose claim the other hears first wins', async () => {
    const lan = viewed([]);
    const mine = store(lan.discovery);
    const r = await mine.read();
    expect(r).toMatchObject({ token: undefined });
    lan.state.peers = [peer('a', { head: true, headEpoch: 1 })]; // a claimed first; its HELLO is here
    expect(await mine.claim(undefined, { holder: 'me', epoch: 1, expiresAt: now + 15_000 })).toMatchObject({ result: 'lost' });
    expect(lan.state.calls).toEqual([]);
  });

  it('a higher claim heard later wins over its own', async () => {
    const lan = viewed([]);
    const s = store(lan.discovery);
    await s.claim(undefined, { holder: 'me', epoch: 1, expiresAt: now + 15_000 });
    lan.state.peers = [peer('a', { head: true, headEpoch: 2 })];
    expect(await s.read()).toMatchObject({ lease: { holder: 'a', epoch: 2 } });
    expect(s.highestSeen).toBe(2);
  });

  it('release ends its claim (DELETE /head); discovery down reads as unreachable', async () => {
    const lan = viewed([]);
    const s = store(lan.discovery);
    await s.claim(undefined, { holder: 'me', epoch: 4, expiresAt: now + 15_000 });
    expect(await s.release('holder=me epoch=4', { holder: 'me', epoch: 4, expiresAt: now })).toMatchObject({ result: 'done' });
    expect(lan.state.calls).toEqual(['PUT 4', 'DELETE']);
    expect(await s.read()).toEqual({ result: 'read', lease: undefined, token: undefined });
    lan.state.fail = true;
    expect(await s.read()).toMatchObject({ result: 'unreachable' });
    expect(await s.claim(undefined, { holder: 'me', epoch: 5, expiresAt: now + 15_000 })).toMatchObject({ result: 'unreachable' });
  });
});

describe('HeadRole on a virtual clock (DNS-less)', () => {
  it('a node alone leads after its first step, at once: its HELLOs claim epoch 1', async () => {
    const time = virtualTime();
    const lan = fakeLan(time);
    lan.add('ws-1', '10.0.0.1', 5);
    const { log, roles } = capture();
    const { role } = roleOn(lan, time, 'ws-1', { log });
    role.start();
    await role.ready();
    expect(role.isHead()).toBe(true);
    expect(role.commandEpoch()).toEqual({ epoch: 1, head: 'ws-1' });
    expect(role.head()).toBeUndefined();
    expect(role.info()).toMatchObject({ role: 'head', head: { nodeId: 'ws-1', address: '10.0.0.1' }, epoch: 1, mode: 'discovery' });
    expect(lan.calls).toEqual(['ws-1 PUT /head 1']);
    expect(roles()).toEqual(['head epoch=1 head=ws-1']);
    // Every step renews the claim (discovery's claim has a TTL).
    await time.advance(10_000);
    expect(lan.calls).toEqual(['ws-1 PUT /head 1', 'ws-1 PUT /head 1', 'ws-1 PUT /head 1']);
    expect(role.isHead()).toBe(true);
    await role.stop();
  });

  it('waits for a discovery that starts beside it, and still leads within a second', async () => {
    const time = virtualTime();
    const lan = fakeLan(time);
    const n = lan.add('ws-1', '10.0.0.1', 0);
    n.discoveryUp = false;
    const { role } = roleOn(lan, time, 'ws-1');
    role.start();
    await time.advance(500);
    expect(role.isHead()).toBe(false);
    n.discoveryUp = true;
    await time.advance(200);
    expect(role.isHead()).toBe(true);
    expect(time.now() - Date.parse('2026-12-01T10:00:00.000Z')).toBeLessThan(1000);
    await role.stop();
  });

  it('a follower forwards to the longest-up node; when that one is gone the next claims a higher epoch', async () => {
    const time = virtualTime();
    const lan = fakeLan(time);
    lan.add('ws-1', '10.0.0.1', 500);
    lan.add('ws-2', '10.0.0.2', 100);
    const one = roleOn(lan, time, 'ws-1');
    const logTwo = capture();
    const two = roleOn(lan, time, 'ws-2', { log: logTwo.log });
    const twoRole = two.role;
    one.role.start();
    await one.role.ready();
    twoRole.start();
    await twoRole.ready();
    expect(one.role.isHead()).toBe(true);
    expect(twoRole.isHead()).toBe(false);
    expect(twoRole.head()).toEqual({ nodeId: 'ws-1', address: '10.0.0.1', ports });
    expect(twoRole.info()).toMatchObject({ role: 'follower', head: { nodeId: 'ws-1', address: '10.0.0.1' }, epoch: 1 });
    expect(twoRole.commandEpoch()).toBeUndefined();
    // ws-1 loses power: its HELLOs stop, discovery calls it dead, its claim is not believed.
    lan.nodes.get('ws-1')!.state = 'dead';
    await time.advance(5_000);
    expect(twoRole.isHead()).toBe(true);
    expect(twoRole.commandEpoch()).toEqual({ epoch: 2, head: 'ws-2' });
    expect(logTwo.roles()).toEqual(['follower epoch=1 head=ws-1', 'head epoch=2 head=ws-2']);
    expect(readFileSync(headEpochFile(two.dataDir), 'utf8')).toBe('2\n');
    await one.role.stop();
    await twoRole.stop();
  });

  it('hands over to a longer-up node that comes back, and ends its claim (DELETE /head)', async () => {
    const time = virtualTime();
    const lan = fakeLan(time);
    lan.add('ws-2', '10.0.0.2', 100);
    const two = roleOn(lan, time, 'ws-2').role;
    two.start();
    await two.ready();
    expect(two.isHead()).toBe(true);
    const changes: boolean[] = [];
    two.onChange(() => changes.push(two.isHead()));
    // ws-1, up longer, is heard (a partition healed); its coordinator follows ws-2's claim at first
    // (a lease it must not take), and ws-2 hands over at its next step.
    lan.add('ws-1', '10.0.0.1', 900);
    const one = roleOn(lan, time, 'ws-1').role;
    one.start();
    await one.ready();
    expect(one.isHead()).toBe(false);
    expect(one.head()).toMatchObject({ nodeId: 'ws-2' });
    await time.advance(5_000);
    expect(two.isHead()).toBe(false);
    expect(lan.calls).toContain('ws-2 DELETE /head');
    expect(changes).toEqual([false]);
    await time.advance(5_000);
    // ws-1 claims above the epoch it saw in ws-2's HELLOs.
    expect(one.commandEpoch()).toEqual({ epoch: 2, head: 'ws-1' });
    expect(two.head()).toMatchObject({ nodeId: 'ws-1' });
    await one.stop();
    await two.stop();
  });

  it('a restarted node claims above the epoch it persisted, though no HELLO remembers it', async () => {
    const time = virtualTime();
    const lan = fakeLan(time);
    lan.add('ws-1', '10.0.0.1', 5);
    const first = roleOn(lan, time, 'ws-1');
    mkdirSync(join(first.dataDir, 'coordinator'), { recursive: true });
    writeFileSync(headEpochFile(first.dataDir), '41\n');
    const again = roleOn(lan, time, 'ws-1', { dataDir: first.dataDir }).role;
    again.start();
    await again.ready();
    expect(again.commandEpoch()).toEqual({ epoch: 42, head: 'ws-1' });
    await again.stop();
    expect(lan.calls.slice(-1)).toEqual(['ws-1 DELETE /head']);
  });
});

describe('EpochFloor: the epoch floor in the data dir', () => {
  it('raises, never lowers, survives a restart, and an unreadable file stops the coordinator', () => {
    const lan = fakeLan(virtualTime());
    lan.add('x', '10.0.0.9', 1);
    const { dataDir } = roleOn(lan, virtualTime(), 'x');
    const path = headEpochFile(dataDir);
    const floor = new EpochFloor(path);
    expect(floor.get()).toBe(0);
    expect(floor.raise(7)).toBe(true);
    expect(floor.raise(3)).toBe(false);
    expect(new EpochFloor(path).get()).toBe(7);
    for (const bad of ['', 'seven\n', '-1\n', '1e3\n', '99999999999999999\n', '7\n8\n']) {
      writeFileSync(path, bad);
      expect(() => new EpochFloor(path), JSON.stringify(bad)).toThrow(/not a head epoch/);
    }
  });
});

describe('HeadDuties: only the head places, dispatches, follows host events and reconciles', () => {
  it('starts the loops on becoming head, stops them on losing it, starts them anew on the next term', async () => {
    const time = virtualTime();
    const lan = fakeLan(time);
    lan.add('ws-2', '10.0.0.2', 100);
    const role = roleOn(lan, time, 'ws-2').role;
    const seen: string[] = [];
    let term = 0;
    const duties = new HeadDuties({
      head: role,
      log: silent,
      start: () => {
        const n = ++term;
        seen.push(`start ${n} epoch=${role.commandEpoch()?.epoch}`);
        return { stop: () => seen.push(`stop ${n}`) };
      },
    });
    duties.start();
    expect(seen).toEqual([]);
    role.start();
    await role.ready();
    expect(seen).toEqual(['start 1 epoch=1']);
    await time.advance(10_000);
    expect(seen).toEqual(['start 1 epoch=1']);
    // A longer-up node is heard: this one hands over and its loops stop.
    lan.add('ws-1', '10.0.0.1', 900);
    await time.advance(5_000);
    expect(seen).toEqual(['start 1 epoch=1', 'stop 1']);
    // It leaves again (dead): this node claims a new term and its loops start anew.
    lan.nodes.get('ws-1')!.state = 'dead';
    await time.advance(20_000);
    expect(seen).toEqual(['start 1 epoch=1', 'stop 1', 'start 2 epoch=2']);
    await role.stop();
    duties.close();
    expect(seen).toEqual(['start 1 epoch=1', 'stop 1', 'start 2 epoch=2', 'stop 2']);
  });

  it('a follower places nothing: a queued task starts only once this node leads', async () => {
    const node = fakeNode('node-a', '127.0.0.1');
    const tasks = new Tasks();
    let head = false;
    const placer = new Placer({
      tasks,
      discovery: discoveryClient(viaApp(fakeDiscovery([node]).app)),
      clientsFor: () => ({ storage: storageClient(viaApp(node.storage)), provisioner: provisionerClient(viaApp(node.provisioner)) }),
      log: silent,
      ...fastPolling,
      timers: virtualTime().timers,
      isHead: () => head,
    });
    const t = tasks.create('waits', { vcpus: 1, memoryMiB: 256, diskMiB: 64, image: 'tiny' });
    void placer.place(t.id);
    await new Promise((r) => setImmediate(r));
    expect(tasks.get(t.id)!.state).toBe('pending');
    expect(node.calls).toEqual([]);
    head = true;
    placer.retryQueue();
    await reach(tasks, t.id, 'running');
    placer.close();
  });
});

describe('cachedView: one read of discovery per step', () => {
  it('answers from a view younger than a HELLO interval, asks again after, and passes claims through', async () => {
    const { cachedView } = await import('../src/head/view-cache.ts');
    let t = 0;
    let reads = 0;
    const lan = viewed([peer('a')]);
    const counted: HeadDiscovery = { ...lan.discovery, view: () => (reads++, lan.discovery.view()) };
    const d = cachedView(counted, () => t, 1000);
    await d.view();
    t = 999;
    await d.view();
    expect(reads).toBe(1);
    t = 1000;
    await d.view();
    expect(reads).toBe(2);
    // A clock that went back is no reason to trust an old view.
    t = 500;
    await d.view();
    expect(reads).toBe(3);
    await d.claim(3);
    await d.end();
    expect(lan.state.calls).toEqual(['PUT 3', 'DELETE']);
  });
});
