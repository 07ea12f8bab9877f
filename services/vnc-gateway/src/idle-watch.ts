/** Timers as a dependency, so tests can move time by hand. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Node's timers, unref'd: a waiting console timer never keeps a stopping gateway alive. */
export const realTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** A console left without input this long is closed (CPS_CONSOLE_IDLE_SEC). */
export const defaultIdleSec = 15 * 60;

/**
 * Calls `onIdle` once when `touch` has not been called for `idleMs`. One timer at a time, re-armed
 * for the time left when it fires: input can arrive at any rate without a timer per byte.
 */
export class IdleWatch {
  private last: number;
  private handle: unknown;
  private done = false;

  constructor(private readonly o: { idleMs: number; now: () => Date; timers: Timers; onIdle: () => void }) {
    this.last = o.now().getTime();
    this.arm(o.idleMs);
  }

  touch(): void {
    this.last = this.o.now().getTime();
  }

  stop(): void {
    this.done = true;
    if (this.handle !== undefined) this.o.timers.clearTimeout(this.handle);
    this.handle = undefined;
  }

  private arm(ms: number): void {
    this.handle = this.o.timers.setTimeout(() => this.check(), Math.max(1, ms));
  }

  private check(): void {
    this.handle = undefined;
    if (this.done) return;
    const quiet = this.o.now().getTime() - this.last;
    if (quiet < this.o.idleMs) return this.arm(this.o.idleMs - quiet);
    this.done = true;
    this.o.onIdle();
  }
}
