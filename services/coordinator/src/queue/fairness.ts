/**
 * Fairness between users for tasks that wait: start-time fair queueing with one unit per task.
 *
 * Each waiting task gets a tag when it first joins the queue: one more than the larger of its
 * owner's last tag and the queue's virtual time (the tag of the last task that was started). The
 * queue offers tasks in tag order, arrival order breaking ties. So owners take turns: a user's
 * tenth task gets tag 10 while another user's first, submitted later, gets at most one more than
 * the virtual time, and starts first. An owner who was idle starts from the virtual time, not from
 * their old tag: no credit is banked for time spent away. A task keeps its tag while it waits and
 * when a try fails, so waiting never costs a task its turn.
 */

export interface FairClock {
  /** The tag of the task started last (0 before any). */
  readonly virtual: number;
  /** Each owner's last tag given. */
  readonly last: ReadonlyMap<string, number>;
}

export const newFairClock = (): FairClock => ({ virtual: 0, last: new Map() });

/** The tag for a new task of `owner`, and the clock after giving it. */
export function tagFor(clock: FairClock, owner: string): { tag: number; clock: FairClock } {
  const tag = Math.max(clock.last.get(owner) ?? 0, clock.virtual) + 1;
  const last = new Map(clock.last);
  last.set(owner, tag);
  return { tag, clock: { virtual: clock.virtual, last } };
}

/** The clock after a task with `tag` was started. */
export function startedAt(clock: FairClock, tag: number): FairClock {
  return { virtual: Math.max(clock.virtual, tag), last: clock.last };
}

export interface Tagged {
  tag: number;
  /** Arrival order: breaks ties between equal tags. */
  seq: number;
}

/** The order in which waiting tasks are offered a peer: by tag, then by arrival. */
export function fairOrder<T extends Tagged>(waiting: readonly T[]): T[] {
  return [...waiting].sort((a, b) => a.tag - b.tag || a.seq - b.seq);
}
