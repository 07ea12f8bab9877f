import Database from 'better-sqlite3';
import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { SqliteAccountStore } from './account-store.ts';
import { SqliteIdempotencyKeys } from './idempotency.ts';
import { assertNotNewer, migrate } from './migrations.ts';
import { SqliteQueue } from './queue.ts';
import { SqliteReplicaStore } from './replica-store.ts';
import { SqliteTaskStore } from './task-store.ts';

/** The one place the registry's file is named: `$CPS_DATA_DIR/coordinator.db`. */
export const registryPath = (dataDir: string): string => join(dataDir, 'coordinator.db');

export interface RegistryOptions {
  now: () => Date;
  /** How long a write waits for another connection's lock before it fails (ms). */
  busyTimeoutMs?: number;
}

export interface Registry {
  accounts: SqliteAccountStore;
  tasks: SqliteTaskStore;
  idempotency: SqliteIdempotencyKeys;
  queue: SqliteQueue;
  /** The registry as a whole, for replication to the followers (replica/). */
  replica: SqliteReplicaStore;
  /** Runs `fn` as one transaction (e.g. a task, its idempotency key and its queue entry together). */
  transaction<T>(fn: () => T): T;
  close(): void;
}

/**
 * Opens (creating and migrating) the coordinator's registry. The only module that opens the file.
 * Throws RegistryTooNewError, with nothing changed, for a file a newer CPS wrote.
 */
export function openRegistry(path: string, opts: RegistryOptions): Registry {
  // The data dir keeps its default mode: libvirt's qemu user must still reach disks/ in it.
  mkdirSync(dirname(path), { recursive: true });
  // Password and token hashes live here: owner-only, made so before SQLite first writes to it.
  // SQLite gives the -wal and -shm files the database file's mode.
  closeSync(openSync(path, 'a', 0o600));
  chmodSync(path, 0o600);
  const db = new Database(path, { timeout: opts.busyTimeoutMs ?? 5000 });
  try {
    assertNotNewer(db, path);
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    // A file system without shared memory (NFS, some FUSE) silently keeps the rollback journal.
    if (mode !== 'wal') throw new Error(`${path}: SQLite would not use WAL mode here (journal mode ${String(mode)}); put CPS_DATA_DIR on a local file system`);
    // FULL, not NORMAL: in WAL mode NORMAL already survives kill -9 (a commit is in the OS's
    // cache), but not a power cut on a workstation, which could forget acknowledged tasks whose
    // guests run on other peers. FULL syncs the WAL at every commit; the coordinator writes a few
    // rows per task transition, so the cost is small.
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    migrate(db, path);
  } catch (err) {
    db.close();
    throw err;
  }
  return {
    accounts: new SqliteAccountStore(db),
    tasks: new SqliteTaskStore(db),
    idempotency: new SqliteIdempotencyKeys(db, opts.now),
    queue: new SqliteQueue(db, opts.now),
    replica: new SqliteReplicaStore(db),
    transaction: <T>(fn: () => T): T => db.transaction(fn)(),
    close: () => db.close(),
  };
}
