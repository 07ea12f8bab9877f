import type { Logger } from '@cps/common';
import type { HeadView } from './head-view.ts';

/** What only the head runs, started for one term: `stop` ends it for good (a new term starts anew). */
export interface Duty {
  stop(): void;
}

export interface HeadDutiesDeps {
  head: HeadView;
  /**
   * Starts the head's work (main.ts: recover the registry and a reconcile pass, then placement's
   * queue, host events and the peer watch) and returns how to stop it.
   */
  start: () => Duty;
  log: Logger;
}

/**
 * Only the head acts: the registry a follower holds (replicated from the head) must not be placed,
 * dispatched or reconciled twice. Started when this node becomes the head, stopped when it no
 * longer is, checked after every change of the role.
 */
export class HeadDuties {
  private running: Duty | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly d: HeadDutiesDeps) {}

  start(): void {
    this.unsubscribe = this.d.head.onChange(() => this.check());
    this.check();
  }

  get active(): boolean {
    return this.running !== undefined;
  }

  close(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.end();
  }

  private check(): void {
    const head = this.d.head.isHead();
    if (head && !this.running) {
      this.d.log.info({ event: 'head.duties', running: true, epoch: this.d.head.commandEpoch()?.epoch }, 'head: placement, queue, host events and reconcile run');
      this.running = this.d.start();
    } else if (!head && this.running) this.end();
  }

  private end(): void {
    if (!this.running) return;
    const r = this.running;
    this.running = undefined;
    this.d.log.info({ event: 'head.duties', running: false }, 'head: placement, queue, host events and reconcile are idle');
    r.stop();
  }
}
