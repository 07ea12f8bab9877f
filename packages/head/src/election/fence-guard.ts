import { mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ProblemError, type Logger } from '@cps/common';

const refusal = 'stale-epoch' as const;

/** A mark's name: `epoch-<n>.json`, n without leading zeros; anything else in the folder is refused. */
const markName = /^epoch-([1-9][0-9]{0,15})\.json$/;
/** Our own temporary files (`.tmp-<pid>-<random>`): a crash may leave one; it is ignored. */
const tmpName = /^\.tmp-/;

/**
 * A host's guard against old heads: it keeps the highest epoch any command carried, on disk, so a
 * restart does not forget it, and refuses a command with a smaller one. Every command a head
 * sends carries its epoch (the fencing token); a head that was paused past its lease wakes up
 * with an epoch some newer head has already shown the host, and is refused whatever it believes.
 * An epoch equal to the highest is the current head's and passes.
 *
 * The provisioner and storage of one node are two processes (two containers) sharing one fence,
 * so the fence is a folder of marks, one file per epoch seen (`epoch-7.json`, holding the head):
 * the highest epoch is the largest mark. A mark is only ever added, never rewritten or removed,
 * so two processes raising at once cannot undo each other (with one file, the slower rename of a
 * smaller epoch would overwrite a larger one), and no lock is needed that a crashed or paused
 * process could leave held. One small file per head term. Every decision reads the folder again,
 * so an epoch the other process let through counts here at once.
 */
export class FenceGuard {
  private chain: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly dir: string,
    private highestEpoch: number,
    private holder: string | undefined,
    private readonly log?: Logger,
  ) {}

  /**
   * Opens the fence folder `dir`, making it when it is not there (its parent must be: a missing
   * data dir is an error, not a fresh start). A folder holding anything but marks, or a mark that
   * is unreadable, is an error, not a 0: forgetting the epoch would let an old head back in.
   */
  static async open(dir: string, log?: Logger): Promise<FenceGuard> {
    await mkdir(dir, { mode: 0o700 }).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });
    const { epoch, holder } = await readMarks(dir);
    return new FenceGuard(dir, epoch, holder, log);
  }

  /** The highest epoch this process has seen (the other process's raises count from its next read). */
  get highest(): number {
    return this.highestEpoch;
  }

  /** The fence as it is on disk now, for GET /fence: both processes' raises. */
  current(): Promise<{ highestEpoch: number; head?: string }> {
    const run = this.chain.then(async () => {
      await this.reread();
      return { highestEpoch: this.highestEpoch, ...(this.holder !== undefined ? { head: this.holder } : {}) };
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  /**
   * Lets a command of `epoch` (from `holder`, for the message) through, or throws a ProblemError
   * naming both epochs. A larger epoch is on disk before this resolves, so no command of the new
   * term runs before the old term is fenced for good. Calls run one at a time, in call order.
   */
  admit(epoch: number, holder?: string): Promise<void> {
    const run = this.chain.then(() => this.admitNow(epoch, holder));
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async admitNow(epoch: number, holder: string | undefined): Promise<void> {
    if (!Number.isSafeInteger(epoch) || epoch < 1) throw new ProblemError('bad-request', `epoch ${String(epoch)} is not a positive integer`);
    // Read again even when the epoch is this process's highest: the other process may have let a
    // newer one through since. A folder that cannot be read lets nothing through.
    await this.reread();
    this.refuseOlder(epoch, holder);
    if (epoch === this.highestEpoch) return;
    const from = this.highestEpoch;
    await this.mark(epoch, holder);
    // A newer mark the other process made meanwhile wins: this command is then already old.
    await this.reread();
    this.refuseOlder(epoch, holder);
    this.log?.info({ event: 'fence.raised', from, to: epoch, holder }, 'fence: a newer epoch');
  }

  private refuseOlder(epoch: number, holder: string | undefined): void {
    if (epoch >= this.highestEpoch) return;
    this.log?.warn({ event: 'fence.refused', epoch, highestEpoch: this.highestEpoch, holder }, 'fence: command of an older epoch refused');
    throw new ProblemError(refusal, `epoch ${epoch}${holder ? ` (from ${holder})` : ''} is older than epoch ${this.highestEpoch}, the highest this host has seen`, { epoch, highestEpoch: this.highestEpoch });
  }

  private async reread(): Promise<void> {
    const { epoch, holder } = await readMarks(this.dir);
    // Marks are never removed, so what is read is never below what was seen (a folder swapped
    // for an older copy behind our back still does not lower this process's fence).
    if (epoch >= this.highestEpoch) {
      this.highestEpoch = epoch;
      this.holder = holder;
    }
  }

  /**
   * Write to a temporary file, flush it, rename it to its mark, flush the folder: all or nothing,
   * and on disk before the command it fences runs. Not @cps/trust's writeFilesAtomically: that one
   * renames without flushing and makes missing folders, and a fence must neither be lost in a
   * power cut nor quietly start over in a folder that vanished.
   */
  private async mark(epoch: number, holder: string | undefined): Promise<void> {
    // Unique across processes and across guards in one process (tests, the simulator).
    const tmp = join(this.dir, `.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
    const f = await open(tmp, 'wx', 0o600);
    try {
      await f.writeFile(`${JSON.stringify({ highestEpoch: epoch, holder })}\n`);
      await f.sync();
    } finally {
      await f.close();
    }
    try {
      await rename(tmp, join(this.dir, `epoch-${epoch}.json`));
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      throw e;
    }
    const d = await open(this.dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  }
}

async function readMarks(dir: string): Promise<{ epoch: number; holder?: string }> {
  let top = 0;
  for (const name of await readdir(dir)) {
    if (tmpName.test(name)) continue;
    const m = markName.exec(name);
    const n = m ? Number(m[1]) : Number.NaN;
    if (!Number.isSafeInteger(n)) throw new Error(`${join(dir, name)} is not an epoch mark`);
    if (n > top) top = n;
  }
  if (top === 0) return { epoch: 0 };
  const path = join(dir, `epoch-${top}.json`);
  const text = await readFile(path, 'utf8');
  let body: { highestEpoch?: unknown; holder?: unknown };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    throw new Error(`${path} holds no epoch: ${text.slice(0, 80)}`);
  }
  if (body.highestEpoch !== top) throw new Error(`${path} holds no epoch ${top}: ${text.slice(0, 80)}`);
  return { epoch: top, ...(typeof body.holder === 'string' ? { holder: body.holder } : {}) };
}
