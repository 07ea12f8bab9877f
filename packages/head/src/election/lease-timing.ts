import type { Lease } from '../lease-store.ts';

/**
 * How long a term lasts and how far apart two nodes' clocks may be.
 * - `leaseMs`: a claim or renewal writes `expires = sent + leaseMs`, by the holder's clock.
 * - `driftMs`: the largest difference assumed between any two nodes' clocks (plus their rate
 *   error over one lease). The holder stops acting `driftMs` before its lease's end, by its own
 *   clock; any other node claims only `driftMs` after that end, by its clock. So while both
 *   clocks are within `driftMs` of each other, the old head has stopped before the new one starts.
 *   Beyond that (a paused process, a clock jump) only the epoch keeps the old head out: hosts
 *   refuse its commands once they have seen a larger epoch (FenceGuard).
 * - `renewMs`: how often the holder renews; a few renewals fit in one lease, so one lost
 *   renewal does not end the term.
 */
export interface LeaseTiming {
  leaseMs: number;
  driftMs: number;
  renewMs: number;
}

export const defaultLeaseTiming: LeaseTiming = { leaseMs: 15_000, driftMs: 2_000, renewMs: 5_000 };

/** Throws for timings that give no safety: a holder must renew well before it stops. */
export function checkLeaseTiming(t: LeaseTiming): LeaseTiming {
  if (!(t.driftMs >= 0 && t.renewMs > 0 && t.leaseMs > 0)) throw new Error('lease timings must be positive');
  if (t.renewMs * 2 > t.leaseMs - t.driftMs) throw new Error(`renewMs ${t.renewMs} leaves no room for a lost renewal in a ${t.leaseMs} ms lease less ${t.driftMs} ms drift`);
  return t;
}

/** Until when (own clock) a holder that sent its claim or renewal at `sentAt` may act as head. */
export const leadsUntil = (sentAt: number, t: LeaseTiming): number => sentAt + t.leaseMs - t.driftMs;

/** From when (own clock) a node other than the holder may claim after `lease`. */
export const claimableFrom = (lease: Lease, t: LeaseTiming): number => lease.expiresAt + t.driftMs;

/** The epoch of a new term: strictly larger than every epoch this node has seen. */
export const nextEpoch = (...seen: number[]): number => Math.max(0, ...seen) + 1;
