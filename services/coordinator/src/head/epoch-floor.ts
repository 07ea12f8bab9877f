import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * The largest head epoch this node has held or seen in a HELLO, kept in a file of the data dir
 * (`headEpochFile`), so a term it claims after a restart is above every earlier one even when
 * nothing else remembers them (DNS-less mode, a lost lease record). Raised, never lowered; written
 * to a temporary file, flushed and renamed, so a crash leaves the old value or the new, not half.
 * A file that is there but unreadable stops the coordinator rather than start again from 0.
 */
export class EpochFloor {
  private value: number;

  constructor(private readonly path: string) {
    this.value = readFloor(path);
  }

  get(): number {
    return this.value;
  }

  /** Keeps `epoch` if it is larger than the floor; returns whether the floor rose. */
  raise(epoch: number): boolean {
    if (!Number.isSafeInteger(epoch) || epoch <= this.value) return false;
    mkdirSync(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, `${epoch}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path);
    this.value = epoch;
    return true;
  }
}

function readFloor(path: string): number {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw new Error(`${path}: cannot read the head epoch floor: ${(e as Error).message}`);
  }
  const m = /^(\d{1,16})\n?$/.exec(text);
  const n = m ? Number(m[1]) : NaN;
  if (!Number.isSafeInteger(n)) throw new Error(`${path}: not a head epoch (${JSON.stringify(text.slice(0, 40))}); remove it only if no head of this LAN used a higher epoch`);
  return n;
}
