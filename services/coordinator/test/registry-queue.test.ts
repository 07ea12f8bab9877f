import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openRegistry, registryPath, type Registry } from '../src/registry/db.ts';
import { idempotencyTtlMs } from '../src/registry/idempotency.ts';
import { newTask, tempDir, user } from './fixtures/registry-sample.ts';

let clock = Date.parse('2026-12-02T10:00:00.000Z');
const now = () => new Date(clock);
let tmp: ReturnType<typeof tempDir>;
let reg: Registry;
const ada = user('u-0000000000000001', 'ada');
const bob = user('u-0000000000000002', 'bob');
beforeEach(() => {
  clock = Date.parse('2026-12-02T10:00:00.000Z');
  tmp = tempDir();
  reg = openRegistry(registryPath(tmp.dir), { now });
  reg.accounts.users.put(ada);
  reg.accounts.users.put(bob);
  for (const id of ['t-1', 't-2', 't-3', 't-4']) reg.tasks.put(newTask(id, now().toISOString()), id === 't-2' ? bob.id : ada.id);
});
afterEach(() => {
  reg.close();
  tmp.remove();
});
const reopen = () => {
  reg.close();
  reg = openRegistry(registryPath(tmp.dir), { now });
};

describe('SqliteQueue', () => {
  it('lists in order of arrival with every field, across a reopen', () => {
    reg.queue.enqueue({ taskId: 't-3', userId: ada.id, reason: 'needs 4 vCPUs; the largest free peer lends 2', tag: 7 });
    clock += 1000;
    reg.queue.enqueue({ taskId: 't-2', userId: bob.id, notBefore: '2026-12-03T08:00:00.000Z', reason: 'not before 08:00' });
    // Same instant as the one before: arrival order still decides.
    reg.queue.enqueue({ taskId: 't-1', userId: null, reason: 'no peer answered' });
    reopen();
    expect(reg.queue.list()).toEqual([
      { taskId: 't-3', userId: ada.id, enqueuedAt: '2026-12-02T10:00:00.000Z', reason: 'needs 4 vCPUs; the largest free peer lends 2', tag: 7 },
      { taskId: 't-2', userId: bob.id, enqueuedAt: '2026-12-02T10:00:01.000Z', notBefore: '2026-12-03T08:00:00.000Z', reason: 'not before 08:00' },
      { taskId: 't-1', userId: null, enqueuedAt: '2026-12-02T10:00:01.000Z', reason: 'no peer answered' },
    ]);
    expect(reg.queue.get('t-2')?.notBefore).toBe('2026-12-03T08:00:00.000Z');
    expect(reg.queue.get('t-4')).toBeUndefined();
  });

  it('queueing a queued task again keeps its place, time and turn, and updates why and when', () => {
    reg.queue.enqueue({ taskId: 't-1', userId: ada.id, notBefore: '2026-12-02T11:00:00.000Z', reason: 'first', tag: 3 });
    clock += 5000;
    reg.queue.enqueue({ taskId: 't-2', userId: bob.id, reason: 'second' });
    clock += 5000;
    const again = reg.queue.enqueue({ taskId: 't-1', userId: ada.id, reason: 'still no room' });
    expect(again).toEqual({ taskId: 't-1', userId: ada.id, enqueuedAt: '2026-12-02T10:00:00.000Z', reason: 'still no room', tag: 3 });
    expect(reg.queue.enqueue({ taskId: 't-2', userId: bob.id, reason: 'second', tag: 4 }).tag).toBe(4);
    expect(reg.queue.list().map((e) => e.taskId)).toEqual(['t-1', 't-2']);
  });

  it('setReason and remove answer whether the task was queued', () => {
    reg.queue.enqueue({ taskId: 't-1', userId: ada.id, reason: 'a' });
    reg.queue.enqueue({ taskId: 't-2', userId: bob.id, reason: 'b' });
    expect(reg.queue.setReason('t-2', 'the largest free peer lends 1 vCPU')).toBe(true);
    expect(reg.queue.setReason('t-4', 'x')).toBe(false);
    expect(reg.queue.get('t-2')!.reason).toBe('the largest free peer lends 1 vCPU');
    expect(reg.queue.remove('t-1')).toBe(true);
    expect(reg.queue.remove('t-1')).toBe(false);
    expect(reg.queue.list().map((e) => e.taskId)).toEqual(['t-2']);
    // Out and in again: it goes to the back.
    clock += 1000;
    reg.queue.enqueue({ taskId: 't-3', userId: ada.id, reason: 'c' });
    clock += 1000;
    reg.queue.enqueue({ taskId: 't-1', userId: ada.id, reason: 'a again' });
    expect(reg.queue.list().map((e) => e.taskId)).toEqual(['t-2', 't-3', 't-1']);
  });

  it('refuses an entry for a task the registry does not hold', () => {
    expect(() => reg.queue.enqueue({ taskId: 't-none', userId: ada.id, reason: 'x' })).toThrow(/FOREIGN KEY/);
    expect(reg.queue.list()).toEqual([]);
  });
});

