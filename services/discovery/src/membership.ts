import type { DiscoverySchemas } from '@cps/openapi';
import type { Rinfo } from './pep/socket.ts';
import { membershipTiming, peerState, type MembershipTiming } from './timing.ts';

type NodeInfo = DiscoverySchemas['NodeInfo'];
type Peer = DiscoverySchemas['Peer'];
export type PeerEvent = DiscoverySchemas['PeerEvent'];
type State = Peer['state'];

interface Entry {
  info: NodeInfo;
  head: boolean;
  /** The epoch its last HELLO claimed; set exactly when `head`. */
  headEpoch?: number;
  seenAt: number;
  /** The sender's clock on its last packet we took: older packets (reordered) must not win. */
  sentAt: number;
  state: State;
  /** Where its PEP packets come from: a unicast target when multicast is off (docs/pep.md §1). */
  from?: Rinfo;
}

export interface Heard {
  /** A HELLO's claim; absent for an ACK, which carries none. */
  head?: boolean;
  /** The epoch a HELLO with `head: true` claimed. */
  headEpoch?: number;
  from?: Rinfo;
  /** The packet's timestampMs. */
  sentAt?: number;
}

const MAX_TOMBSTONES = 1024;

const sameResources = (a: NodeInfo['free'], b: NodeInfo['free']) =>
  a === b || (a !== undefined && b !== undefined && a.vcpus === b.vcpus && a.memoryMiB === b.memoryMiB && a.diskMiB === b.diskMiB);

/** Whether two views of a peer lend the same: a change is what a waiting task may have waited for. */
const sameCapacity = (a: NodeInfo, b: NodeInfo) => sameResources(a.free, b.free) && sameResources(a.total, b.total);

/**
 * The peers this node has heard from, and every change of their state as an event. States come
 * from silence alone (timing.ts peerState); `tick` turns silence into suspect/dead events.
 */
export class Membership {
  private readonly peers = new Map<string, Entry>();
  /** nodeId → the sender time of its LEAVE: a HELLO sent before it (reordered) must not revive it. */
  private readonly left = new Map<string, number>();
  private readonly listeners = new Set<(e: PeerEvent) => void>();

  constructor(
    private readonly selfId: string,
    private readonly now: () => number = Date.now,
    private readonly c: Omit<MembershipTiming, 'tickMs'> = membershipTiming(1_000),
  ) {}

  observe(info: NodeInfo, h: Heard = {}): void {
    if (info.nodeId === this.selfId) return;
    const now = this.now();
    const sentAt = h.sentAt ?? now;
    const prev = this.peers.get(info.nodeId);
    if (prev && sentAt < prev.sentAt) return;
    const leftAt = this.left.get(info.nodeId);
    if (leftAt !== undefined) {
      if (sentAt <= leftAt) return;
      this.left.delete(info.nodeId);
    }
    // An ACK carries no head claim: keep what the last HELLO said.
    const head = h.head ?? prev?.head ?? false;
    const headEpoch = !head ? undefined : h.head === undefined ? prev?.headEpoch : h.headEpoch;
    const e: Entry = { info, head, ...(headEpoch === undefined ? {} : { headEpoch }), seenAt: now, sentAt, state: 'alive', from: h.from ?? prev?.from };
    this.peers.set(info.nodeId, e);
    if (!prev) this.emit('joined', e);
    else if (prev.state !== 'alive') this.emit('alive', e);
    else if (!sameCapacity(prev.info, info)) this.emit('capacity', e);
    // After the state event, so a follower sees the peer before its claim; a peer that joins
    // claiming the head is a change too (from "no claim heard").
    if (head !== (prev?.head ?? false) || headEpoch !== prev?.headEpoch) this.emit('head', e);
  }

  /** LEAVE: gone at once. */
  leave(nodeId: string, sentAt = this.now()): void {
    const e = this.peers.get(nodeId);
    if (e && sentAt < e.sentAt) return; // a LEAVE from before its latest HELLO (it restarted)
    this.left.set(nodeId, sentAt);
    if (this.left.size > MAX_TOMBSTONES) this.left.delete(this.left.keys().next().value!);
    if (!e) return;
    this.peers.delete(nodeId);
    this.emit('left', e, 'leave');
  }

  /** Re-evaluates every peer's state; emits suspect/dead/left(forgotten) for the changes. */
  tick(): void {
    const now = this.now();
    for (const [id, e] of this.peers) {
      const age = now - e.seenAt;
      if (age >= this.c.forgetAfterMs) {
        this.peers.delete(id);
        this.emit('left', e, 'forgotten');
        continue;
      }
      const s = peerState(age, this.c);
      if (s !== e.state) {
        e.state = s;
        this.emit(s, e);
      }
    }
    // Tombstones only need to outlive packets that could still pass the replay window.
    for (const [id, at] of this.left) if (now - at > this.c.forgetAfterMs) this.left.delete(id);
  }

  list(): Peer[] {
    this.tick();
    return [...this.peers.values()].map((e) => this.peer(e)).sort((a, b) => a.nodeId.localeCompare(b.nodeId));
  }

  /** Where to send PEP by unicast: every peer not dead that we know an address for. */
  unicastTargets(): Rinfo[] {
    const now = this.now();
    const out: Rinfo[] = [];
    for (const e of this.peers.values()) if (e.from && now - e.seenAt < this.c.deadAfterMs) out.push(e.from);
    return out;
  }

  subscribe(fn: (e: PeerEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** For error messages: "b (alive), c (suspect)" or "none". */
  describe(): string {
    const l = this.list();
    return l.length ? l.map((p) => `${p.nodeId} (${p.state})`).join(', ') : 'none';
  }

  private peer(e: Entry): Peer {
    return { ...e.info, lastSeenMs: this.now() - e.seenAt, state: e.state, head: e.head, ...(e.headEpoch === undefined ? {} : { headEpoch: e.headEpoch }) };
  }

  private emit(type: PeerEvent['type'], e: Entry, reason?: PeerEvent['reason']): void {
    const ev: PeerEvent = { type, peer: this.peer(e), at: new Date(this.now()).toISOString(), ...(reason ? { reason } : {}) };
    for (const fn of this.listeners) fn(ev);
  }
}
