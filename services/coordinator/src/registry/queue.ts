import type { Database } from 'better-sqlite3';

export interface QueueEntry {
  taskId: string;
  /** The task's owner; null for a task made before accounts. */
  userId: string | null;
  enqueuedAt: string;
  /** Not started before this instant (a run reserved in advance). */
  notBefore?: string;
  /** Why it waits, for the API and portal ("needs 4 vCPUs; the largest free peer lends 2"). */
  reason: string;
  /** Its turn in the fair order between users (queue/fairness.ts), if the scheduler gave one. */
  tag?: number;
}

export interface Enqueue {
  taskId: string;
  userId: string | null;
  notBefore?: string;
  reason: string;
  tag?: number;
}

interface Row {
  task_id: string;
  user_id: string | null;
  enqueued_at: string;
  not_before: string | null;
  reason: string;
  tag: number | null;
}

/**
 * The tasks waiting for a peer, in order of arrival. Which one starts next (fairness between
 * users, not-before) is the scheduler's choice over this list; the queue only keeps it.
 */
export class SqliteQueue {
  private readonly insert: (e: Row) => void;
  private readonly one: (taskId: string) => Row | undefined;
  private readonly all: () => Row[];
  private readonly updateReason: (taskId: string, reason: string) => number;
  private readonly del: (taskId: string) => number;

  constructor(
    db: Database,
    private readonly now: () => Date,
  ) {
    // A task queued again (a retry found no peer either) keeps its place and its turn; only why
    // and when change (and the turn, if one is given).
    const insert = db.prepare<[Row]>(`
      INSERT INTO queue (task_id, user_id, enqueued_at, not_before, reason, tag)
      VALUES (@task_id, @user_id, @enqueued_at, @not_before, @reason, @tag)
      ON CONFLICT (task_id) DO UPDATE SET
        not_before = excluded.not_before, reason = excluded.reason, tag = coalesce(excluded.tag, queue.tag)`);
    const cols = 'SELECT task_id, user_id, enqueued_at, not_before, reason, tag FROM queue';
    const one = db.prepare<[string], Row>(`${cols} WHERE task_id = ?`);
    const all = db.prepare<[], Row>(`${cols} ORDER BY unixepoch(enqueued_at, 'subsec'), seq`);
    const reason = db.prepare<[string, string]>('UPDATE queue SET reason = ? WHERE task_id = ?');
    const del = db.prepare<[string]>('DELETE FROM queue WHERE task_id = ?');
    this.insert = (e) => void insert.run(e);
    this.one = (id) => one.get(id);
    this.all = () => all.all();
    this.updateReason = (id, r) => reason.run(r, id).changes;
    this.del = (id) => del.run(id).changes;
  }

  /** Queues the task (which must be in the registry) now, or updates its reason, not-before and tag if queued. */
  enqueue(e: Enqueue): QueueEntry {
    this.insert({ task_id: e.taskId, user_id: e.userId, enqueued_at: this.now().toISOString(), not_before: e.notBefore ?? null, reason: e.reason, tag: e.tag ?? null });
    return this.get(e.taskId)!;
  }

  get(taskId: string): QueueEntry | undefined {
    const r = this.one(taskId);
    return r && toEntry(r);
  }

  /** Every waiting task, first come first. */
  list(): QueueEntry[] {
    return this.all().map(toEntry);
  }

  /** Changes why a task waits; false if it is not queued. */
  setReason(taskId: string, reason: string): boolean {
    return this.updateReason(taskId, reason) > 0;
  }

  /** Takes the task out (it started, or was cancelled); false if it was not queued. */
  remove(taskId: string): boolean {
    return this.del(taskId) > 0;
  }
}

const toEntry = (r: Row): QueueEntry => ({
  taskId: r.task_id,
  userId: r.user_id,
  enqueuedAt: r.enqueued_at,
  ...(r.not_before === null ? {} : { notBefore: r.not_before }),
  reason: r.reason,
  ...(r.tag === null ? {} : { tag: r.tag }),
});
