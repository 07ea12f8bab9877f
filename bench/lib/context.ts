// What a case gets from the runner: the mode, a clock, a log line, a scratch folder, and ports of its own.
import type { Machine } from './result.ts';

export interface BenchContext {
  quick: boolean;
  /** Rounds per case in full mode (quick: 1). */
  rounds: number;
  /** Milliseconds, monotonic; the only clock the cases read. */
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  log: (line: string) => void;
  /** A scratch folder for this run (removed at the end). */
  tmp: string;
  /** Where the machine's tiny image and accel.json are (CPS_DATA_DIR or /var/lib/cps). */
  sourceDataDir: string;
  machine: Machine;
  /** A block of ten free-looking ports only this case uses (each case gets its own). */
  portsBase: () => number;
}

/** Waits until `cond` holds, looking every `everyMs`; throws naming `what` after `timeoutMs`. */
export async function until(ctx: Pick<BenchContext, 'now' | 'sleep'>, what: string, cond: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 20): Promise<number> {
  const start = ctx.now();
  while (!(await cond())) {
    if (ctx.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await ctx.sleep(everyMs);
  }
  return ctx.now() - start;
}
