import { closeCodes, type ConsoleSession } from './session.ts';

/** The console sessions alive in this gateway, so shutdown can end them and health can count them. */
export class SessionRegistry {
  private readonly live = new Set<ConsoleSession>();

  add(session: ConsoleSession): void {
    this.live.add(session);
    session.whenClosed(() => this.live.delete(session));
  }

  get size(): number {
    return this.live.size;
  }

  /** Ends every session and resolves once each has closed. */
  closeAll(reason: string): Promise<void> {
    const all = [...this.live].map((s) => new Promise<void>((res) => s.whenClosed(res)));
    for (const s of this.live) s.close(closeCodes.goingAway, reason);
    return Promise.all(all).then(() => undefined);
  }
}
