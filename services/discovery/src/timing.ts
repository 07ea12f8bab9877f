import type { Requirements } from './pep/messages.ts';

/** Injectable time, so publish/hold logic can run on a virtual clock in tests. */
export interface Timers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: Timers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/**
 * When to resend an unanswered PUBLISH, as offsets from the first send: first after `initialMs`,
 * each gap `factor` times the last, capped at `maxGapMs`, all before `timeoutMs`.
 * (200, 2, 800, 2000) → [200, 600, 1400].
 */
export function retransmitOffsets(timeoutMs: number, initialMs = 200, factor = 2, maxGapMs = 800): number[] {
  const out: number[] = [];
  let gap = initialMs;
  for (let t = gap; t < timeoutMs && out.length < 32; t += gap) {
    out.push(t);
    gap = Math.min(gap * factor, maxGapMs);
  }
  return out;
}

/**
 * How long a capable node waits before ACKing: the more headroom it keeps after taking the task,
 * the sooner it answers, so "first ACK wins" picks the least loaded peer rather than the one nearest
 * the publisher (on loopback the publisher's own node would otherwise always win).
 * headroom = min over vCPUs and memory of (free - need) / free, in [0, 1]; delay = maxMs × (1 - headroom).
 */
export function ackDelayMs(req: Pick<Requirements, 'vcpus' | 'memoryMiB'>, free: { vcpus: number; memoryMiB: number }, maxMs: number): number {
  if (maxMs <= 0) return 0;
  const share = (need: number, have: number) => (have <= 0 ? 0 : Math.max(0, Math.min(1, (have - need) / have)));
  const headroom = Math.min(share(req.vcpus, free.vcpus), share(req.memoryMiB, free.memoryMiB));
  return Math.round(maxMs * (1 - headroom));
}

export interface LivenessConfig {
  suspectAfterMs: number;
  deadAfterMs: number;
}

export interface MembershipTiming extends LivenessConfig {
  /** A dead peer is dropped from the view this long after it was last heard. */
  forgetAfterMs: number;
  /** How often states are re-evaluated, so suspect/dead are noticed without a new packet. */
  tickMs: number;
}

export const defaultLiveness: LivenessConfig = { suspectAfterMs: 3_000, deadAfterMs: 5_000 };

/**
 * Thresholds from the HELLO interval (as memberlist scales its suspicion timeout by the probe
 * interval): suspect after 3 missed HELLOs (one loss is weather, three is a pattern), dead after
 * 5, so a killed host is dead within ~5 intervals + one tick. 0 ("HELLO once") times as 1 s.
 */
export function membershipTiming(helloMs: number, suspectMisses = 3, deadMisses = 5): MembershipTiming {
  const every = helloMs > 0 ? helloMs : 1_000;
  return {
    suspectAfterMs: every * suspectMisses,
    deadAfterMs: every * Math.max(deadMisses, suspectMisses + 1),
    forgetAfterMs: Math.max(60_000, every * 60),
    tickMs: Math.min(500, Math.max(25, Math.round(every / 4))),
  };
}

/** A peer's state from the time since it was last heard. */
export function peerState(ageMs: number, c: LivenessConfig = defaultLiveness): 'alive' | 'suspect' | 'dead' {
  if (ageMs < c.suspectAfterMs) return 'alive';
  if (ageMs < c.deadAfterMs) return 'suspect';
  return 'dead';
}
