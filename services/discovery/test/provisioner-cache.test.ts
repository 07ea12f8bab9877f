import { afterEach, describe, expect, it } from 'vitest';
import { provisionerCache, type ProvisionerCache } from '../src/provisioner-cache.ts';
import { capacity, silent } from './cluster.ts';

let cache: ProvisionerCache | undefined;
afterEach(() => cache?.close());

/** A provisioner whose answers the test releases by hand, to stand for a slow one. */
function slowProvisioner() {
  const calls: string[] = [];
  const waiting: Array<() => void> = [];
  let memoryMiB = 1000;
  let down = false;
  const answer = <T>(what: string, v: () => T) =>
    new Promise<T>((resolve, reject) => {
      calls.push(what);
      waiting.push(() => (down ? reject(new Error('ECONNREFUSED')) : resolve(v())));
    });
  return {
    calls,
    release: () => waiting.splice(0).forEach((f) => f()),
    set memory(m: number) {
      memoryMiB = m;
    },
    set down(d: boolean) {
      down = d;
    },
    capacity: () => answer('capacity', () => capacity({ memoryMiB })),
    guests: () => answer('guests', () => new Set(['t-1'])),
  };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('provisionerCache', () => {
  it('the first read waits; later reads answer from the cache while a slow refresh is pending', async () => {
    const p = slowProvisioner();
    const clock = { now: 0 };
    cache = provisionerCache({ ...p, log: silent, refreshMs: 60_000, maxAgeMs: 10_000, now: () => clock.now });
    const first = cache.snapshot();
    await tick();
    p.release(); // guests
    await tick();
    p.release(); // capacity
    expect((await first).capacity.free.memoryMiB).toBe(1000);
    expect(p.calls).toEqual(['guests', 'capacity']); // guests first: see the module comment

    p.memory = 500;
    cache.invalidate(); // a refresh starts, and hangs
    clock.now += 5_000;
    // Answered at once from the cache, though the provisioner has not answered.
    expect((await cache.snapshot()).capacity.free.memoryMiB).toBe(1000);
    p.release();
    await tick();
    p.release();
    await tick();
    expect((await cache.capacity()).free.memoryMiB).toBe(500);
  });

  it('keeps answering from a snapshot while the provisioner is down, until it is too old', async () => {
    const p = slowProvisioner();
    const clock = { now: 0 };
    cache = provisionerCache({ ...p, log: silent, refreshMs: 60_000, maxAgeMs: 1_000, now: () => clock.now });
    const first = cache.snapshot();
    await tick();
    p.release();
    await tick();
    p.release();
    await first;
    p.down = true;
    clock.now += 999;
    expect((await cache.snapshot()).guests).toEqual(new Set(['t-1']));
    clock.now += 1;
    const stale = cache.snapshot();
    await tick();
    p.release();
    await expect(stale).rejects.toThrow(/ECONNREFUSED/);
    expect(cache.ageMs()).toBe(1_000);
  });

  it('shares one request among concurrent reads', async () => {
    const p = slowProvisioner();
    cache = provisionerCache({ ...p, log: silent, refreshMs: 60_000 });
    const reads = [cache.snapshot(), cache.snapshot(), cache.capacity()];
    await tick();
    p.release();
    await tick();
    p.release();
    await Promise.all(reads);
    expect(p.calls).toEqual(['guests', 'capacity']);
  });
});
