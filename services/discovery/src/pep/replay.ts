/**
 * Replay protection (docs/pep.md §4): a packet is fresh when its timestamp lies within ±windowMs of
 * this node's clock and its (sender, nonce) has not been seen while it could still be in the window.
 * Runs only after the MAC verified, so only key holders can fill the cache; memory is still bounded
 * so that a buggy or compromised peer cannot grow it without limit.
 */

export type ReplayVerdict = 'stale' | 'future' | 'replay' | undefined;

export interface ReplayOptions {
  /** How far a packet's timestamp may be from our clock, either way (clock skew + transit). */
  windowMs: number;
  /** Nonces remembered per sender; when full, the oldest is forgotten and the sender's floor rises. */
  maxPerSender?: number;
  /** Senders remembered; when full, the least recently heard is forgotten and the global floor rises. */
  maxSenders?: number;
}

interface SenderCache {
  /** nonce (hex) → the packet's timestamp, in insertion order (a Map keeps it). */
  nonces: Map<string, number>;
  /** Packets at or below this timestamp are refused: their nonces may have been forgotten. */
  floor: number;
  heardAt: number;
}

export class ReplayGuard {
  private readonly senders = new Map<string, SenderCache>();
  private globalFloor = -1;
  private readonly maxPerSender: number;
  private readonly maxSenders: number;

  constructor(private readonly o: ReplayOptions) {
    this.maxPerSender = o.maxPerSender ?? 4096;
    this.maxSenders = o.maxSenders ?? 1024;
  }

  /** Judges one authenticated packet and, when fresh, remembers its nonce. */
  check(sender: string, timestampMs: number, nonce: Buffer, now: number): ReplayVerdict {
    const w = this.o.windowMs;
    if (timestampMs < now - w) return 'stale';
    if (timestampMs > now + w) return 'future';
    if (timestampMs <= this.globalFloor) return 'replay';
    let c = this.senders.get(sender);
    const id = nonce.toString('hex');
    if (c) {
      if (timestampMs <= c.floor || c.nonces.has(id)) return 'replay';
      // Re-insert so the Map's order tracks who was heard least recently.
      this.senders.delete(sender);
    } else {
      c = { nonces: new Map(), floor: -1, heardAt: now };
      this.forgetIdle(now);
      if (this.senders.size >= this.maxSenders) this.evictSender();
    }
    c.heardAt = now;
    this.senders.set(sender, c);
    this.expire(c, now);
    if (c.nonces.size >= this.maxPerSender) {
      const [oldId, oldTs] = c.nonces.entries().next().value as [string, number];
      c.nonces.delete(oldId);
      c.floor = Math.max(c.floor, oldTs);
      // Refuse the packet too if it is not newer than what was just forgotten.
      if (timestampMs <= c.floor) return 'replay';
    }
    c.nonces.set(id, timestampMs);
    return undefined;
  }

  /** Nonces currently remembered, over all senders (for tests and the gauge). */
  size(): number {
    let n = 0;
    for (const c of this.senders.values()) n += c.nonces.size;
    return n;
  }

  /** Drops what can no longer be replayed: anything older than the window is refused as stale. */
  private expire(c: SenderCache, now: number): void {
    for (const [id, ts] of c.nonces) {
      if (ts >= now - this.o.windowMs) continue;
      c.nonces.delete(id);
    }
  }

  /** A sender silent for two windows has nothing left that could pass the timestamp check. */
  private forgetIdle(now: number): void {
    for (const [id, c] of this.senders) {
      if (c.heardAt >= now - 2 * this.o.windowMs) break; // ordered by heardAt, oldest first
      this.senders.delete(id);
    }
  }

  private evictSender(): void {
    const [id, c] = this.senders.entries().next().value as [string, SenderCache];
    this.senders.delete(id);
    for (const ts of c.nonces.values()) this.globalFloor = Math.max(this.globalFloor, ts);
    this.globalFloor = Math.max(this.globalFloor, c.floor);
  }
}
