import { z } from 'zod';
import { replicatedColumns, type ReplicaTables } from '../registry/replica-store.ts';
import { transitions } from '../tasks/states.ts';

/**
 * The head's snapshot as a follower reads it: bytes from the LAN, so every row is checked here,
 * column by column, before anything touches the database. Objects are strict (an extra table or
 * column is refused, not ignored); every string is bounded; what SQLite checks itself (foreign
 * keys, unique keys) it still checks when the rows go in, inside the one transaction.
 */

// Bounds far above what the coordinator writes, far below what could hurt.
const idMax = 200;
const textMax = 4096;
/** A task's JSON document (request, node, backups, console, error). */
export const docMaxBytes = 1024 * 1024;

const id = z.string().min(1).max(idMax);
const text = z.string().max(textMax);
const at = z.iso.datetime({ offset: true });
const count = z.int().min(0).max(Number.MAX_SAFE_INTEGER);
const rowid = z.int().min(1).max(Number.MAX_SAFE_INTEGER);
const state = z.enum(Object.keys(transitions) as [string, ...string[]]);
const nullable = <T extends z.ZodType>(t: T) => t.nullable();

const doc = z
  .string()
  .max(docMaxBytes)
  .refine((s) => {
    try {
      const v: unknown = JSON.parse(s);
      return typeof v === 'object' && v !== null && !Array.isArray(v);
    } catch {
      return false;
    }
  }, 'not a JSON object');

const rows = {
  users: z.strictObject({
    rowid,
    id,
    name: z.string().min(1).max(idMax),
    role: z.enum(['user', 'admin']),
    password_hash: z.string().min(1).max(1024),
    quota_vcpus: count,
    quota_memory_mib: count,
    quota_disk_mib: count,
    quota_running_tasks: count,
    created_at: at,
    disabled_at: nullable(at),
  }),
  tasks: z.strictObject({ seq: rowid, id, name: text, state, created_at: at, updated_at: at, doc, owner: nullable(id) }),
  task_history: z.strictObject({ task_id: id, n: count, state, at, message: nullable(text) }),
  api_tokens: z.strictObject({
    rowid,
    id,
    user_id: id,
    name: text,
    secret_hash: z.string().min(1).max(1024),
    created_at: at,
    expires_at: nullable(at),
    last_used_at: nullable(at),
    revoked_at: nullable(at),
  }),
  sessions: z.strictObject({ rowid, id_hash: z.string().min(1).max(1024), user_id: id, created_at: at, expires_at: at }),
  idempotency_keys: z.strictObject({ user_id: id, key: z.string().min(1).max(1024), fingerprint: z.string().min(1).max(1024), task_id: id, created_at: at }),
  queue: z.strictObject({ seq: rowid, task_id: id, user_id: nullable(id), enqueued_at: at, not_before: nullable(at), reason: text, tag: nullable(z.int().min(-Number.MAX_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER)) }),
} satisfies Record<keyof typeof replicatedColumns, z.ZodType>;

/** The body of a 200 from GET /internal/registry (the contract's RegistrySnapshot), strictly. */
export const snapshotSchema = z.strictObject({
  rev: count,
  epoch: count.optional(),
  tables: z.strictObject({
    users: z.array(rows.users),
    tasks: z.array(rows.tasks),
    task_history: z.array(rows.task_history),
    api_tokens: z.array(rows.api_tokens),
    sessions: z.array(rows.sessions),
    idempotency_keys: z.array(rows.idempotency_keys),
    queue: z.array(rows.queue),
  }),
});

export type ParsedSnapshot = { rev: number; epoch?: number; tables: ReplicaTables };

/** Parses a snapshot's text; throws a readable error (never a partial result) when anything is off. */
export function parseSnapshot(body: string): ParsedSnapshot {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (err) {
    throw new Error(`the snapshot is not JSON: ${(err as Error).message.slice(0, 200)}`);
  }
  const r = snapshotSchema.safeParse(json);
  if (!r.success) {
    const first = r.error.issues.slice(0, 3).map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new Error(`the snapshot does not match the registry: ${first.join('; ')}`);
  }
  return r.data as ParsedSnapshot;
}
