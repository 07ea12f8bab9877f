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

  mark(taskId: string, what: Intended): void {
    this.marks.set(taskId, what);
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
  }
}
