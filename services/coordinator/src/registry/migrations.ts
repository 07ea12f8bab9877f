import type { Database } from 'better-sqlite3';

/**
 * The registry's schema, as the numbered steps that built it. A step is never edited once
 * released (a node's file already went through it): a change is a new step at the end.
 * `PRAGMA user_version` holds the number of the last step applied.
 */
export interface Migration {
  version: number;
  /** What the step adds, for the error when it fails. */
  name: string;
  sql: string;
}

export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'tasks and their history',
    // The queried fields are columns; the rest of the contract's Task (request, node, backups,
    // console, error, and whatever the contract adds later) is one JSON document, so a new
    // optional field round-trips without a migration. seq is creation order: newest first.
    sql: `
      CREATE TABLE tasks (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        state TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        doc TEXT NOT NULL CHECK (json_valid(doc))
      );
      CREATE INDEX tasks_by_state ON tasks (state);
      CREATE TABLE task_history (
        task_id TEXT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
        n INTEGER NOT NULL,
        state TEXT NOT NULL,
        at TEXT NOT NULL,
        message TEXT,
        PRIMARY KEY (task_id, n)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 2,
    name: 'users, API tokens, sessions; task owners',
    // Users are never deleted (disabled_at instead), so an owner always resolves. Tasks made
    // before accounts keep a NULL owner.
    sql: `
      CREATE TABLE users (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        role TEXT NOT NULL CHECK (role IN ('user', 'admin')),
        password_hash TEXT NOT NULL,
        quota_vcpus INTEGER NOT NULL CHECK (quota_vcpus >= 0),
        quota_memory_mib INTEGER NOT NULL CHECK (quota_memory_mib >= 0),
        quota_disk_mib INTEGER NOT NULL CHECK (quota_disk_mib >= 0),
        quota_running_tasks INTEGER NOT NULL CHECK (quota_running_tasks >= 0),
        created_at TEXT NOT NULL,
        disabled_at TEXT
      );
      CREATE TABLE api_tokens (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        secret_hash TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT,
        last_used_at TEXT,
        revoked_at TEXT
      );
      CREATE INDEX api_tokens_by_user ON api_tokens (user_id);
      CREATE TABLE sessions (
        id_hash TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL
      );
      CREATE INDEX sessions_by_expiry ON sessions (expires_at);
      ALTER TABLE tasks ADD COLUMN owner TEXT REFERENCES users (id);
      CREATE INDEX tasks_by_owner ON tasks (owner);
    `,
  },
  {
    version: 3,
    name: 'idempotency keys and the queue',
    // tag: the task's turn in the fair order (queue/fairness.ts), kept so a restart keeps it.
    sql: `
      CREATE TABLE idempotency_keys (
        user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        task_id TEXT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
        created_at TEXT NOT NULL,
        PRIMARY KEY (user_id, key)
      ) WITHOUT ROWID;
      CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
      CREATE TABLE queue (
        seq INTEGER PRIMARY KEY,
        task_id TEXT NOT NULL UNIQUE REFERENCES tasks (id) ON DELETE CASCADE,
        user_id TEXT REFERENCES users (id),
        enqueued_at TEXT NOT NULL,
        not_before TEXT,
        reason TEXT NOT NULL,
        tag INTEGER
      );
    `,
  },
  {
    version: 4,
    name: 'the registry revision',
    // One row: rev, a number every change of a replicated table moves on (replica/), so a
    // follower's pull asks "anything since rev N?" and an unchanged registry answers 204. Per-row
    // triggers, so no write path can forget it. applied_*: the head snapshot this file last took
    // (a follower's): its rev and epoch (what the next one is compared with), the node it came
    // from, when; NULL for a node that never followed. Kept apart from rev: a follower's own
    // writes (an expired session swept) move rev, never what it has of the head.
    sql: `
      CREATE TABLE registry_revision (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        rev INTEGER NOT NULL CHECK (rev >= 0),
        applied_rev INTEGER,
        applied_epoch INTEGER,
        applied_from TEXT,
        applied_at TEXT
      );
      INSERT INTO registry_revision (id, rev) VALUES (1, 0);
      CREATE TRIGGER tasks_rev_insert AFTER INSERT ON tasks BEGIN UPDATE registry_revision SET rev = rev + 1 WHERE id = 1; END;
      CREATE TRIGGER tasks_rev_update AFTER UPDATE ON tasks BEGIN UPDATE registry_revision SET rev = rev + 1 WHERE id = 1; END;
      CREATE TRIGGER tasks_rev_delete AFTER DELETE ON tasks BEGIN UPDATE registry_revision SET rev = rev + 1 WHERE id = 1; END;
      CREATE TRIGGER task_history_rev_insert AFTER INSERT ON task_history BEGIN UPDATE registry_revision SET rev = rev + 1 WHERE id = 1; END;
      CREATE TRIGGER task_history_rev_update AFTER UPDATE ON task_history BEGIN UPDATE registry_revision SET rev = rev + 1 WHERE id = 1; END;
      CREATE TRIGGER task_history_rev_delete AFTER DELETE ON task_history BEGIN UPDATE registry_revision SET rev = rev + 1 WHERE id = 1; END;
      CREATE TRIGGER users_rev_insert AFTER INSERT ON users BEGIN UPDATE registry_revision SET rev = rev + 1 WHERE id = 1; END;
      CREATE TRIGGER users_rev_update AFTER UPDATE ON users BEGIN UPDATE registry_revision SET rev = rev + 1 WHERE id = 1; END;
      CREATE TRIGGER users_rev_delete AFTER DELETE ON users BEGIN UPDATE registry_revision SET rev = rev + 1 WHERE id = 1; END;
      CREATE TRIGGER api_tokens_rev_insert AFTER INSERT ON api_tokens BEGIN UPDATE registry_revision SET rev = rev + 1 WHERE id = 1; END;
      CREATE TRIGGER api_tokens_rev_update AFTER UPDATE ON api_tokens BEGIN UPDATE registry_revision SET rev = rev + 1 WHERE id = 1; END;
      CREATE TRIGGER api_tokens_rev_delete AFTER DELETE ON api_tokens BEGIN UPDATE registry_revision SET rev = rev + 1 WHERE id = 1; END;
      CREATE TRIGGER sessions_rev_insert AFTER INSERT ON sessions BEGIN UPDATE registry_revision SET rev = rev + 1 WHERE id = 1; END;
      CREATE TRIGGER sessions_rev_update AFTER UPDATE ON sessions BEGIN UPDATE registry_revision SET rev = rev + 1 WHERE id = 1; END;
      CREATE TRIGGER sessions_rev_delete AFTER DELETE ON sessions BEGIN UPDATE registry_revision SET rev = rev + 1 WHERE id = 1; END;
      CREATE TRIGGER idempotency_keys_rev_insert AFTER INSERT ON idempotency_keys BEGIN UPDATE registry_revision SET rev = rev + 1 WHERE id = 1; END;
      CREATE TRIGGER idempotency_keys_rev_update AFTER UPDATE ON idempotency_keys BEGIN UPDATE registry_revision SET rev = rev + 1 WHERE id = 1; END;
      CREATE TRIGGER idempotency_keys_rev_delete AFTER DELETE ON idempotency_keys BEGIN UPDATE registry_revision SET rev = rev + 1 WHERE id = 1; END;
      CREATE TRIGGER queue_rev_insert AFTER INSERT ON queue BEGIN UPDATE registry_revision SET rev = rev + 1 WHERE id = 1; END;
      CREATE TRIGGER queue_rev_update AFTER UPDATE ON queue BEGIN UPDATE registry_revision SET rev = rev + 1 WHERE id = 1; END;
      CREATE TRIGGER queue_rev_delete AFTER DELETE ON queue BEGIN UPDATE registry_revision SET rev = rev + 1 WHERE id = 1; END;
    `,
  },
];

/** The file was written by a newer coordinator: its schema has steps this code does not know. */
export class RegistryTooNewError extends Error {
  constructor(
    readonly path: string,
    readonly fileVersion: number,
    readonly knownVersion: number,
  ) {
    super(
      `${path} has registry schema version ${fileVersion}, but this coordinator knows versions up to ${knownVersion}: ` +
        'it was written by a newer CPS. Run that version again, or move the file away to start with an empty registry.',
    );
    this.name = 'RegistryTooNewError';
  }
}

export const schemaVersion = (db: Database): number => db.pragma('user_version', { simple: true }) as number;

/** Refuses a file newer than `list` before anything in it is changed. */
export function assertNotNewer(db: Database, path: string, list: readonly Migration[] = migrations): void {
  const v = schemaVersion(db);
  const known = list.at(-1)?.version ?? 0;
  if (v > known) throw new RegistryTooNewError(path, v, known);
}

/**
 * Applies the steps the file lacks, each in its own IMMEDIATE transaction with its new
 * user_version, so a crash or a failing step leaves the file at the previous version, whole.
 * Returns the versions applied.
 */
export function migrate(db: Database, path: string, list: readonly Migration[] = migrations): number[] {
  list.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`registry migration ${i + 1} is numbered ${m.version}: the list must count 1, 2, 3, ...`);
  });
  assertNotNewer(db, path, list);
  const applied: number[] = [];
  for (const m of list) {
    const step = db.transaction(() => {
      // Read again inside the lock: another process may have applied it meanwhile.
      if (schemaVersion(db) >= m.version) return false;
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
      return true;
    });
    try {
      if (step.immediate()) applied.push(m.version);
    } catch (err) {
      throw new Error(`registry migration ${m.version} (${m.name}) failed on ${path}: ${(err as Error).message}`, { cause: err });
    }
  }
  return applied;
}
