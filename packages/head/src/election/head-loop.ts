import type { Logger } from '@cps/common';
import type { HeadElector, HeadStatus } from './elector.ts';
import type { PeerView, SelfView } from './head-choice.ts';

/** The timers the loop needs (the shape discovery's and the dispatcher's Timers also have). */
export interface LoopTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface HeadLoopDeps {
  elector: HeadElector;
  /** Discovery's view now; a throw (discovery unreachable) skips the step. */
  view: () => Promise<{ self: SelfView; peers: readonly PeerView[] }>;
  timers: LoopTimers;
  /** Gap between the end of one step and the start of the next: the lease timing's `renewMs`. */
  everyMs: number;
  onStatus?: (s: HeadStatus) => void;
  log?: Logger;
}

/**
 * Steps an elector every `everyMs`, one step at a time, on injected timers. The next step is
 * scheduled when the last one ends, so a slow DNS server never has two steps in flight.
 */
export class HeadLoop {
  private timer: unknown;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly d: HeadLoopDeps) {}

  start(): void {
    this.tick();
  }

  private tick(): void {
    if (this.stopped) return;
    this.running = this.once().finally(() => {
      this.running = undefined;
      if (!this.stopped) this.timer = this.d.timers.setTimeout(() => this.tick(), this.d.everyMs);
    });
  }

  private async once(): Promise<void> {
    let view;
    try {
      view = await this.d.view();
    } catch (e) {
      this.d.log?.warn({ event: 'head.no-view', err: (e as Error).message }, 'head: no view of the peers; step skipped');
      return;
    }
    try {
      this.d.onStatus?.(await this.d.elector.step(view));
    } catch (e) {
      // The elector reports DNS trouble as values; a throw is a bug or bad config: say it, go on.
      this.d.log?.error({ event: 'head.step-failed', err: (e as Error).message }, 'head: step failed');
    }
  }

  /** Stops stepping (after the step under way); with `resign`, hands the lease back if held. */
  async stop(o: { resign?: boolean } = {}): Promise<void> {
    this.stopped = true;
    this.d.timers.clearTimeout(this.timer);
    await this.running;
    if (o.resign) await this.d.elector.resign();
  }
}
