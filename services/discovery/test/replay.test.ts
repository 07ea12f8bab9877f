import { describe, expect, it } from 'vitest';
import { encode } from '../src/pep/codec.ts';
import { Metrics } from '../src/metrics.ts';
import { PepEndpoint } from '../src/pep/endpoint.ts';
import type { PepMessage } from '../src/pep/messages.ts';
import { ReplayGuard } from '../src/pep/replay.ts';
import { MemoryBus } from '../src/pep/socket.ts';
import { silent } from './cluster.ts';
import { key, otherKey, samples } from './fixtures.ts';

const n = (i: number) => Buffer.from(i.toString(16).padStart(16, '0'), 'hex');
const T = 1_790_000_000_000;

describe('ReplayGuard', () => {
  it.each([
    ['on time', T, T, undefined],
    ['30 s old (edge)', T - 30_000, T, undefined],
    ['30 s + 1 ms old', T - 30_001, T, 'stale'],
    ['30 s ahead (edge)', T + 30_000, T, undefined],
    ['30 s + 1 ms ahead', T + 30_001, T, 'future'],
    ['from 1970', 0, T, 'stale'],
    ['from the far future', Number.MAX_SAFE_INTEGER, T, 'future'],
  ] as const)('%s → %s', (_what, ts, now, want) => {
    expect(new ReplayGuard({ windowMs: 30_000 }).check('a', ts, n(1), now)).toBe(want);
  });

  it('refuses a nonce seen before from the same sender, not from another one', () => {
    const g = new ReplayGuard({ windowMs: 30_000 });
    expect(g.check('a', T, n(1), T)).toBeUndefined();
    expect(g.check('a', T, n(1), T + 5)).toBe('replay');
    expect(g.check('a', T + 1, n(1), T + 5)).toBe('replay'); // the nonce alone is enough
    expect(g.check('b', T, n(1), T)).toBeUndefined();
    expect(g.check('a', T, n(2), T)).toBeUndefined();
  });

  it('forgets nonces once their packets would be stale anyway, so memory follows the window', () => {
    const g = new ReplayGuard({ windowMs: 1_000 });
    for (let i = 0; i < 100; i++) expect(g.check('a', T + i * 100, n(i), T + i * 100)).toBeUndefined();
    expect(g.size()).toBeLessThanOrEqual(11);
    // An old replay is still refused, now as stale.
    expect(g.check('a', T, n(0), T + 9_900)).toBe('stale');
  });

  it('stays bounded per sender and refuses what it had to forget (the floor rises)', () => {
    const g = new ReplayGuard({ windowMs: 30_000, maxPerSender: 10 });
    for (let i = 0; i < 50; i++) expect(g.check('a', T + i, n(i), T)).toBeUndefined();
    expect(g.size()).toBe(10);
    // Nonce 0 was forgotten, but its timestamp is under the floor: still a replay.
    expect(g.check('a', T, n(0), T)).toBe('replay');
    expect(g.check('a', T + 3, n(1000), T)).toBe('replay'); // fresh nonce, but too old to judge
    expect(g.check('a', T + 100, n(1001), T)).toBeUndefined();
  });

  it('stays bounded in senders; an evicted sender cannot replay', () => {
    const g = new ReplayGuard({ windowMs: 30_000, maxSenders: 3 });
    ['a', 'b', 'c', 'd', 'e'].forEach((s, i) => expect(g.check(s, T + i, n(1), T)).toBeUndefined());
    expect(g.size()).toBe(3);
    // a and b were forgotten; the global floor (b's newest) now refuses their old packets.
    expect(g.check('a', T, n(1), T)).toBe('replay');
    expect(g.check('b', T + 1, n(1), T)).toBe('replay');
    expect(g.check('a', T + 10, n(2), T)).toBeUndefined();
  });
});

/** Endpoint B on a bus, and a raw sender that can put any bytes on the wire. */
function receiver(now = () => Date.now()) {
  const bus = new MemoryBus();
  const metrics = new Metrics();
  const b = new PepEndpoint({ transport: bus.transport('b'), auth: key, nodeId: 'b', metrics, log: silent, now, replayWindowMs: 30_000 });
  const got: PepMessage[] = [];
  b.on((m) => got.push(m));
  const wire = bus.transport('x');
  const settle = () => new Promise((r) => setTimeout(r, 10));
  const dropped = (reason: string) => metrics.get('pep_packets_dropped_total', { reason });
  return { bus, b, metrics, got, wire, settle, dropped };
}

const hello = (timestampMs: number, nonce = n(7)): PepMessage => ({ ...samples[7]!, timestampMs, nonce } as PepMessage);

describe('replay protection at the endpoint', () => {
  it('accepts a fresh packet once and drops its replay, counting it', async () => {
    const r = receiver();
    const buf = encode(hello(Date.now()), key);
    r.wire.send(buf);
    r.wire.send(buf);
    await r.settle();
    expect(r.got).toHaveLength(1);
    expect(r.dropped('replay')).toBe(1);
  });

  it('drops stale and future packets, and forged ones, without handing them on', async () => {
    const now = Date.now();
    const r = receiver(() => now);
    r.wire.send(encode(hello(now - 60_000, n(1)), key));
    r.wire.send(encode(hello(now + 60_000, n(2)), key));
    r.wire.send(encode(hello(now, n(3)), otherKey));
    const forged = encode(hello(now, n(4)), key);
    forged[forged.length - 40]! ^= 1; // the body changed after signing
    r.wire.send(forged);
    await r.settle();
    expect(r.got).toEqual([]);
    expect([r.dropped('stale'), r.dropped('future'), r.dropped('mac')]).toEqual([1, 1, 2]);
  });

  it('a forged packet does not burn the nonce of the real one', async () => {
    const now = Date.now();
    const r = receiver(() => now);
    r.wire.send(encode(hello(now, n(5)), otherKey));
    r.wire.send(encode(hello(now, n(5)), key));
    await r.settle();
    expect(r.got).toHaveLength(1);
    expect(r.dropped('replay')).toBe(0);
  });

  it('two endpoints sending to each other never trip their own replay check', async () => {
    const bus = new MemoryBus();
    const metrics = new Metrics();
    const a = new PepEndpoint({ transport: bus.transport('a'), auth: key, nodeId: 'node-a', metrics, log: silent });
    let heard = 0;
    a.on(() => heard++);
    for (let i = 0; i < 50; i++) a.send({ type: 'LEAVE', taskId: '', seq: i, body: { nodeId: 'node-a' } });
    await new Promise((r) => setTimeout(r, 20));
    expect(heard).toBe(50);
    expect(metrics.render()).not.toMatch(/pep_packets_dropped_total/);
  });
});
