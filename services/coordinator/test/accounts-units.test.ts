import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { problemErrorHandler } from '@cps/common';
import { MemoryAccountStore } from '../src/accounts/memory-store.ts';
import { hashPassword, verifyPassword } from '../src/accounts/password.ts';
import { checkQuota, defaultQuota } from '../src/accounts/quota.ts';
import { formatToken, newSecret, newTokenId, parseToken } from '../src/accounts/secrets.ts';
import { SignInLimiter } from '../src/accounts/sign-in-limiter.ts';
import type { User } from '../src/accounts/types.ts';
import { virtualClock } from './accounts-harness.ts';

const quota = { vcpus: 4, memoryMiB: 4096, diskMiB: 10_240, runningTasks: 3 };
const none = { vcpus: 0, memoryMiB: 0, diskMiB: 0, runningTasks: 0 };

describe('checkQuota', () => {
  it('lets a request through that fits exactly', () => {
    expect(checkQuota(quota, { vcpus: 2, memoryMiB: 2048, diskMiB: 10_000, runningTasks: 2 }, { vcpus: 2, memoryMiB: 2048, diskMiB: 240 })).toBeUndefined();
  });

  it('names the limit and by how much', () => {
    const p = checkQuota(quota, { ...none, vcpus: 2, runningTasks: 1 }, { vcpus: 4, memoryMiB: 256, diskMiB: 64 })!;
    expect(p.problemType).toBe('user-quota-exceeded');
    expect(p.status).toBe(403);
    expect(p.message).toBe('needs 4 vCPUs; you hold 2 of your 4 (2 vCPUs too many)');
    expect(p.extensions).toEqual({ limits: [{ limit: 'vcpus', quota: 4, held: 2, requested: 4, over: 2 }] });
  });

  it('names every limit passed, running tasks included', () => {
    const p = checkQuota(quota, { vcpus: 1, memoryMiB: 4000, diskMiB: 10_240, runningTasks: 3 }, { vcpus: 1, memoryMiB: 512, diskMiB: 1 })!;
    expect(p.message).toBe(
      'needs 512 MiB of memory; you hold 4000 of your 4096 (416 MiB of memory too many); ' +
        'needs 1 MiB of disk; you hold 10240 of your 10240 (1 MiB of disk too many); ' +
        'needs 1 running task; you hold 3 of your 3 (1 running task too many)',
    );
    expect((p.extensions.limits as { limit: string }[]).map((l) => l.limit)).toEqual(['memoryMiB', 'diskMiB', 'runningTasks']);
  });

  it('refuses a request larger than the whole quota of a user who holds nothing', () => {
    expect(checkQuota(defaultQuota, none, { vcpus: defaultQuota.vcpus + 1, memoryMiB: 1, diskMiB: 1 })!.message).toBe(
      `needs ${defaultQuota.vcpus + 1} vCPUs; you hold 0 of your ${defaultQuota.vcpus} (1 vCPU too many)`,
    );
  });

  it('answers as problem+json through the error handler', async () => {
    const app = new Hono();
    app.onError(problemErrorHandler());
    app.post('/submit', () => {
      throw checkQuota(quota, none, { vcpus: 8, memoryMiB: 1, diskMiB: 1 })!;
    });
    const res = await app.request('/submit', { method: 'POST' });
    expect(res.status).toBe(403);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(await res.json()).toMatchObject({ type: 'urn:cps:problem:user-quota-exceeded', detail: 'needs 8 vCPUs; you hold 0 of your 4 (4 vCPUs too many)', limits: [{ limit: 'vcpus', over: 4 }] });
  });
});

describe('SignInLimiter', () => {
  it('forgets the oldest names past its size, so a flood of names cannot fill memory', () => {
    const clock = virtualClock();
    const limiter = new SignInLimiter(clock.now, { perName: 1, perAddress: 1000, windowMs: 60_000, maxKeys: 3 });
    limiter.begin('a', 'x');
    expect(() => limiter.begin('a', 'x')).toThrow(/too many failed sign-ins/);
    // 'x' (the address) and 'a' are the two oldest keys; two more names push 'a' out.
    limiter.begin('b', 'x');
    limiter.begin('c', 'x');
    expect(() => limiter.begin('a', 'x')).not.toThrow();
  });

  it('says how long to wait in whole seconds, rounded up', () => {
    const clock = virtualClock();
    const limiter = new SignInLimiter(clock.now, { perName: 2, perAddress: 100, windowMs: 10_000, maxKeys: 100 });
    limiter.begin('a', 'x');
    clock.advance(2500);
    limiter.begin('a', 'x');
    clock.advance(100);
    try {
      limiter.begin('a', 'x');
      expect.unreachable();
    } catch (err) {
      expect((err as { extensions: unknown }).extensions).toEqual({ retryAfterSec: 8 });
    }
  });
});

describe('tokens and passwords', () => {
  it('parses what it formats and nothing else', () => {
    const id = newTokenId();
    const secret = newSecret();
    expect(parseToken(formatToken(id, secret))).toEqual({ id, secret });
    for (const bad of [`cps_${id}_${secret}x`, `cps_${id.toUpperCase()}_${secret}`, `xps_${id}_${secret}`, `cps_${id}_${secret.slice(1)}`, '', `cps_${id}_${secret}\n`]) {
      expect(parseToken(bad)).toBeUndefined();
    }
  });

  it('verifies the right password only, and is false (not a throw) for a hash that is not one', async () => {
    const h = await hashPassword('a long enough password');
    expect(await verifyPassword(h, 'a long enough password')).toBe(true);
    expect(await verifyPassword(h, 'a long enough passworD')).toBe(false);
    expect(await verifyPassword('not a hash', 'x')).toBe(false);
    expect(await verifyPassword('', 'x')).toBe(false);
  });
});

describe('MemoryAccountStore', () => {
  const user: User = { id: 'u-0000000000000001', name: 'alice', role: 'user', passwordHash: 'h', quota: defaultQuota, createdAt: '2026-12-01T10:00:00.000Z' };

  it('keeps copies: changing what was put or got changes nothing stored', () => {
    const store = new MemoryAccountStore();
    const mine = structuredClone(user);
    store.users.put(mine);
    mine.role = 'admin';
    store.users.get(user.id)!.quota.vcpus = 999;
    expect(store.users.byName('alice')).toEqual(user);
    expect(store.users.count()).toBe(1);
  });

  it('deletes sessions that expired before now, and only those', () => {
    const store = new MemoryAccountStore();
    store.sessions.put({ idHash: 'a', userId: user.id, createdAt: '2026-12-01T00:00:00.000Z', expiresAt: '2026-12-01T09:59:59.999Z' });
    store.sessions.put({ idHash: 'b', userId: user.id, createdAt: '2026-12-01T00:00:00.000Z', expiresAt: '2026-12-01T10:00:00.000Z' });
    expect(store.sessions.deleteExpired(new Date('2026-12-01T10:00:00.000Z'))).toBe(1);
    expect(store.sessions.get('a')).toBeUndefined();
    expect(store.sessions.get('b')).toBeDefined();
  });
});
