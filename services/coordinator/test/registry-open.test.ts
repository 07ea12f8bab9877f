import Database from 'better-sqlite3';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openRegistry, registryPath } from '../src/registry/db.ts';
import { newTask, tempDir } from './fixtures/registry-sample.ts';

const now = () => new Date('2026-12-02T10:00:00.000Z');
let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.remove());

describe('openRegistry', () => {
  it('is $CPS_DATA_DIR/coordinator.db', () => {
    expect(registryPath('/var/lib/cps')).toBe('/var/lib/cps/coordinator.db');
  });

  it('makes the data dir and an owner-only file in WAL mode', () => {
    const path = registryPath(join(tmp.dir, 'data'));
    const reg = openRegistry(path, { now });
    reg.tasks.put(newTask('t-1', '2026-12-02T10:00:00.000Z'));
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(`${path}-wal`).mode & 0o777).toBe(0o600);
    const raw = new Database(path);
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    raw.close();
    reg.close();
  });

  it('waits for another connection’s lock for the busy timeout, then fails', () => {
    const path = registryPath(tmp.dir);
    const reg = openRegistry(path, { now, busyTimeoutMs: 300 });
    const other = new Database(path);
    other.exec('BEGIN IMMEDIATE');
    const start = performance.now();
    expect(() => reg.tasks.put(newTask('t-1', '2026-12-02T10:00:00.000Z'))).toThrow(/database is locked/);
    expect(performance.now() - start).toBeGreaterThanOrEqual(250);
    other.exec('ROLLBACK');
    reg.tasks.put(newTask('t-1', '2026-12-02T10:00:00.000Z'));
    expect(reg.tasks.list()).toHaveLength(1);
    other.close();
    reg.close();
  });
});
