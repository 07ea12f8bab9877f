import { ProblemError } from '@cps/common';

export interface SignInLimits {
  /** Failures per account name within the window before that name is refused. */
  perName: number;
  /** Failures from one source address within the window (guessing many names from one place). */
  perAddress: number;
  windowMs: number;
  /** Keys remembered at most; past it the oldest go first, so a flood of names cannot fill memory. */
  maxKeys: number;
}

export const defaultSignInLimits: SignInLimits = { perName: 5, perAddress: 20, windowMs: 15 * 60_000, maxKeys: 10_000 };

/**
 * Counts failed sign-ins per name and per source address over a sliding window, on an injected
 * clock. A success clears the name's count only: a right password for one account must not buy
 * its caller more guesses at others from the same address.
 */
export class SignInLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly now: () => Date,
    private readonly limits: SignInLimits = defaultSignInLimits,
  ) {}

  /**
   * Called before the password is checked: throws `too-many-attempts` (with `retryAfterSec`) when
   * either count is full, else counts this attempt as a failure at once, so attempts sent all
   * together cannot pass the check before any of them has failed.
   */
  begin(name: string, address: string): void {
    const wait = Math.max(this.waitMs(nameKey(name), this.limits.perName), this.waitMs(addressKey(address), this.limits.perAddress));
    if (wait > 0) {
      const retryAfterSec = Math.ceil(wait / 1000);
      throw new ProblemError('too-many-attempts', `too many failed sign-ins for this name or from this address; try again in ${retryAfterSec} s`, { retryAfterSec });
    }
    this.record(nameKey(name));
    this.record(addressKey(address));
  }

  /** The attempt begun was right: the name's count starts over, the address forgets that one. */
  succeeded(name: string, address: string): void {
    this.failures.delete(nameKey(name));
    const times = this.failures.get(addressKey(address));
    times?.pop();
    if (times?.length === 0) this.failures.delete(addressKey(address));
  }

  private recent(key: string): number[] {
    const since = this.now().getTime() - this.limits.windowMs;
    const kept = (this.failures.get(key) ?? []).filter((t) => t > since);
    if (kept.length) this.failures.set(key, kept);
    else this.failures.delete(key);
    return kept;
  }

  private waitMs(key: string, limit: number): number {
    const times = this.recent(key);
    if (times.length < limit) return 0;
    // Refused until enough of the oldest failures leave the window.
    return times[times.length - limit]! + this.limits.windowMs - this.now().getTime();
  }

  private record(key: string): void {
    const times = this.recent(key);
    times.push(this.now().getTime());
    // Only the newest `max(limit)` failures decide anything.
    const cap = Math.max(this.limits.perName, this.limits.perAddress);
    this.failures.delete(key);
    this.failures.set(key, times.slice(-cap));
    while (this.failures.size > this.limits.maxKeys) this.failures.delete(this.failures.keys().next().value!);
  }
}

// Names compare case-blind here so `Admin` and `admin` share one count.
const nameKey = (name: string) => `name:${name.toLowerCase()}`;
const addressKey = (address: string) => `addr:${address}`;
