import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openRegistry, registryPath } from '../src/registry/db.ts';
import type { Task } from '../src/tasks/store.ts';
import { tempDir } from './fixtures/registry-sample.ts';

const writer = fileURLToPath(new URL('./fixtures/registry-writer.ts', import.meta.url));
const now = () => new Date('2026-12-02T10:00:00.000Z');

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.remove());

/** Runs the writer until it has acknowledged `acks` writes, then kill -9's it; returns what it acknowledged. */
function writeUntilKilled(path: string, acks: number): Promise<{ acked: Task[]; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', writer, path], { stdio: ['ignore', 'pipe', 'pipe'] });
    const acked: Task[] = [];
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
        acked.push(JSON.parse(line.slice(4)) as Task);
        if (acked.length === acks) child.kill('SIGKILL');
      }
    });
    child.on('error', reject);
    // 'close' comes after stdout is drained: every line the writer got out is in `acked`.
    child.on('close', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`writer ended with ${code}/${signal} before it was killed: ${stderr}`));
      else resolve({ acked, signal });
    });
  });
}

describe('registry durability', () => {
  it('kill -9 mid-stream loses no acknowledged write, and the file is whole', async () => {
    const path = registryPath(tmp.dir);
    const { acked, signal } = await writeUntilKilled(path, 400);
    expect(signal).toBe('SIGKILL');
    expect(acked.length).toBeGreaterThanOrEqual(400);
    // The kill came while it was writing: the WAL it left has not been checkpointed away.
    expect(statSync(`${path}-wal`).size).toBeGreaterThan(0);

    const last = new Map<string, Task>();
    for (const t of acked) last.set(t.id, t);

    const raw = new Database(path);
    expect(raw.pragma('integrity_check', { simple: true })).toBe('ok');
    expect(raw.pragma('foreign_key_check')).toEqual([]);
    raw.close();

    const reg = openRegistry(path, { now });
    let ahead = 0;
    for (const [id, want] of last) {
      const got = reg.tasks.get(id);
      expect(got, id).toBeDefined();
      if (got!.history.length === want.history.length) {
        expect(got).toEqual(want);
      } else {
        // Only the one write under way at the kill may have committed without its ack: the next
        // version of this task, whole (one more history entry), never a half of it.
        ahead++;
        expect(got!.history.slice(0, want.history.length)).toEqual(want.history);
        expect(got!.history).toHaveLength(want.history.length + 1);
        expect(got!.state).toBe(got!.history.at(-1)!.state);
      }
    }
    expect(ahead).toBeLessThanOrEqual(1);
    // Nothing but those, and at most the one unacknowledged create.
    expect(reg.tasks.list().length - last.size).toBeLessThanOrEqual(1);
    reg.close();
  });
});
