import type { Logger } from '@cps/common';
import type { Lease, LeaseRead, LeaseStore } from '../lease-store.ts';
import { rankHeads, type PeerView, type SelfView } from './head-choice.ts';
import { checkLeaseTiming, claimableFrom, leadsUntil, nextEpoch, type LeaseTiming } from './lease-timing.ts';

/**
 * Whom a follower sends requests to: the holder while its lease runs, by this node's clock. Not
 * in the drift margin after it (the holder has stopped), and not after a release, whose lease ends
 * when it was written: forwarding to a node that has left helps nobody. Found by the simulator
 * (scenarios/forwarding-released-lease).
 */
const serving = (lease: Lease | undefined, now: number): string | undefined => (lease && now < lease.expiresAt ? lease.holder : undefined);

/** What a step decided: this node leads (with which epoch, until when by its clock), or not. */
export type HeadStatus =
  | { role: 'head'; epoch: number; leadsUntil: number }
  | { role: 'follower'; head: string | undefined; epoch: number | undefined; reason: string };

export interface ElectorDeps {
  self: string;
  store: LeaseStore;
  /** This node's clock, ms since the epoch: the only time the elector knows. */
  now: () => number;
  timing: LeaseTiming;
  /** The largest epoch known besides the lease (e.g. this node's FenceGuard); a new term goes above it. */
  epochFloor?: () => number;
  log?: Logger;
}

/** The term this node holds: its epoch, when its last write was sent, and the record as written. */
interface Term {
  epoch: number;
  sentAt: number;
  token: string;
  /** Claimed in the stead of a longer-up node that left the lease free: not handed back to it. */
  inSteadOf?: string;
}

/**
 * One node's part in choosing and keeping the head, advanced only by `step` (no timer, no clock
 * of its own), so a simulator can drive many on one virtual clock. A step reads the lease and
 * then, at most one write: renew the term it holds, hand it over, or claim a free one. Whatever
 * goes wrong (a lost compare-and-swap, DNS down, a record that is not ours) ends in "not head".
 */
export class HeadElector {
  private term: Term | undefined;
  private seenEpoch = 0;
  /** Since when (own clock) this node has seen the lease free while another node should lead. */
  private freeSince: number | undefined;

  constructor(private readonly d: ElectorDeps) {
    checkLeaseTiming(d.timing);
  }

  /**
   * The epoch to put on a command sent now, or undefined: a head whose own clock says its term
   * is over (it was paused, its renewals failed) commands nothing, even before its next step.
   */
  commandEpoch(): number | undefined {
    const t = this.term;
    return t && this.d.now() < leadsUntil(t.sentAt, this.d.timing) ? t.epoch : undefined;
  }

  /** The largest epoch this node has seen in the lease or used itself. */
  get highestEpoch(): number {
    return this.seenEpoch;
  }

