import { open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ProblemError, type Logger } from '@cps/common';

/**
 * The problem type of a refused epoch. `conflict` until packages/common lists a type of its own
 * for it (docs/head.md says which); the extensions `epoch` and `highestEpoch` carry both numbers.
 */
const refusal = 'stale-epoch' as const;

/**
 * A host's guard against old heads: it keeps the highest epoch any command carried, on disk, so a
 * restart does not forget it, and refuses a command with a smaller one. Every command a head
 * sends carries its epoch (the fencing token); a head that was paused past its lease wakes up
 * with an epoch some newer head has already shown the host, and is refused whatever it believes.
 * An epoch equal to the highest is the current head's and passes.
 */
export class FenceGuard {
  private chain: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly path: string,
    private highestEpoch: number,
    private readonly log?: Logger,
  ) {}

  /**
   * Loads the highest epoch from `path` (0 when there is no file yet). A file that is there but
   * unreadable is an error, not a 0: forgetting the epoch would let an old head back in.
   */
  static async open(path: string, log?: Logger): Promise<FenceGuard> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new FenceGuard(path, 0, log);
      throw e;
    }
    const epoch = (JSON.parse(text) as { highestEpoch?: unknown }).highestEpoch;
    if (typeof epoch !== 'number' || !Number.isSafeInteger(epoch) || epoch < 0) throw new Error(`${path} holds no epoch: ${text.slice(0, 80)}`);
    return new FenceGuard(path, epoch, log);
  }

  get highest(): number {
    return this.highestEpoch;
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
    if (epoch < this.highestEpoch) {
      this.log?.warn({ event: 'fence.refused', epoch, highestEpoch: this.highestEpoch, holder }, 'fence: command of an older epoch refused');
      throw new ProblemError(refusal, `epoch ${epoch}${holder ? ` (from ${holder})` : ''} is older than epoch ${this.highestEpoch}, the highest this host has seen`, { epoch, highestEpoch: this.highestEpoch });
    }
    if (epoch === this.highestEpoch) return;
    await writeAtomically(this.path, `${JSON.stringify({ highestEpoch: epoch, holder })}\n`);
    this.log?.info({ event: 'fence.raised', from: this.highestEpoch, to: epoch, holder }, 'fence: a newer epoch');
    this.highestEpoch = epoch;
  }
}

/**
 * Write to a temporary file, flush it, rename over the old one, flush the folder: all or nothing,
 * and on disk before the command it fences runs. Not @cps/trust's writeFilesAtomically: that one
 * renames without flushing and makes missing folders, and a fence must neither be lost in a
 * power cut nor quietly start over in a folder that vanished.
 */
async function writeAtomically(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  const f = await open(tmp, 'w', 0o600);
  try {
    await f.writeFile(text);
    await f.sync();
  } finally {
    await f.close();
  }
  await rename(tmp, path);
  const d = await open(dirname(path), 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}
