import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openRegistry } from '../src/registry/db.ts';
import { parseSnapshot } from '../src/replica/snapshot-schema.ts';
import { fillRegistry } from './fixtures/replica-sample.ts';
import { tempDir } from './fixtures/registry-sample.ts';

const applier = fileURLToPath(new URL('./fixtures/replica-applier.ts', import.meta.url));
const now = () => new Date('2026-12-02T12:00:00.000Z');

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.remove());

/** Runs the applier until it has acknowledged `acks` applies, then kill -9's it; returns the last ack. */
function applyUntilKilled(path: string, acks: number): Promise<{ lastRev: number; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', applier, path, tmp.dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let lastRev = 0;
    let seen = 0;
    let buffered = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      buffered += d.toString();
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (!line.startsWith('ack ')) continue;
        lastRev = Number(line.split(' ')[1]);
        if (++seen === acks) child.kill('SIGKILL');
      }
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`applier ended with ${code}/${signal} before it was killed: ${stderr}`));
      else resolve({ lastRev, signal });
    });
  });
}

describe('replica durability', () => {
  it('kill -9 during an apply leaves the old snapshot or the new one whole, never a mix', async () => {
    const path = `${tmp.dir}/follower.db`;
    const { lastRev, signal } = await applyUntilKilled(path, 25);
    expect(signal).toBe('SIGKILL');
    expect(lastRev).toBeGreaterThanOrEqual(25);
    // The kill came while it was writing: the WAL it left has not been checkpointed away.
    expect(statSync(`${path}-wal`).size).toBeGreaterThan(0);

    const raw = new Database(path);
    expect(raw.pragma('integrity_check', { simple: true })).toBe('ok');
    expect(raw.pragma('foreign_key_check')).toEqual([]);
    raw.close();

    // The two snapshots the applier alternated between (the same rows: fillRegistry is deterministic).
    const tables = ([0, 1] as const).map((v) => {
      const head = openRegistry(`${tmp.dir}/check-${v}.db`, { now });
      fillRegistry(head, v, 300);
      const t = parseSnapshot(JSON.stringify(head.replica.snapshot())).tables;
      head.close();
      return t;
    });
    const reg = openRegistry(path, { now });
    const { rev, applied } = reg.replica.revision();
    // The acknowledged apply, or the one under way at the kill, committed whole.
    expect(applied!.rev === lastRev || applied!.rev === lastRev + 1).toBe(true);
    expect(rev).toBe(applied!.rev);
    expect(reg.replica.snapshot().tables).toEqual(tables[applied!.rev % 2]);
    reg.close();
  });
});
