/**
 * What this provisioner itself asked of a guest, so the watchdog can tell it from an accident.
 * `starting`: libvirt is starting it, and a QEMU being started is paused until it is set up.
 */
export type Intended = 'starting' | 'running' | 'paused' | 'gone';

/**
 * The lifecycle marks what it is about to do before doing it; the watchdog reads the mark when
 * it sees a change. A mark holds until the next one: "gone" after DELETE stays true, so a domain
 * that is gone because it was destroyed is never reported as vanished.
 */
export class Expectations {
  private readonly marks = new Map<string, Intended>();
  /** When each mark was made, as a count of marks: no clock needed to say "before that look". */
  private readonly order = new Map<string, number>();
  private count = 0;

  mark(taskId: string, what: Intended): void {
    this.marks.set(taskId, what);
    this.order.set(taskId, ++this.count);
  }

  /** The count of marks made so far: a later `markedBefore(it, …)` names only marks made before now. */
  get sequence(): number {
    return this.count;
  }

  /** The guests marked `what` by a mark made before `sequence` was read. */
  markedBefore(sequence: number, what: readonly Intended[]): string[] {
    return [...this.marks].filter(([taskId, m]) => what.includes(m) && (this.order.get(taskId) ?? Infinity) <= sequence).map(([taskId]) => taskId);
  }

  get(taskId: string): Intended | undefined {
    return this.marks.get(taskId);
  }

  /** Marks the guest `starting` while `start` runs (a create or a restore): `running` once it did, the mark before if it failed. */
  async whileStarting<T>(taskId: string, start: () => Promise<T>): Promise<T> {
    const before = this.marks.get(taskId);
    this.mark(taskId, 'starting');
    try {
      const done = await start();
      this.mark(taskId, 'running');
      return done;
    } catch (err) {
      if (before) this.mark(taskId, before);
      else this.forget(taskId);
      throw err;
    }
  }

  forget(taskId: string): void {
    this.marks.delete(taskId);
    this.order.delete(taskId);
  }
}