describe('SqliteIdempotencyKeys', () => {
  it('records and looks up per user, across a reopen', () => {
    expect(reg.idempotency.lookup(ada.id, 'key-1')).toBeUndefined();
    const rec = reg.idempotency.record(ada.id, 'key-1', 'sha256:aaa', 't-1');
    expect(rec).toEqual({ userId: ada.id, key: 'key-1', fingerprint: 'sha256:aaa', taskId: 't-1', createdAt: '2026-12-02T10:00:00.000Z' });
    // The same key is another user's own.
    expect(reg.idempotency.lookup(bob.id, 'key-1')).toBeUndefined();
    reg.idempotency.record(bob.id, 'key-1', 'sha256:bbb', 't-2');
    reopen();
    expect(reg.idempotency.lookup(ada.id, 'key-1')).toEqual(rec);
    expect(reg.idempotency.lookup(bob.id, 'key-1')!.taskId).toBe('t-2');
  });

  it('a key already held is not overwritten: record answers with the one in force', () => {
    reg.idempotency.record(ada.id, 'k', 'sha256:first', 't-1');
    clock += 60_000;
    const second = reg.idempotency.record(ada.id, 'k', 'sha256:other', 't-3');
    expect(second).toEqual({ userId: ada.id, key: 'k', fingerprint: 'sha256:first', taskId: 't-1', createdAt: '2026-12-02T10:00:00.000Z' });
    expect(reg.idempotency.lookup(ada.id, 'k')!.taskId).toBe('t-1');
  });

  it('forgets a key 24 h after its first use: lookup misses, record takes it anew, deleteExpired removes it', () => {
    reg.idempotency.record(ada.id, 'old', 'fp', 't-1');
    reg.idempotency.record(ada.id, 'other', 'fp', 't-1');
    clock += idempotencyTtlMs - 1;
    expect(reg.idempotency.lookup(ada.id, 'old')?.taskId).toBe('t-1');
    reg.idempotency.record(ada.id, 'young', 'fp', 't-4');
    clock += 1;
    expect(reg.idempotency.lookup(ada.id, 'old')).toBeUndefined();
    const anew = reg.idempotency.record(ada.id, 'old', 'fp2', 't-3');
    expect(anew).toEqual({ userId: ada.id, key: 'old', fingerprint: 'fp2', taskId: 't-3', createdAt: new Date(clock).toISOString() });
    expect(reg.idempotency.lookup(ada.id, 'old')!.taskId).toBe('t-3');
    // 'other' expired; 'old' was taken anew and 'young' is a millisecond old.
    expect(reg.idempotency.deleteExpired()).toBe(1);
    expect(reg.idempotency.lookup(ada.id, 'young')!.taskId).toBe('t-4');
    clock += idempotencyTtlMs;
    expect(reg.idempotency.deleteExpired()).toBe(2);
  });

  it('refuses a record for a task the registry does not hold', () => {
    expect(() => reg.idempotency.record(ada.id, 'k', 'fp', 't-none')).toThrow(/FOREIGN KEY/);
    expect(reg.idempotency.lookup(ada.id, 'k')).toBeUndefined();
  });
});

describe('Registry.transaction', () => {
  it('keeps a task, its key and its queue entry together: a failure inside leaves none of them', () => {
    expect(() =>
      reg.transaction(() => {
        reg.tasks.put(newTask('t-9', now().toISOString()), ada.id);
        reg.idempotency.record(ada.id, 'k9', 'fp', 't-9');
        reg.queue.enqueue({ taskId: 't-9', userId: ada.id, reason: 'waits' });
        throw new Error('the quota check said no');
      }),
    ).toThrow('the quota check said no');
    expect(reg.tasks.get('t-9')).toBeUndefined();
    expect(reg.idempotency.lookup(ada.id, 'k9')).toBeUndefined();
    expect(reg.queue.get('t-9')).toBeUndefined();
    expect(reg.transaction(() => reg.tasks.put(newTask('t-9', now().toISOString()), ada.id))).toBeUndefined();
    expect(reg.tasks.ownerOf('t-9')).toBe(ada.id);
  });
});
