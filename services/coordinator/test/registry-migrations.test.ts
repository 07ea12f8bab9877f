import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openRegistry, registryPath } from '../src/registry/db.ts';
import { migrate, migrations, RegistryTooNewError, schemaVersion } from '../src/registry/migrations.ts';
import { fullTask, newTask, tempDir, user } from './fixtures/registry-sample.ts';

const now = () => new Date('2026-12-02T10:00:00.000Z');
const latest = migrations.at(-1)!.version;

/** A file as a coordinator of schema `version` left it, with the rows that version could hold. */
function fileAtVersion(path: string, version: number): void {
  const db = new Database(path);
  db.pragma('foreign_keys = ON');
  migrate(db, path, migrations.slice(0, version));
  expect(schemaVersion(db)).toBe(version);
  if (version >= 1) {
    db.prepare("INSERT INTO tasks (id, name, state, created_at, updated_at, doc) VALUES ('t-old', 'old', 'running', '2026-12-01T09:00:00.000Z', '2026-12-01T09:01:00.000Z', ?)").run(
      JSON.stringify({ request: { vcpus: 2, memoryMiB: 512, diskMiB: 2048, image: 'tiny' }, node: { nodeId: 'n1', address: '10.0.0.1' } }),
    );
    db.prepare("INSERT INTO task_history (task_id, n, state, at, message) VALUES ('t-old', 0, 'pending', '2026-12-01T09:00:00.000Z', 'submitted')").run();
  }
  if (version >= 2) {
    db.prepare("INSERT INTO users (id, name, role, password_hash, quota_vcpus, quota_memory_mib, quota_disk_mib, quota_running_tasks, created_at) VALUES ('u-0000000000000001', 'ada', 'admin', 'h', 8, 8192, 65536, 4, '2026-12-01T08:00:00.000Z')").run();
    db.prepare("UPDATE tasks SET owner = 'u-0000000000000001' WHERE id = 't-old'").run();
  }
  db.close();
}

describe('registry migrations', () => {
  let tmp: ReturnType<typeof tempDir>;
  let path: string;
  beforeEach(() => {
    tmp = tempDir();
    path = registryPath(tmp.dir);
  });
  afterEach(() => tmp.remove());

  it('are numbered 1, 2, 3, ... in order', () => {
    expect(migrations.map((m) => m.version)).toEqual(migrations.map((_, i) => i + 1));
  });

  it('build a fresh file to the latest version, and a second open applies nothing', () => {
    const reg = openRegistry(path, { now });
    reg.tasks.put(fullTask(1));
    reg.close();
    const db = new Database(path);
    expect(schemaVersion(db)).toBe(latest);
    expect(migrate(db, path)).toEqual([]);
    db.close();
    const again = openRegistry(path, { now });
    expect(again.tasks.get(fullTask(1).id)).toEqual(fullTask(1));
    again.close();
  });

  for (let v = 0; v < latest; v++) {
    it(`bring a file at version ${v} to ${latest}, keeping what it held`, () => {
      fileAtVersion(path, v);
      const db = new Database(path);
      db.pragma('foreign_keys = ON');
      expect(migrate(db, path)).toEqual(migrations.slice(v).map((m) => m.version));
      db.close();

      const reg = openRegistry(path, { now });
      if (v >= 1) {
        const old = reg.tasks.get('t-old')!;
        expect(old).toEqual({
          id: 't-old',
          name: 'old',
          state: 'running',
          request: { vcpus: 2, memoryMiB: 512, diskMiB: 2048, image: 'tiny' },
          node: { nodeId: 'n1', address: '10.0.0.1' },
          createdAt: '2026-12-01T09:00:00.000Z',
          updatedAt: '2026-12-01T09:01:00.000Z',
          history: [{ state: 'pending', at: '2026-12-01T09:00:00.000Z', message: 'submitted' }],
        });
        expect(reg.tasks.ownerOf('t-old')).toBe(v >= 2 ? 'u-0000000000000001' : null);
      }
      // Every store works on the migrated file.
      reg.accounts.users.put(user('u-00000000000000aa', 'bob'));
      reg.tasks.put(newTask('t-new', '2026-12-02T10:00:00.000Z'), 'u-00000000000000aa');
      reg.queue.enqueue({ taskId: 't-new', userId: 'u-00000000000000aa', reason: 'no peer has room' });
      reg.idempotency.record('u-00000000000000aa', 'k1', 'fp', 't-new');
      expect(reg.tasks.list().map((t) => t.id)).toEqual(v >= 1 ? ['t-new', 't-old'] : ['t-new']);
      expect(reg.accounts.users.count()).toBe(v >= 2 ? 2 : 1);
      expect(reg.queue.list().map((e) => e.taskId)).toEqual(['t-new']);
      expect(reg.idempotency.lookup('u-00000000000000aa', 'k1')?.taskId).toBe('t-new');
      reg.close();
    });
  }

  it('refuse a file a newer coordinator wrote, and change nothing in it', () => {
    openRegistry(path, { now }).close();
    const db = new Database(path);
    db.pragma(`user_version = ${latest + 1}`);
    db.pragma('journal_mode = DELETE');
    db.close();
    expect(() => openRegistry(path, { now })).toThrow(RegistryTooNewError);
    expect(() => openRegistry(path, { now })).toThrow(`has registry schema version ${latest + 1}, but this coordinator knows versions up to ${latest}`);
    const after = new Database(path);
    expect(schemaVersion(after)).toBe(latest + 1);
    expect(after.pragma('journal_mode', { simple: true })).toBe('delete');
    after.close();
  });

  it('roll a failing step back whole: the file stays at the version before it', () => {
    const db = new Database(path);
    const broken = [
      ...migrations.slice(0, 1),
      { version: 2, name: 'half a step', sql: 'CREATE TABLE half (x INTEGER); INSERT INTO no_such_table VALUES (1);' },
    ];
    expect(() => migrate(db, path, broken)).toThrow(/registry migration 2 \(half a step\) failed on .*coordinator\.db: no such table: no_such_table/);
    expect(schemaVersion(db)).toBe(1);
    expect(db.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'half'").pluck().get()).toBe(0);
    db.close();
  });

  it('refuse a list that skips a number', () => {
    const db = new Database(join(tmp.dir, 'x.db'));
    expect(() => migrate(db, 'x.db', [migrations[0]!, { ...migrations[2]! }])).toThrow('registry migration 2 is numbered 3');
    expect(schemaVersion(db)).toBe(0);
    db.close();
  });
});
