import type { Logger } from '@cps/common';
import { HeadElector, HeadLoop, type HeadStatus, type LeaseStore, type LeaseTiming, type LoopTimers } from '@cps/head';
import type { NodeAddress } from '../clients.ts';
import type { HeadDiscovery, HeadDiscoveryView } from './discovery-view.ts';
import type { EpochFloor } from './epoch-floor.ts';
import type { HeadView } from './head-view.ts';

export type HeadMode = 'dns' | 'discovery';

/** GET /api/head: this node's view of the head (the contract's HeadInfo). */
export interface HeadInfo {
  role: 'head' | 'follower';
  head: { nodeId: string; address: string } | null;
  epoch: number | null;
  since: string;
  mode: HeadMode;
}

export interface HeadRoleDeps {
  self: string;
  /** Where this node's own coordinator is (the head's address when it leads). */
  selfAddress: NodeAddress;
  discovery: HeadDiscovery;
  /** The lease: DnsLeaseStore (mode dns) or DiscoveryLeaseStore (mode discovery). */
  store: LeaseStore;
  mode: HeadMode;
  floor: EpochFloor;
  timing: LeaseTiming;
  now: () => number;
  timers: LoopTimers;
  log: Logger;
  /** While discovery has not answered yet (it starts beside us), how soon the view is asked again. */
  startRetryMs?: number;
  /**
   * The highest epoch this node's host has seen (its provisioner's GET /fence): a floor too, for a
   * term claimed when neither the lease nor a HELLO remembers the last one (docs/head.md).
   */
  hostFence?: () => Promise<number>;
}

/**
 * This coordinator's part in the head (docs/head.md): a HeadLoop steps the elector every
 * `renewMs` with discovery's view; while the term is ours, discovery's HELLOs carry the claim
 * (PUT /head each step, DELETE /head when it ends). It is the HeadView the rest of the coordinator
 * asks (forwarding, the loops only the head runs, the epoch on host commands).
 */
export class HeadRole implements HeadView {
  private readonly elector: HeadElector;
  private readonly loop: HeadLoop;
  private readonly listeners = new Set<() => void>();
  private status: HeadStatus | undefined;
  private lastView: HeadDiscoveryView | undefined;
  private since: number;
  private claimed = false;
  private firstStep!: () => void;
  private readonly stepped = new Promise<void>((r) => (this.firstStep = r));

  constructor(private readonly d: HeadRoleDeps) {
    this.since = d.now();
    this.elector = new HeadElector({ self: d.self, store: d.store, now: d.now, timing: d.timing, epochFloor: () => d.floor.get(), log: d.log });
    this.loop = new HeadLoop({ elector: this.elector, view: () => this.view(), timers: d.timers, everyMs: d.timing.renewMs, onStatus: (s) => void this.onStatus(s), log: d.log });
  }

  start(): void {
    this.loop.start();
  }

  /** Resolves after the first step that had a view (the API waits for it, bounded, at start). */
  ready(): Promise<void> {
    return this.stepped;
  }

  /** A clean shutdown: the lease is handed back, so the next head need not wait it out. */
  async stop(): Promise<void> {
    await this.loop.stop({ resign: true });
    if (this.claimed) await this.endClaim();
  }

  isHead(): boolean {
    if (this.status?.role !== 'head') return false;
    if (this.elector.commandEpoch() !== undefined) return true;
    if (!this.lapseLogged) {
      // The term ran out by the clock before a step renewed it (a stalled step, a paused process).
      this.lapseLogged = true;
      this.d.log.warn({ event: 'head.term-lapsed', epoch: this.status.epoch, leadsUntil: this.status.leadsUntil, now: this.d.now() }, 'head: the term ran out before it was renewed');
    }
    return false;
  }

  private lapseLogged = false;

  head(): NodeAddress | undefined {
    const s = this.status;
    if (!s || s.role !== 'follower' || !s.head || s.head === this.d.self) return undefined;
    const p = this.lastView?.peers.find((x) => x.nodeId === s.head);
    if (!p || p.state === 'dead') return undefined;
    return { nodeId: p.nodeId, address: p.address, ports: p.ports as unknown as NodeAddress['ports'] };
  }

  commandEpoch(): { epoch: number; head: string } | undefined {
    const epoch = this.status?.role === 'head' ? this.elector.commandEpoch() : undefined;
    return epoch === undefined ? undefined : { epoch, head: this.d.self };
  }

