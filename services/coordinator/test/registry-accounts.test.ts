import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ApiToken, Session, User } from '../src/accounts/types.ts';
import { openRegistry, registryPath, type Registry } from '../src/registry/db.ts';
import { tempDir, user } from './fixtures/registry-sample.ts';

const now = () => new Date('2026-12-02T10:00:00.000Z');
let tmp: ReturnType<typeof tempDir>;
let reg: Registry;
const reopen = () => {
  reg.close();
  reg = openRegistry(registryPath(tmp.dir), { now });
};
beforeEach(() => {
  tmp = tempDir();
  reg = openRegistry(registryPath(tmp.dir), { now });
});
afterEach(() => {
  reg.close();
  tmp.remove();
});

const ada: User = { ...user('u-0000000000000001', 'ada', 'admin'), disabledAt: '2026-12-03T00:00:00.000Z' };
const bob = user('u-0000000000000002', 'bob');

const token = (id: string, userId: string, more: Partial<ApiToken> = {}): ApiToken => ({ id, userId, name: `laptop ${id}`, secretHash: 'ab'.repeat(32), createdAt: '2026-12-02T10:00:00.000Z', ...more });
const session = (idHash: string, expiresAt: string, userId = bob.id): Session => ({ idHash, userId, createdAt: '2026-12-02T09:00:00.000Z', expiresAt });

describe('SqliteAccountStore users', () => {
  it('round-trips every field across a reopen; by id and by name; count', () => {
    reg.accounts.users.put(ada);
    reg.accounts.users.put(bob);
    reopen();
    expect(reg.accounts.users.get(ada.id)).toEqual(ada);
    expect(reg.accounts.users.byName('bob')).toEqual(bob);
    expect('disabledAt' in reg.accounts.users.get(bob.id)!).toBe(false);
    expect(reg.accounts.users.byName('Bob')).toBeUndefined();
    expect(reg.accounts.users.get('u-00000000000000ff')).toBeUndefined();
    expect(reg.accounts.users.count()).toBe(2);
    expect(reg.accounts.users.list()).toEqual([ada, bob]);
  });

  it('put replaces (quota, role, password, re-enabled), keeps the order, and keeps the user’s tokens and sessions', () => {
    reg.accounts.users.put(ada);
    reg.accounts.users.put(bob);
    reg.accounts.tokens.put(token('0000000000000001', ada.id));
    reg.accounts.sessions.put(session('s1', '2026-12-03T00:00:00.000Z', ada.id));
    const { disabledAt: _d, ...enabled } = ada;
    const changed: User = { ...enabled, role: 'user', passwordHash: 'new', quota: { vcpus: 1, memoryMiB: 1, diskMiB: 1, runningTasks: 0 } };
    reg.accounts.users.put(changed);
    expect(reg.accounts.users.get(ada.id)).toEqual(changed);
    expect(reg.accounts.users.list().map((u) => u.name)).toEqual(['ada', 'bob']);
    expect(reg.accounts.tokens.listFor(ada.id)).toHaveLength(1);
    expect(reg.accounts.sessions.get('s1')).toBeDefined();
  });

  it('refuses a second user with a taken name, a role that is none, and a negative quota', () => {
    reg.accounts.users.put(bob);
    expect(() => reg.accounts.users.put({ ...bob, id: 'u-0000000000000003' })).toThrow(/UNIQUE/);
    expect(() => reg.accounts.users.put({ ...bob, role: 'root' as User['role'] })).toThrow(/CHECK/);
    expect(() => reg.accounts.users.put({ ...bob, quota: { ...bob.quota, vcpus: -1 } })).toThrow(/CHECK/);
    expect(reg.accounts.users.list()).toEqual([bob]);
  });
});

