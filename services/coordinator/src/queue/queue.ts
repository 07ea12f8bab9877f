import type { DiscoverySchemas } from '@cps/openapi';
import { fairOrder, newFairClock, startedAt, tagFor, type FairClock } from './fairness.ts';

type Resources = DiscoverySchemas['Resources'];

/** A task that waits for a peer: what it needs, whose it is, and its turn. */
export interface Waiting {
  id: string;
  owner: string;
  need: Resources;
  /** Not placed before this (ms since the epoch). */
  notBefore?: number;
  since: Date;
  reason: string;
  tag: number;
  seq: number;
}

export interface QueueInfo {
  position: number;
  reason: string;
  since: string;
}

/** The tasks that wait, in fair order between owners (fairness.ts). Holds no timers. */
export class TaskQueue {
  private clock: FairClock = newFairClock();
  private seq = 0;
  private readonly entries = new Map<string, Waiting>();

  /** A new task joins; it gets its tag now, once. */
  add(w: Omit<Waiting, 'tag' | 'seq'>): Waiting {
    const { tag, clock } = tagFor(this.clock, w.owner);
    this.clock = clock;
    const entry: Waiting = { ...w, tag, seq: ++this.seq };
    this.entries.set(entry.id, entry);
    return entry;
  }

  /** A task whose try found no room waits on, with its tag and place (it is back if it was taken out). */
  requeue(w: Waiting, reason: string): void {
    this.entries.set(w.id, { ...w, reason });
  }

  remove(id: string): Waiting | undefined {
    const w = this.entries.get(id);
    this.entries.delete(id);
    return w;
  }

  /** The task got a host: the queue's virtual time moves on to its tag. */
  started(w: Waiting): void {
    this.clock = startedAt(this.clock, w.tag);
  }

  has(id: string): boolean {
    return this.entries.has(id);
  }

  setReason(id: string, reason: string): void {
    const w = this.entries.get(id);
    if (w) w.reason = reason;
  }

  get size(): number {
    return this.entries.size;
  }

  ordered(): Waiting[] {
    return fairOrder([...this.entries.values()]);
  }

  /** Where the task stands (1 = next), or undefined when it does not wait. */
  info(id: string): QueueInfo | undefined {
    return this.entries.has(id) ? this.positions().get(id) : undefined;
  }

  /** Every waiting task's place, by task id. */
  positions(): Map<string, QueueInfo> {
    return new Map(this.ordered().map((w, i) => [w.id, { position: i + 1, reason: w.reason, since: w.since.toISOString() }]));
  }
}
