import type { Database, Transaction } from 'better-sqlite3';

/**
 * The replicated tables, each with its columns as SQLite holds them, parents before children:
 * the order rows are inserted in (a foreign key is checked at each insert), reversed for deleting.
 * users, api_tokens and sessions carry their rowid: the stores list them in the order they were
 * first put (ORDER BY rowid), and a copy must list them the same.
 */
export const replicatedColumns = {
  users: ['rowid', 'id', 'name', 'role', 'password_hash', 'quota_vcpus', 'quota_memory_mib', 'quota_disk_mib', 'quota_running_tasks', 'created_at', 'disabled_at'],
  tasks: ['seq', 'id', 'name', 'state', 'created_at', 'updated_at', 'doc', 'owner'],
  task_history: ['task_id', 'n', 'state', 'at', 'message'],
  api_tokens: ['rowid', 'id', 'user_id', 'name', 'secret_hash', 'created_at', 'expires_at', 'last_used_at', 'revoked_at'],
  sessions: ['rowid', 'id_hash', 'user_id', 'created_at', 'expires_at'],
  idempotency_keys: ['user_id', 'key', 'fingerprint', 'task_id', 'created_at'],
  queue: ['seq', 'task_id', 'user_id', 'enqueued_at', 'not_before', 'reason', 'tag'],
} as const;

export type ReplicatedTable = keyof typeof replicatedColumns;
export const replicatedTables = Object.keys(replicatedColumns) as ReplicatedTable[];

// The order each table is read in: its key, so two equal registries give equal snapshots.
const orderBy: Record<ReplicatedTable, string> = {
  users: 'rowid',
  tasks: 'seq',
  task_history: 'task_id, n',
  api_tokens: 'rowid',
  sessions: 'rowid',
  idempotency_keys: 'user_id, key',
  queue: 'seq',
};

export type SqlValue = string | number | null;
export type ReplicaRow = Record<string, SqlValue>;
export type ReplicaTables = Record<ReplicatedTable, ReplicaRow[]>;

/** Where this file's replicated rows stand: its own revision, and the head snapshot it last took. */
export interface Revision {
  rev: number;
  /** The last head snapshot applied here (a follower's); absent on a node that never followed. */
  applied?: { rev: number; epoch?: number; from: string; at: string };
}

export interface Snapshot {
  rev: number;
  tables: ReplicaTables;
}

/** What came from the head, validated (replica/snapshot-schema.ts), and who sent it when. */
export interface IncomingSnapshot extends Snapshot {
  epoch?: number;
  from: string;
  at: string;
}

/**
 * Is `s` (a head's snapshot) newer than the one this file took last? A newer head term (epoch)
 * wins whatever its rev: a new head counts on from the rev it had, which may be behind what a
 * better-informed follower took from the old one. Within a term (or without epochs) the larger rev.
 */
export function isNewer(s: { rev: number; epoch?: number }, applied: Revision['applied']): boolean {
  if (!applied) return true;
  if (s.epoch !== undefined && applied.epoch !== undefined && s.epoch !== applied.epoch) return s.epoch > applied.epoch;
  return s.rev > applied.rev;
}

interface RevisionRow {
  rev: number;
  applied_rev: number | null;
  applied_epoch: number | null;
  applied_from: string | null;
  applied_at: string | null;
}

/**
 * The registry as a whole for replication: its revision, a consistent copy of every replicated
 * row (on the head), and replacing them all with a head's copy (on a follower).
 */
export class SqliteReplicaStore {
  private readonly readRevision: () => RevisionRow;
  private readonly snapshotTx: () => Snapshot;
  private readonly applyTx: Transaction<(s: IncomingSnapshot) => boolean>;

  constructor(db: Database) {
    const revision = db.prepare<[], RevisionRow>('SELECT rev, applied_rev, applied_epoch, applied_from, applied_at FROM registry_revision WHERE id = 1');
    this.readRevision = () => {
      const row = revision.get();
      if (!row) throw new Error('the registry has no revision row (migration 4 did not run?)');
      return row;
    };
    const selects = replicatedTables.map((t) => [t, db.prepare<[], ReplicaRow>(`SELECT ${replicatedColumns[t].join(', ')} FROM ${t} ORDER BY ${orderBy[t]}`)] as const);
    // One read transaction: in WAL mode every SELECT in it sees the same commit, so the rev and
    // the rows belong together even while the head keeps writing.
    this.snapshotTx = db.transaction(() => {
      const rev = this.readRevision().rev;
      const tables = Object.fromEntries(selects.map(([t, stmt]) => [t, stmt.all()])) as ReplicaTables;
      return { rev, tables };
    });
    const deletes = [...replicatedTables].reverse().map((t) => db.prepare(`DELETE FROM ${t}`));
    const inserts = replicatedTables.map((t) => {
      const cols = replicatedColumns[t];
      return [t, db.prepare<[ReplicaRow]>(`INSERT INTO ${t} (${cols.join(', ')}) VALUES (${cols.map((c) => `@${c}`).join(', ')})`)] as const;
    });
    const setApplied = db.prepare<[{ rev: number; epoch: number | null; from: string; at: string }]>(
      'UPDATE registry_revision SET rev = @rev, applied_rev = @rev, applied_epoch = @epoch, applied_from = @from, applied_at = @at WHERE id = 1',
    );
    this.applyTx = db.transaction((s: IncomingSnapshot) => {
      // Compared inside the write lock: two applies cannot both pass on the same old revision.
      if (!isNewer(s, this.revision().applied)) return false;
      for (const d of deletes) d.run();
      // Any row the schema refuses (a CHECK, a foreign key, a duplicate key) throws here, and
      // the whole transaction rolls back: the file keeps the snapshot it had.
      for (const [t, stmt] of inserts) for (const row of s.tables[t]) stmt.run(row);
      // The rev the head had, so this node, if it becomes head, counts on from there.
      setApplied.run({ rev: s.rev, epoch: s.epoch ?? null, from: s.from, at: s.at });
      return true;
    });
  }

  revision(): Revision {
    const r = this.readRevision();
    return {
      rev: r.rev,
      ...(r.applied_rev !== null && r.applied_from !== null && r.applied_at !== null
        ? { applied: { rev: r.applied_rev, ...(r.applied_epoch !== null ? { epoch: r.applied_epoch } : {}), from: r.applied_from, at: r.applied_at } }
        : {}),
    };
  }

  /** Every replicated row and the rev they are at, as one consistent read. */
  snapshot(): Snapshot {
    return this.snapshotTx();
  }

  /**
   * Replaces every replicated row with the snapshot's, in one IMMEDIATE transaction (all of it or
   * nothing, across a kill -9 too). False, with nothing changed, when it is not newer than the last
   * one applied. Throws, with nothing changed, when SQLite refuses a row.
   */
  apply(s: IncomingSnapshot): boolean {
    return this.applyTx.immediate(s);
  }
}