  /** This node and every peer discovery does not call dead: the hosts a new head shows its epoch. */
  liveNodes(): NodeAddress[] {
    const peers = (this.lastView?.peers ?? []).filter((p) => p.state !== 'dead' && p.nodeId !== this.d.self);
    return [this.d.selfAddress, ...peers.map((p) => ({ nodeId: p.nodeId, address: p.address, ports: p.ports as unknown as NodeAddress['ports'] }))];
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  info(): HeadInfo {
    const since = new Date(this.since).toISOString();
    if (this.isHead()) return { role: 'head', head: { nodeId: this.d.self, address: this.d.selfAddress.address }, epoch: this.elector.commandEpoch()!, since, mode: this.d.mode };
    const h = this.head();
    const epoch = this.status?.role === 'follower' && h ? (this.status.epoch ?? null) : null;
    return { role: 'follower', head: h ? { nodeId: h.nodeId, address: h.address } : null, epoch, since, mode: this.d.mode };
  }

  /** Discovery's view; until it first answers (it starts beside us), asked again soon, not a renewal later. */
  private async view(): Promise<HeadDiscoveryView> {
    const started = this.d.now();
    for (;;) {
      try {
        const asked = this.d.now();
        const v = await this.d.discovery.view();
        const tookMs = this.d.now() - asked;
        // A step slower than a renewal interval risks the term (it ends by the clock): say so.
        if (tookMs > this.d.timing.renewMs / 2) this.d.log.warn({ event: 'head.slow-view', tookMs }, 'head: discovery was slow to answer');
        this.lastView = v;
        // Every epoch a HELLO claimed raises the floor: a term of ours after a restart goes above it.
        const seen = Math.max(0, ...v.peers.map((p) => (p.head && Number.isSafeInteger(p.headEpoch) ? p.headEpoch! : 0)));
        this.raiseFloor(seen);
        this.refreshHostFence();
        return v;
      } catch (e) {
        if (this.lastView || this.d.now() - started >= this.d.timing.renewMs) throw e;
        await new Promise<void>((r) => this.d.timers.setTimeout(r, this.d.startRetryMs ?? 200));
      }
    }
  }

  private fenceAsked = false;

  /**
   * Asks the host's fence in the background, one question at a time: a slow provisioner must never
   * hold a step (a step held past the lease less drift ends the term by the clock).
   */
  private refreshHostFence(): void {
    if (!this.d.hostFence || this.fenceAsked) return;
    this.fenceAsked = true;
    this.d
      .hostFence()
      .then((e) => this.raiseFloor(e))
      .catch(() => {
        // The host's fence is a floor besides the others; a provisioner that is down changes nothing here.
      })
      .finally(() => (this.fenceAsked = false));
  }

  private raiseFloor(epoch: number): void {
    try {
      this.d.floor.raise(epoch);
    } catch (e) {
      this.d.log.error({ event: 'head.floor-failed', err: (e as Error).message }, 'head: the epoch floor could not be written');
    }
  }

  private async onStatus(s: HeadStatus): Promise<void> {
    const beforeHead = this.headKey(this.status);
    this.status = s;
    this.lapseLogged = false;
    if (s.role === 'head') this.raiseFloor(s.epoch);
    const nowHead = this.headKey(s);
    if (beforeHead !== nowHead) {
      this.since = this.d.now();
      const info = this.info();
      this.d.log.info({ event: 'head.role', role: info.role, epoch: info.epoch, head: info.head?.nodeId ?? null, mode: this.d.mode, ...(s.role === 'follower' ? { reason: s.reason } : {}) }, `head: ${info.role}`);
      for (const l of [...this.listeners]) {
        try {
          l();
        } catch (e) {
          this.d.log.error({ event: 'head.listener-failed', err: (e as Error).message }, 'head: a role listener failed');
        }
      }
    }
    this.firstStep();
    if (s.role === 'head') {
      // In DNS mode the HELLOs carry the claim too (the DNS-less store's write already did it).
      this.claimed = true;
      if (this.d.mode === 'dns') await this.putClaim(s.epoch);
    } else if (this.claimed) {
      this.claimed = false;
      await this.endClaim();
    }
  }

  /** What listeners care about: the role, the epoch, whom a follower forwards to. */
  private headKey(s: HeadStatus | undefined): string {
    if (!s) return 'none';
    if (s.role === 'head') return `head ${s.epoch}`;
    return `follower ${s.head ?? '-'} ${s.head ? (s.epoch ?? '-') : '-'}`;
  }

  private async putClaim(epoch: number): Promise<void> {
    try {
      await this.d.discovery.claim(epoch);
    } catch (e) {
      this.d.log.warn({ event: 'head.hello-claim-failed', epoch, err: (e as Error).message }, 'head: discovery did not take the claim');
    }
  }

  private async endClaim(): Promise<void> {
    try {
      await this.d.discovery.end();
    } catch (e) {
      this.d.log.warn({ event: 'head.hello-end-failed', err: (e as Error).message }, 'head: discovery did not take the end of the claim');
    }
  }
}
