import type { Database } from 'better-sqlite3';

/** How long a create's Idempotency-Key is honoured: a day, long enough for any client's retries. */
export const idempotencyTtlMs = 24 * 60 * 60 * 1000;

export interface IdempotencyRecord {
  userId: string;
  key: string;
  /** A digest of the request the key was first used with: a reuse with another body is the caller's error. */
  fingerprint: string;
  taskId: string;
  createdAt: string;
}

interface Row {
  user_id: string;
  key: string;
  fingerprint: string;
  task_id: string;
  created_at: string;
}

/**
 * Which task a user's Idempotency-Key made. Keys are per user (two users may pick the same key)
 * and expire a day after first use; an expired key is as if never used. What a reuse means
 * (same fingerprint: answer with the task; another: refuse) is the API's decision.
 */
export class SqliteIdempotencyKeys {
  private readonly find: (userId: string, key: string, cutoff: string) => Row | undefined;
  private readonly recordTx: (rec: IdempotencyRecord, cutoff: string) => IdempotencyRecord;
  private readonly purge: (cutoff: string) => number;

  constructor(
    db: Database,
    private readonly now: () => Date,
  ) {
    // Instants, not strings, are compared (see the sessions' expiry).
    const live = "unixepoch(created_at, 'subsec') > unixepoch(@cutoff, 'subsec')";
    const select = db.prepare<[{ userId: string; key: string; cutoff: string }], Row>(
      `SELECT user_id, key, fingerprint, task_id, created_at FROM idempotency_keys WHERE user_id = @userId AND key = @key AND ${live}`,
    );
    const upsert = db.prepare<[Row]>(`
      INSERT INTO idempotency_keys (user_id, key, fingerprint, task_id, created_at)
      VALUES (@user_id, @key, @fingerprint, @task_id, @created_at)
      ON CONFLICT (user_id, key) DO UPDATE SET
        fingerprint = excluded.fingerprint, task_id = excluded.task_id, created_at = excluded.created_at`);
    const remove = db.prepare<[{ cutoff: string }]>(`DELETE FROM idempotency_keys WHERE NOT (${live})`);

    this.find = (userId, key, cutoff) => select.get({ userId, key, cutoff });
    this.recordTx = db.transaction((rec: IdempotencyRecord, cutoff: string): IdempotencyRecord => {
      const held = select.get({ userId: rec.userId, key: rec.key, cutoff });
      if (held) return toRecord(held);
      upsert.run({ user_id: rec.userId, key: rec.key, fingerprint: rec.fingerprint, task_id: rec.taskId, created_at: rec.createdAt });
      return rec;
    });
    this.purge = (cutoff) => remove.run({ cutoff }).changes;
  }

  /** The key's record if it was used in the last day. */
  lookup(userId: string, key: string): IdempotencyRecord | undefined {
    const row = this.find(userId, key, this.cutoff());
    return row && toRecord(row);
  }

  /**
   * Records that `key` made `taskId` (the task must be in the registry). If the key is already
   * held (used within the day), nothing changes and the record in force is returned: compare
   * its taskId with yours.
   */
  record(userId: string, key: string, fingerprint: string, taskId: string): IdempotencyRecord {
    return this.recordTx({ userId, key, fingerprint, taskId, createdAt: this.now().toISOString() }, this.cutoff());
  }

  /** Forgets keys older than a day; returns how many. */
  deleteExpired(): number {
    return this.purge(this.cutoff());
  }

  private cutoff(): string {
    return new Date(this.now().getTime() - idempotencyTtlMs).toISOString();
  }
}

const toRecord = (r: Row): IdempotencyRecord => ({ userId: r.user_id, key: r.key, fingerprint: r.fingerprint, taskId: r.task_id, createdAt: r.created_at });
