import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Accounts } from '../src/accounts/accounts.ts';
import { MemoryAccountStore } from '../src/accounts/memory-store.ts';
import type { AccountStore, ApiToken, Session, User } from '../src/accounts/types.ts';
import { openRegistry, registryPath, type Registry } from '../src/registry/db.ts';
import { tempDir, user } from './fixtures/registry-sample.ts';

let clock = Date.parse('2026-12-02T10:00:00.000Z');
const now = () => new Date(clock);
let tmp: ReturnType<typeof tempDir>;
let reg: Registry;
let memory: MemoryAccountStore;
const reopen = () => {
  reg.close();
  reg = openRegistry(registryPath(tmp.dir), { now });
};
beforeEach(() => {
  clock = Date.parse('2026-12-02T10:00:00.000Z');
  tmp = tempDir();
  reg = openRegistry(registryPath(tmp.dir), { now });
  memory = new MemoryAccountStore();
});
afterEach(() => {
  reg.close();
  tmp.remove();
});

const ada: User = { ...user('u-0000000000000001', 'ada', 'admin'), disabledAt: '2026-12-03T00:00:00.000Z' };
const bob = user('u-0000000000000002', 'bob');
const token = (id: string, userId: string, more: Partial<ApiToken> = {}): ApiToken => ({ id, userId, name: `laptop ${id}`, secretHash: 'ab'.repeat(32), createdAt: '2026-12-02T10:00:00.000Z', ...more });
const session = (idHash: string, expiresAt: string, userId = bob.id): Session => ({ idHash, userId, createdAt: '2026-12-02T09:00:00.000Z', expiresAt });

// The behaviour Accounts relies on, run against the Maps and the registry alike. For the
// registry, `restart` closes and reopens the file in between.
const stores: [string, { store: () => AccountStore; restart: () => void }][] = [
  ['MemoryAccountStore', { store: () => memory, restart: () => {} }],
  ['SqliteAccountStore', { store: () => reg.accounts, restart: reopen }],
];

describe.each(stores)('%s', (_, { store, restart }) => {
  it('users: every field round-trips; by id, by exact name; count; list in order of creation', () => {
    store().users.put(ada);
    store().users.put(bob);
    restart();
    expect(store().users.get(ada.id)).toEqual(ada);
    expect(store().users.byName('bob')).toEqual(bob);
    expect('disabledAt' in store().users.get(bob.id)!).toBe(false);
    expect(store().users.byName('Bob')).toBeUndefined();
    expect(store().users.get('u-00000000000000ff')).toBeUndefined();
    expect(store().users.count()).toBe(2);
    expect(store().users.list()).toEqual([ada, bob]);
  });

  it('users: put replaces (role, password, quota, re-enabled), keeps the order and the user’s tokens and sessions', () => {
    store().users.put(ada);
    store().users.put(bob);
    store().tokens.put(token('0000000000000001', ada.id));
    store().sessions.put(session('s1', '2026-12-03T00:00:00.000Z', ada.id));
    const { disabledAt: _d, ...enabled } = ada;
    const changed: User = { ...enabled, role: 'user', passwordHash: 'new', quota: { vcpus: 1, memoryMiB: 1, diskMiB: 1, runningTasks: 0 } };
    store().users.put(changed);
    restart();
    expect(store().users.get(ada.id)).toEqual(changed);
    expect(store().users.list().map((u) => u.name)).toEqual(['ada', 'bob']);
    expect(store().tokens.listFor(ada.id)).toHaveLength(1);
    expect(store().sessions.get('s1')).toBeDefined();
  });

  it('tokens: every field round-trips, a user’s own in order, put replaces (last use, revocation)', () => {
    store().users.put(ada);
    store().users.put(bob);
    const full = token('0000000000000002', bob.id, { expiresAt: '2027-01-01T00:00:00.000Z', lastUsedAt: '2026-12-02T10:05:00.000Z', revokedAt: '2026-12-02T11:00:00.000Z' });
    store().tokens.put(token('0000000000000001', bob.id));
    store().tokens.put(token('0000000000000003', ada.id));
    store().tokens.put(full);
    restart();
    expect(store().tokens.get(full.id)).toEqual(full);
    const bare = store().tokens.get('0000000000000001')!;
    expect(Object.keys(bare).sort()).toEqual(['createdAt', 'id', 'name', 'secretHash', 'userId']);
    expect(store().tokens.listFor(bob.id).map((t) => t.id)).toEqual(['0000000000000001', '0000000000000002']);
    expect(store().tokens.listFor(ada.id).map((t) => t.id)).toEqual(['0000000000000003']);
    expect(store().tokens.listFor('u-00000000000000ff')).toEqual([]);
    const used = { ...token('0000000000000001', bob.id), lastUsedAt: '2026-12-02T12:00:00.000Z', revokedAt: '2026-12-02T12:01:00.000Z' };
    store().tokens.put(used);
    expect(store().tokens.get(used.id)).toEqual(used);
    expect(store().tokens.listFor(bob.id).map((t) => t.id)).toEqual(['0000000000000001', '0000000000000002']);
  });

  it('sessions: round-trip, replace, delete (twice is fine)', () => {
    store().users.put(bob);
    const s = session('a'.repeat(64), '2026-12-03T10:00:00.000Z');
    store().sessions.put(s);
    restart();
    expect(store().sessions.get(s.idHash)).toEqual(s);
    store().sessions.put({ ...s, expiresAt: '2026-12-04T10:00:00.000Z' });
    expect(store().sessions.get(s.idHash)!.expiresAt).toBe('2026-12-04T10:00:00.000Z');
    store().sessions.delete(s.idHash);
    store().sessions.delete(s.idHash);
    expect(store().sessions.get(s.idHash)).toBeUndefined();
  });

  it('sessions: deleteForUser ends one user\'s sessions only, and survives a restart', () => {
    store().users.put(bob);
    store().users.put(ada);
    store().sessions.put(session('b1', '2026-12-03T10:00:00.000Z', bob.id));
    store().sessions.put(session('b2', '2026-12-03T10:00:00.000Z', bob.id));
    store().sessions.put(session('a1', '2026-12-03T10:00:00.000Z', ada.id));
    expect(store().sessions.deleteForUser(bob.id)).toBe(2);
    expect(store().sessions.deleteForUser(bob.id)).toBe(0);
    restart();
    expect(store().sessions.get('b1')).toBeUndefined();
    expect(store().sessions.get('b2')).toBeUndefined();
    expect(store().sessions.get('a1')).toBeDefined();
  });

  it('sessions: deleteExpired removes only those that expired before now, comparing instants', () => {
    store().users.put(bob);
    store().sessions.put(session('old', '2026-12-02T09:59:59.999Z'));
    store().sessions.put(session('old-short-form', '2026-12-02T09:59Z'));
    store().sessions.put(session('at-now', '2026-12-02T10:00:00.000Z'));
    // Written with an offset: 10:30+01:00 is 09:30Z, expired.
    store().sessions.put(session('offset', '2026-12-02T10:30:00+01:00'));
    store().sessions.put(session('later', '2026-12-02T10:00:00.001Z'));
    expect(store().sessions.deleteExpired(new Date('2026-12-02T10:00:00.000Z'))).toBe(3);
    for (const gone of ['old', 'old-short-form', 'offset']) expect(store().sessions.get(gone)).toBeUndefined();
    expect(store().sessions.get('at-now')).toBeDefined();
    expect(store().sessions.get('later')).toBeDefined();
    expect(store().sessions.deleteExpired(new Date('2026-12-02T10:00:00.000Z'))).toBe(0);
  });
});

