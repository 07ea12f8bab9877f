import type { Logger } from 'pino';

export interface Claim {
  epoch: number;
}

/** How long a claim lasts without a renewing PUT /head (CPS_HEAD_CLAIM_TTL_MS). */
export const DEFAULT_HEAD_CLAIM_TTL_MS = 20_000;

/**
 * Whether this node's coordinator leads the LAN, and with which epoch: what every HELLO carries
 * (docs/pep.md §3). The coordinator owns the epochs and the decision; this only carries them, and
 * forgets a claim the coordinator stopped renewing: a coordinator killed -9 never says DELETE, and
 * its discovery must not announce a head that no longer acts.
 *
 * The lapse is read off the clock whenever the claim is read (every HELLO, every GET /self), so it
 * needs no timer of its own: the first HELLO after the deadline says `head: false`.
 */
export class HeadClaim {
  private claim: (Claim & { until: number }) | undefined;
  private readonly listeners = new Set<() => void>();

  constructor(private readonly o: { now: () => number; ttlMs?: number; log?: Logger }) {}

  get ttlMs(): number {
    return this.o.ttlMs ?? DEFAULT_HEAD_CLAIM_TTL_MS;
  }

  /** PUT /head: claim, or renew, or move to another epoch. Listeners hear of a change only. */
  put(epoch: number): void {
    const before = this.current();
    this.claim = { epoch, until: this.o.now() + this.ttlMs };
    if (before?.epoch !== epoch) {
      this.o.log?.info({ event: 'head-claim', epoch, previous: before?.epoch, ttlMs: this.ttlMs }, 'HELLO claims the head');
      this.changed();
    }
  }

  /** DELETE /head: no claim from now on (idempotent). */
  drop(): void {
    const before = this.current();
    this.claim = undefined;
    if (before) {
      this.o.log?.info({ event: 'head-claim', epoch: undefined, previous: before.epoch }, 'HELLO no longer claims the head');
      this.changed();
    }
  }

  /** The claim now, or undefined once dropped or lapsed. */
  current(): Claim | undefined {
    const c = this.claim;
    if (!c) return undefined;
    if (this.o.now() >= c.until) {
      this.claim = undefined;
      this.o.log?.warn(
        { event: 'head-claim', epoch: undefined, previous: c.epoch, ttlMs: this.ttlMs },
        'head claim lapsed: the coordinator did not renew it (PUT /head) in time; HELLO no longer claims the head',
      );
      // Listeners are not told: whoever noticed (a HELLO being built, GET /self), the next HELLO says so.
      return undefined;
    }
    return { epoch: c.epoch };
  }

  /** Called after every change of claim or epoch (not on a renewal): HELLO sends at once. */
  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private changed(): void {
    for (const fn of this.listeners) fn();
  }
}
