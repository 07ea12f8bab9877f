import { randomBytes } from 'node:crypto';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Writes `files` so each is whole or absent: each goes to a temporary name first, then all are renamed. */
export function writeFilesAtomically(files: { path: string; data: string; mode: number }[]): void {
  const staged: { tmp: string; path: string }[] = [];
  try {
    for (const f of files) {
      mkdirSync(dirname(f.path), { recursive: true, mode: 0o700 });
      const tmp = join(dirname(f.path), `.${randomBytes(6).toString('hex')}.tmp`);
      writeFileSync(tmp, f.data, { mode: f.mode, flag: 'wx' });
      staged.push({ tmp, path: f.path });
    }
  } catch (err) {
    for (const s of staged) rmSync(s.tmp, { force: true });
    throw err;
  }
  for (const s of staged) renameSync(s.tmp, s.path);
}