describe('SqliteAccountStore', () => {
  it('refuses a second user with a taken name, a role that is none, a negative quota', () => {
    reg.accounts.users.put(bob);
    expect(() => reg.accounts.users.put({ ...bob, id: 'u-0000000000000003' })).toThrow(/UNIQUE/);
    expect(() => reg.accounts.users.put({ ...bob, role: 'root' as User['role'] })).toThrow(/CHECK/);
    expect(() => reg.accounts.users.put({ ...bob, quota: { ...bob.quota, vcpus: -1 } })).toThrow(/CHECK/);
    expect(reg.accounts.users.list()).toEqual([bob]);
  });

  it('refuses a token or a session of a user who does not exist', () => {
    expect(() => reg.accounts.tokens.put(token('0000000000000009', 'u-00000000000000ff'))).toThrow(/FOREIGN KEY/);
    expect(() => reg.accounts.sessions.put(session('s', '2026-12-03T00:00:00.000Z', 'u-00000000000000ff'))).toThrow(/FOREIGN KEY/);
    expect(reg.accounts.tokens.get('0000000000000009')).toBeUndefined();
  });

  it('a coordinator restart keeps the first admin, their password, API token and portal session', async () => {
    const accounts = () => new Accounts({ store: reg.accounts, now });
    const first = (await accounts().ensureFirstAdmin())!;
    const api = await accounts().createToken(first.user.id, 'laptop');
    const portal = accounts().startSession(first.user.id);
    reopen();
    clock += 60_000;
    const after = accounts();
    // The first `cps up` made the admin; a second start makes no other.
    expect(await after.ensureFirstAdmin()).toBeUndefined();
    expect((await after.checkPassword(first.user.name, first.password))?.id).toBe(first.user.id);
    expect(await after.checkPassword(first.user.name, `${first.password}x`)).toBeUndefined();
    const byToken = after.checkToken(api.value);
    expect('user' in byToken && byToken.user.id).toBe(first.user.id);
    const bySession = after.checkSession(portal.value);
    expect(bySession && 'user' in bySession && bySession.user.id).toBe(first.user.id);
    after.revokeToken(first.user, api.token.id);
    reopen();
    expect(accounts().checkToken(api.value)).toEqual({ failure: 'token-revoked' });
  });
});
