import type { Database, Statement } from 'better-sqlite3';
import type { Task, TaskStore } from '../tasks/store.ts';

type History = Task['history'];
/** Everything of a Task that is not a column or a history row: kept as one JSON document. */
type TaskDoc = Omit<Task, 'id' | 'name' | 'state' | 'createdAt' | 'updatedAt' | 'history'>;

interface TaskRow {
  id: string;
  name: string;
  state: string;
  created_at: string;
  updated_at: string;
  doc: string;
}

interface HistoryRow {
  task_id: string;
  state: string;
  at: string;
  message: string | null;
}

/**
 * The contract's Task in SQLite: the same behaviour as MemoryTaskStore (put replaces, list is
 * newest first by creation) and an owner per task. Every put is one transaction, so a reader
 * (or a restart after kill -9) sees a task with all of its history or the one before it.
 */
export class SqliteTaskStore implements TaskStore {
  private readonly upsert: Statement<[Record<string, unknown>]>;
  private readonly clearHistory: Statement<[string]>;
  private readonly addHistory: Statement<[Record<string, unknown>]>;
  private readonly one: Statement<[string], TaskRow>;
  private readonly all: Statement<[], TaskRow>;
  private readonly ownedBy: Statement<[string], TaskRow>;
  private readonly historyOf: Statement<[string], HistoryRow>;
  private readonly allHistory: Statement<[], HistoryRow>;
  private readonly ownerRow: Statement<[string], { owner: string | null }>;
  private readonly remove: Statement<[string]>;
  private readonly putTx: (task: Task, owner: string | null | undefined) => void;

  constructor(private readonly db: Database) {
    // ON CONFLICT DO UPDATE keeps the row (and its seq, the creation order); REPLACE would not.
    this.upsert = db.prepare(`
      INSERT INTO tasks (id, name, state, created_at, updated_at, doc, owner)
      VALUES (@id, @name, @state, @createdAt, @updatedAt, @doc, @owner)
      ON CONFLICT (id) DO UPDATE SET
        name = excluded.name, state = excluded.state, created_at = excluded.created_at,
        updated_at = excluded.updated_at, doc = excluded.doc,
        owner = CASE WHEN @ownerGiven THEN excluded.owner ELSE tasks.owner END`);
    this.clearHistory = db.prepare('DELETE FROM task_history WHERE task_id = ?');
    this.addHistory = db.prepare('INSERT INTO task_history (task_id, n, state, at, message) VALUES (@taskId, @n, @state, @at, @message)');
    const columns = 'SELECT id, name, state, created_at, updated_at, doc FROM tasks';
    this.one = db.prepare(`${columns} WHERE id = ?`);
    this.all = db.prepare(`${columns} ORDER BY seq DESC`);
    this.ownedBy = db.prepare(`${columns} WHERE owner = ? ORDER BY seq DESC`);
    this.historyOf = db.prepare('SELECT task_id, state, at, message FROM task_history WHERE task_id = ? ORDER BY n');
    this.allHistory = db.prepare('SELECT task_id, state, at, message FROM task_history ORDER BY task_id, n');
    this.ownerRow = db.prepare('SELECT owner FROM tasks WHERE id = ?');
    this.remove = db.prepare('DELETE FROM tasks WHERE id = ?');
    this.putTx = db.transaction((task: Task, owner: string | null | undefined) => {
      const { id, name, state, createdAt, updatedAt, history, ...doc } = task;
      // The owner comes from the caller, else from the task if the contract carries one;
      // neither keeps the owner already stored (a transition does not know who owns the task).
      const o = (doc as { owner?: unknown }).owner;
      const fromTask = typeof o === 'string' ? o : typeof o === 'object' && o !== null && typeof (o as { id?: unknown }).id === 'string' ? (o as { id: string }).id : undefined;
      const own = owner !== undefined ? owner : fromTask;
      this.upsert.run({ id, name, state, createdAt, updatedAt, doc: JSON.stringify(doc), owner: own ?? null, ownerGiven: own !== undefined ? 1 : 0 });
      this.clearHistory.run(id);
      history.forEach((h, n) => this.addHistory.run({ taskId: id, n, state: h.state, at: h.at, message: h.message ?? null }));
    });
  }

  get(id: string): Task | undefined {
    const row = this.one.get(id);
    return row && toTask(row, this.historyOf.all(id));
  }

  /** Newest first. */
  list(): Task[] {
    return this.withHistory(this.all.all());
  }

  /** The tasks of one user, newest first. */
  listOwnedBy(userId: string): Task[] {
    return this.withHistory(this.ownedBy.all(userId));
  }

  /**
   * Replaces the task and its whole history. `owner` sets (or with null clears) the owner;
   * left out, the task's own `owner` field is used if it has one, else the stored owner stays.
   */
  put(task: Task, owner?: string | null): void {
    this.putTx(task, owner);
  }

  /** The owner's user id; null for a task made before accounts; undefined for no such task. */
  ownerOf(id: string): string | null | undefined {
    return this.ownerRow.get(id)?.owner;
  }

  /** Deletes the task's record with its history, queue entry and idempotency keys. */
  delete(id: string): boolean {
    return this.remove.run(id).changes > 0;
  }

  private withHistory(rows: TaskRow[]): Task[] {
    if (rows.length === 0) return [];
    const byTask = new Map<string, HistoryRow[]>();
    // One query for every history row beats one per task: a list is a page load or an SSE start.
    for (const h of this.allHistory.all()) {
      const list = byTask.get(h.task_id);
      if (list) list.push(h);
      else byTask.set(h.task_id, [h]);
    }
    return rows.map((r) => toTask(r, byTask.get(r.id) ?? []));
  }
}

function toTask(row: TaskRow, history: HistoryRow[]): Task {
  // The document was written by put() from a Task: it is read back as what it was.
  const doc = JSON.parse(row.doc) as TaskDoc;
  return {
    ...doc,
    id: row.id,
    name: row.name,
    state: row.state as Task['state'],
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    history: history.map(
      (h): History[number] => ({ state: h.state as Task['state'], at: h.at, ...(h.message === null ? {} : { message: h.message }) }),
    ),
  };
}
