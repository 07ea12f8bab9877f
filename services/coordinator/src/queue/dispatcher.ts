import type { TaskQueue, Waiting } from './queue.ts';
import { afterPlacing, waitReason, type PeerCapacity } from './reason.ts';

/** Injectable timers, so retries run on a test's clock. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: Timers = {
  setTimeout: (fn, ms) => {
    const h = setTimeout(fn, ms);
    h.unref(); // a retry never keeps the process alive
    return h;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/**
 * How one try went: placed on a node; waiting still (`place` has set the reason); or out of the
 * queue for good (stopped, failed).
 */
export type TryOutcome = { outcome: 'placed'; nodeId: string } | { outcome: 'wait' } | { outcome: 'gone' };

export interface DispatcherDeps {
  queue: TaskQueue;
  /** Every live peer's capacity (this node included); undefined when discovery cannot say. */
  peers: () => Promise<PeerCapacity[] | undefined>;
  /**
   * Tries to place a task of the queue; resolves once its publish is decided (not when
   * its guest runs). Must move the task out of pending/queued synchronously, before any await, so
   * that a stop in between finds it either waiting or placing, never neither.
   */
  place: (w: Waiting) => TryOutcome | Promise<TryOutcome>;
  /** The task waits, for this reason (the first time, it becomes `queued`). */
  waiting: (w: Waiting, reason: string) => void;
  now: () => Date;
  timers: Timers;
  /** How often a non-empty queue looks again without being kicked (peers' capacity changes unseen). */
  retryMs: number;
  /** Whether this coordinator may place now (it leads the LAN, head/); false: the queue waits, unkicked. Default: always. */
  active?: () => boolean;
}

/**
 * Offers waiting tasks a peer, one try at a time, in fair order. A round reads the peers' free
 * capacity once, skips tasks whose start time has not come and tasks no peer can fit (saying why),
 * and publishes the others in turn: a small task may start while a big one ahead of it cannot
 * (backfill), but never one that could start while an earlier one could too. A round runs when a
 * task is submitted, when capacity frees here (a stop, a failure), and every `retryMs` while tasks wait.
 */
export class Dispatcher {
  private busy = false;
  private again = false;
  private timer: unknown;
  private closed = false;

  constructor(private readonly d: DispatcherDeps) {}

  /** Look at the queue now (or right after the round under way). */
  kick(): void {
    if (this.closed || this.d.active?.() === false) return;
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    void this.loop();
  }

  close(): void {
    this.closed = true;
    if (this.timer !== undefined) this.d.timers.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async loop(): Promise<void> {
    try {
      do {
        this.again = false;
        await this.round();
      } while (this.again && !this.closed && this.d.active?.() !== false);
    } finally {
      this.busy = false;
      this.schedule();
    }
  }

  private async round(): Promise<void> {
    const { queue } = this.d;
    const order = queue.ordered();
    if (order.length === 0) return;
    const now = this.d.now().getTime();
    let view = order.some((w) => !w.notBefore || w.notBefore <= now) ? await this.peersOrUndefined() : undefined;
    for (const w of order) {
      if (this.closed || this.d.active?.() === false) return;
      if (!queue.has(w.id)) continue; // stopped meanwhile
      if (w.notBefore && w.notBefore > now) {
        this.wait(w, `reserved: not placed before ${new Date(w.notBefore).toISOString()}`);
        continue;
      }
      const why = view ? waitReason(w.need, view) : undefined;
      if (why) {
        this.wait(w, why);
        continue;
      }
      // It keeps its place in the queue while it is tried, so its position does not flicker.
      let r: TryOutcome;
      try {
        r = await this.d.place(w);
      } catch {
        r = { outcome: 'gone' }; // place() reports its own errors on the task
      }
      if (r.outcome === 'wait') continue;
      queue.remove(w.id);
      if (r.outcome === 'placed') {
        queue.started(w);
        if (view) view = afterPlacing(view, r.nodeId, w.need);
      }
    }
  }

  private wait(w: Waiting, reason: string): void {
    this.d.queue.setReason(w.id, reason);
    this.d.waiting(w, reason);
  }

  private async peersOrUndefined(): Promise<PeerCapacity[] | undefined> {
    try {
      return await this.d.peers();
    } catch {
      return undefined; // then every task is published: PEP is the judge anyway
    }
  }

  /** While tasks wait, look again after `retryMs`, or when the earliest start time comes if sooner. */
  private schedule(): void {
    if (this.closed || this.timer !== undefined || this.d.active?.() === false) return;
    const order = this.d.queue.ordered();
    if (order.length === 0) return;
    const now = this.d.now().getTime();
    const starts = order.map((w) => w.notBefore ?? 0).filter((t) => t > now);
    const delay = Math.max(0, Math.min(this.d.retryMs, ...starts.map((t) => t - now)));
    this.timer = this.d.timers.setTimeout(() => {
      this.timer = undefined;
      this.kick();
    }, delay);
  }
}
