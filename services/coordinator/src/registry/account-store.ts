import type { Database } from 'better-sqlite3';
import type { AccountStore, ApiToken, Role, Session, User } from '../accounts/types.ts';

interface UserRow {
  id: string;
  name: string;
  role: string;
  password_hash: string;
  quota_vcpus: number;
  quota_memory_mib: number;
  quota_disk_mib: number;
  quota_running_tasks: number;
  created_at: string;
  disabled_at: string | null;
}

interface TokenRow {
  id: string;
  user_id: string;
  name: string;
  secret_hash: string;
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
}

interface SessionRow {
  id_hash: string;
  user_id: string;
  created_at: string;
  expires_at: string;
}

/**
 * Accounts in the registry, behaving as MemoryAccountStore does: put replaces, lists are in the
 * order things were first put. A user's name is unique (put throws on a second user of that name).
 * Puts are upserts, never REPLACE: replacing a user row would cascade away its tokens and sessions.
 */
export class SqliteAccountStore implements AccountStore {
  readonly users: AccountStore['users'];
  readonly tokens: AccountStore['tokens'];
  readonly sessions: AccountStore['sessions'];

  constructor(db: Database) {
    const userCols = 'SELECT id, name, role, password_hash, quota_vcpus, quota_memory_mib, quota_disk_mib, quota_running_tasks, created_at, disabled_at FROM users';
    const userById = db.prepare<[string], UserRow>(`${userCols} WHERE id = ?`);
    const userByName = db.prepare<[string], UserRow>(`${userCols} WHERE name = ?`);
    const allUsers = db.prepare<[], UserRow>(`${userCols} ORDER BY rowid`);
    const countUsers = db.prepare<[], number>('SELECT count(*) FROM users').pluck();
    const putUser = db.prepare<[UserRow]>(`
      INSERT INTO users (id, name, role, password_hash, quota_vcpus, quota_memory_mib, quota_disk_mib, quota_running_tasks, created_at, disabled_at)
      VALUES (@id, @name, @role, @password_hash, @quota_vcpus, @quota_memory_mib, @quota_disk_mib, @quota_running_tasks, @created_at, @disabled_at)
      ON CONFLICT (id) DO UPDATE SET
        name = excluded.name, role = excluded.role, password_hash = excluded.password_hash,
        quota_vcpus = excluded.quota_vcpus, quota_memory_mib = excluded.quota_memory_mib,
        quota_disk_mib = excluded.quota_disk_mib, quota_running_tasks = excluded.quota_running_tasks,
        created_at = excluded.created_at, disabled_at = excluded.disabled_at`);

    this.users = {
      get: (id) => user(userById.get(id)),
      byName: (name) => user(userByName.get(name)),
      list: () => allUsers.all().map((r) => user(r)!),
      put: (u) => void putUser.run(userRow(u)),
      count: () => countUsers.get()!,
    };

    const tokenCols = 'SELECT id, user_id, name, secret_hash, created_at, expires_at, last_used_at, revoked_at FROM api_tokens';
    const tokenById = db.prepare<[string], TokenRow>(`${tokenCols} WHERE id = ?`);
    const tokensOf = db.prepare<[string], TokenRow>(`${tokenCols} WHERE user_id = ? ORDER BY rowid`);
    const putToken = db.prepare<[TokenRow]>(`
      INSERT INTO api_tokens (id, user_id, name, secret_hash, created_at, expires_at, last_used_at, revoked_at)
      VALUES (@id, @user_id, @name, @secret_hash, @created_at, @expires_at, @last_used_at, @revoked_at)
      ON CONFLICT (id) DO UPDATE SET
        user_id = excluded.user_id, name = excluded.name, secret_hash = excluded.secret_hash,
        created_at = excluded.created_at, expires_at = excluded.expires_at,
        last_used_at = excluded.last_used_at, revoked_at = excluded.revoked_at`);

    this.tokens = {
      get: (id) => token(tokenById.get(id)),
      listFor: (userId) => tokensOf.all(userId).map((r) => token(r)!),
      put: (t) =>
        void putToken.run({
          id: t.id,
          user_id: t.userId,
          name: t.name,
          secret_hash: t.secretHash,
          created_at: t.createdAt,
          expires_at: t.expiresAt ?? null,
          last_used_at: t.lastUsedAt ?? null,
          revoked_at: t.revokedAt ?? null,
        }),
    };

    const sessionByHash = db.prepare<[string], SessionRow>('SELECT id_hash, user_id, created_at, expires_at FROM sessions WHERE id_hash = ?');
    const putSession = db.prepare<[SessionRow]>(`
      INSERT INTO sessions (id_hash, user_id, created_at, expires_at) VALUES (@id_hash, @user_id, @created_at, @expires_at)
      ON CONFLICT (id_hash) DO UPDATE SET user_id = excluded.user_id, created_at = excluded.created_at, expires_at = excluded.expires_at`);
    const deleteSession = db.prepare<[string]>('DELETE FROM sessions WHERE id_hash = ?');
    const deleteUserSessions = db.prepare<[string]>('DELETE FROM sessions WHERE user_id = ?');
    // Compared as instants, not as strings: '...T10:00Z' and '...T10:00:00.000Z' are the same time.
    const deleteExpired = db.prepare<[string]>('DELETE FROM sessions WHERE unixepoch(expires_at, \'subsec\') < unixepoch(?, \'subsec\')');

    this.sessions = {
      get: (idHash) => session(sessionByHash.get(idHash)),
      put: (s) => void putSession.run({ id_hash: s.idHash, user_id: s.userId, created_at: s.createdAt, expires_at: s.expiresAt }),
      delete: (idHash) => void deleteSession.run(idHash),
      deleteForUser: (userId) => deleteUserSessions.run(userId).changes,
      deleteExpired: (now) => deleteExpired.run(now.toISOString()).changes,
    };
  }
}

function userRow(u: User): UserRow {
  return {
    id: u.id,
    name: u.name,
    role: u.role,
    password_hash: u.passwordHash,
    quota_vcpus: u.quota.vcpus,
    quota_memory_mib: u.quota.memoryMiB,
    quota_disk_mib: u.quota.diskMiB,
    quota_running_tasks: u.quota.runningTasks,
    created_at: u.createdAt,
    disabled_at: u.disabledAt ?? null,
  };
}

function user(r: UserRow | undefined): User | undefined {
  if (!r) return undefined;
  return {
    id: r.id,
    name: r.name,
    // The CHECK constraint admits only the two roles.
    role: r.role as Role,
    passwordHash: r.password_hash,
    quota: { vcpus: r.quota_vcpus, memoryMiB: r.quota_memory_mib, diskMiB: r.quota_disk_mib, runningTasks: r.quota_running_tasks },
    createdAt: r.created_at,
    ...(r.disabled_at === null ? {} : { disabledAt: r.disabled_at }),
  };
}

function token(r: TokenRow | undefined): ApiToken | undefined {
  if (!r) return undefined;
  return {
    id: r.id,
    userId: r.user_id,
    name: r.name,
    secretHash: r.secret_hash,
    createdAt: r.created_at,
    ...(r.expires_at === null ? {} : { expiresAt: r.expires_at }),
    ...(r.last_used_at === null ? {} : { lastUsedAt: r.last_used_at }),
    ...(r.revoked_at === null ? {} : { revokedAt: r.revoked_at }),
  };
}

function session(r: SessionRow | undefined): Session | undefined {
  return r && { idHash: r.id_hash, userId: r.user_id, createdAt: r.created_at, expiresAt: r.expires_at };
}