describe('SqliteAccountStore tokens', () => {
  it('round-trips every field, lists a user’s own in order, and put replaces (revocation, last use)', () => {
    reg.accounts.users.put(ada);
    reg.accounts.users.put(bob);
    const full = token('0000000000000002', bob.id, { expiresAt: '2027-01-01T00:00:00.000Z', lastUsedAt: '2026-12-02T10:05:00.000Z', revokedAt: '2026-12-02T11:00:00.000Z' });
    reg.accounts.tokens.put(token('0000000000000001', bob.id));
    reg.accounts.tokens.put(token('0000000000000003', ada.id));
    reg.accounts.tokens.put(full);
    reopen();
    expect(reg.accounts.tokens.get(full.id)).toEqual(full);
    const bare = reg.accounts.tokens.get('0000000000000001')!;
    expect(bare).toEqual(token('0000000000000001', bob.id));
    expect(Object.keys(bare).sort()).toEqual(['createdAt', 'id', 'name', 'secretHash', 'userId']);
    expect(reg.accounts.tokens.listFor(bob.id).map((t) => t.id)).toEqual(['0000000000000001', '0000000000000002']);
    expect(reg.accounts.tokens.listFor(ada.id).map((t) => t.id)).toEqual(['0000000000000003']);
    expect(reg.accounts.tokens.listFor('u-00000000000000ff')).toEqual([]);
    const used = { ...token('0000000000000001', bob.id), lastUsedAt: '2026-12-02T12:00:00.000Z', revokedAt: '2026-12-02T12:01:00.000Z' };
    reg.accounts.tokens.put(used);
    expect(reg.accounts.tokens.get(used.id)).toEqual(used);
    expect(reg.accounts.tokens.listFor(bob.id).map((t) => t.id)).toEqual(['0000000000000001', '0000000000000002']);
  });

  it('refuses a token of a user who does not exist', () => {
    expect(() => reg.accounts.tokens.put(token('0000000000000009', 'u-00000000000000ff'))).toThrow(/FOREIGN KEY/);
    expect(reg.accounts.tokens.get('0000000000000009')).toBeUndefined();
  });
});

describe('SqliteAccountStore sessions', () => {
  beforeEach(() => reg.accounts.users.put(bob));

  it('round-trips, replaces, deletes', () => {
    const s = session('a'.repeat(64), '2026-12-03T10:00:00.000Z');
    reg.accounts.sessions.put(s);
    reopen();
    expect(reg.accounts.sessions.get(s.idHash)).toEqual(s);
    reg.accounts.sessions.put({ ...s, expiresAt: '2026-12-04T10:00:00.000Z' });
    expect(reg.accounts.sessions.get(s.idHash)!.expiresAt).toBe('2026-12-04T10:00:00.000Z');
    reg.accounts.sessions.delete(s.idHash);
    reg.accounts.sessions.delete(s.idHash);
    expect(reg.accounts.sessions.get(s.idHash)).toBeUndefined();
  });

  it('deleteExpired removes only those that expired before now, comparing instants', () => {
    reg.accounts.sessions.put(session('old', '2026-12-02T09:59:59.999Z'));
    reg.accounts.sessions.put(session('old-short-form', '2026-12-02T09:59Z'));
    reg.accounts.sessions.put(session('at-now', '2026-12-02T10:00:00.000Z'));
    // Written with an offset: 10:30+01:00 is 09:30Z, expired.
    reg.accounts.sessions.put(session('offset', '2026-12-02T10:30:00+01:00'));
    reg.accounts.sessions.put(session('later', '2026-12-02T10:00:00.001Z'));
    expect(reg.accounts.sessions.deleteExpired(new Date('2026-12-02T10:00:00.000Z'))).toBe(3);
    for (const gone of ['old', 'old-short-form', 'offset']) expect(reg.accounts.sessions.get(gone)).toBeUndefined();
    expect(reg.accounts.sessions.get('at-now')).toBeDefined();
    expect(reg.accounts.sessions.get('later')).toBeDefined();
    expect(reg.accounts.sessions.deleteExpired(new Date('2026-12-02T10:00:00.000Z'))).toBe(0);
  });
});