  async step(view: { self: SelfView; peers: readonly PeerView[] }): Promise<HeadStatus> {
    const { self, timing } = this.d;
    const ranked = rankHeads(view.self, view.peers);
    const chosen = ranked[0]!;
    const read = await this.d.store.read();
    if (read.result !== 'read') return this.unreadable(read);
    const { lease, token } = read;
    if (lease) this.seenEpoch = Math.max(this.seenEpoch, lease.epoch);

    const held = this.term;
    const stillOurs = held && lease?.holder === self && lease.epoch === held.epoch && token === held.token && this.commandEpoch() !== undefined;
    if (held && stillOurs) {
      // A term taken in a longer-up node's stead is kept: that node saw the lease free for a whole
      // lease and did not claim (its coordinator stuck, or cut off from DNS); handing back to it
      // would only leave the lease free again.
      if (chosen !== self && !held.inSteadOf) {
        // A longer-up peer is live: hand over now rather than make it wait out the lease.
        this.term = undefined;
        const ended = { holder: self, epoch: held.epoch, expiresAt: this.d.now() };
        const w = await this.d.store.release(token!, ended);
        this.d.log?.info({ event: 'head.released', epoch: held.epoch, to: chosen, result: w.result }, 'head: handed over');
        return { role: 'follower', head: undefined, epoch: held.epoch, reason: `handed over to ${chosen}` };
      }
      // The term stays in force while it is renewed: it was valid before this write, and a write
      // cannot make it end later than it already does. Clearing it here left a window in every
      // renewal in which the head commanded nothing and answered no-head (seen under load).
      return this.write(token, held.epoch, 'renewed', chosen === self ? undefined : held.inSteadOf);
    }
    this.term = undefined; // set again below only by a write that succeeds
    if (held) this.d.log?.warn({ event: 'head.term-lost', epoch: held.epoch, lease }, 'head: the term is over');

    if (chosen !== self) {
      const now = this.d.now();
      const live = lease && now < claimableFrom(lease, timing);
      if (live) this.freeSince = undefined;
      else {
        // Discovery hears the chosen node, but it leaves the lease free: its coordinator may be
        // stopped (SIGSTOP) or unable to reach DNS while its discovery still says HELLO. The
        // next in line claims after one whole lease per node ahead of it, so a live chosen node
        // always gets there first and the line never moves for a slow step.
        this.freeSince ??= now;
        const rank = ranked.indexOf(self);
        if (now - this.freeSince >= rank * timing.leaseMs) {
          this.d.log?.warn({ event: 'head.claim-in-stead', of: chosen, freeForMs: now - this.freeSince }, 'head: the chosen node leaves the lease free; claiming in its stead');
          return this.write(token, nextEpoch(this.seenEpoch, this.d.epochFloor?.() ?? 0), 'claimed', chosen);
        }
      }
      return { role: 'follower', head: serving(lease, now), epoch: lease?.epoch, reason: `${chosen} should lead` };
    }
    // A lease of another node is waited out; one of ours from an earlier term (a restart, a pause)
    // is taken over at once: nobody else holds it, and the new epoch fences the old term.
    if (lease && lease.holder !== self && this.d.now() < claimableFrom(lease, timing)) {
      return { role: 'follower', head: serving(lease, this.d.now()), epoch: lease.epoch, reason: `lease of ${lease.holder} runs until ${lease.expiresAt}` };
    }
    return this.write(token, nextEpoch(this.seenEpoch, this.d.epochFloor?.() ?? 0), 'claimed');
  }

  /**
   * Ends this node's term now (a clean shutdown): the lease is released, so the next head claims
   * after the drift margin instead of the whole lease. Without a term, or if the record is no
   * longer ours, nothing is written.
   */
  async resign(): Promise<'released' | 'not-head' | 'failed'> {
    const held = this.term;
    this.term = undefined;
    if (!held) return 'not-head';
    const w = await this.d.store.release(held.token, { holder: this.d.self, epoch: held.epoch, expiresAt: this.d.now() });
    this.d.log?.info({ event: 'head.released', epoch: held.epoch, result: w.result }, 'head: resigned');
    return w.result === 'done' ? 'released' : 'failed';
  }

  private async write(token: string | undefined, epoch: number, what: 'claimed' | 'renewed', inSteadOf?: string): Promise<HeadStatus> {
    const sentAt = this.d.now();
    const w = await this.d.store.claim(token, { holder: this.d.self, epoch, expiresAt: sentAt + this.d.timing.leaseMs });
    if (w.result !== 'done') {
      this.term = undefined;
      this.d.log?.warn({ event: `head.${what === 'claimed' ? 'claim' : 'renew'}-failed`, epoch, result: w.result, detail: w.detail }, 'head: write failed');
      return { role: 'follower', head: undefined, epoch: undefined, reason: `${what === 'claimed' ? 'claim' : 'renewal'} ${w.result}: ${w.detail}` };
    }
    this.seenEpoch = Math.max(this.seenEpoch, epoch);
    this.term = { epoch, sentAt, token: w.token, inSteadOf };
    this.freeSince = undefined;
    if (what === 'claimed') this.d.log?.info({ event: 'head.claimed', epoch }, 'head: claimed');
    return { role: 'head', epoch, leadsUntil: leadsUntil(sentAt, this.d.timing) };
  }

  /**
   * DNS cannot say (down, refusing, unverifiable): a term still running by our clock runs on
   * unrenewed. A record that is not a lease is an answer, though: someone replaced ours, the
   * term ends now.
   */
  private unreadable(read: Exclude<LeaseRead, { result: 'read' }>): HeadStatus {
    const epoch = this.commandEpoch();
    if (epoch !== undefined && read.result !== 'foreign') return { role: 'head', epoch, leadsUntil: leadsUntil(this.term!.sentAt, this.d.timing) };
    if (this.term) this.d.log?.warn({ event: 'head.term-lost', epoch: this.term.epoch, read: read.result }, 'head: the term is over');
    this.term = undefined;
    const reason = read.result === 'foreign' ? `the lease record is not ours: ${read.text}` : `lease ${read.result}: ${read.detail}`;
    return { role: 'follower', head: undefined, epoch: undefined, reason };
  }
}
