import { Writable } from 'node:stream';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { Logger } from '@cps/common';
import type { DiscoverySchemas } from '@cps/openapi';
import { Membership, type PeerEvent } from '@cps/discovery/membership.ts';
import { membershipTiming } from '@cps/discovery/timing.ts';
import { HeadElector, type HeadStatus } from '../election/elector.ts';
import { FenceGuard } from '../election/fence-guard.ts';
import { HeadLoop, type LoopTimers } from '../election/head-loop.ts';
import { MemoryLeaseRecord } from '../election/memory-lease-store.ts';
import { parseLease } from '../dns/lease-record.ts';
import type { LeaseStore } from '../lease-store.ts';
import type { CmdList, Command } from './cmdlist.ts';

type NodeInfo = DiscoverySchemas['NodeInfo'];

/** Something due on the virtual clock: a node's timer (dropped if that node was powered off since). */
interface Due {
  at: number;
  seq: number;
  fn: () => void | Promise<void>;
  node?: SimNode;
  gen?: number;
  /** Whose timer: the coordinator's (stops with `pause`) or the machine's (discovery; stops with `freeze`). */
  part?: 'coordinator' | 'machine';
}

/** One workstation: discovery's membership, the coordinator's elector and loop, the host's fence. */
interface SimNode {
  id: string;
  address: string;
  powered: boolean;
  /** SIGSTOP of the coordinator: its timers wait, its discovery and host go on. */
  paused: boolean;
  /** The whole machine stopped: no HELLO sent or heard, no command taken. */
  frozen: boolean;
  /** Bumped at every power off: timers of an earlier life never fire. */
  gen: number;
  bootAt: number;
  skewMs: number;
  /** Owner busy: the node's timers fire this much late (its process starved of CPU). */
  lateMs: number;
  /** Timers that fell due while paused; they fire, in order, when it resumes. */
  deferred: Due[];
  /** Commands "sent" while paused: built with the epoch it had when it stopped, delivered on waking. */
  stalled: { command: string; epoch: number | undefined }[];
  epochAtPause: number | undefined;
  membership?: Membership;
  elector?: HeadElector;
  loop?: HeadLoop;
  guard?: FenceGuard;
  forward?: string;
  /** The epoch this node last announced to the hosts as head. */
  announced?: number;
}

const fmtTime = (ms: number) => (ms / 1000).toFixed(3).padStart(8);

/** A pino log line turned into `event k=v …`, without pino's own fields. */
function eventLine(o: Record<string, unknown>): string {
  const { level: _l, msg: _m, time: _t, event, ...rest } = o;
  const kv = Object.entries(rest)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
  return [String(event ?? 'log'), ...kv].join(' ');
}

/**
 * N nodes in one process on ONE virtual clock (issue 11 item 5; docs/head.md "Simulator"). Each node
 * runs the real `Membership` of discovery fed by simulated HELLOs, the real `HeadElector` stepped by
 * the real `HeadLoop` on virtual timers, and as a host the real `FenceGuard` (on a file in a temporary
 * folder); the lease is one `MemoryLeaseRecord` (the DNS store's compare-and-swap). Everything that
 * happens is one line of the event log: virtual time, who, what.
 */
export class World {
  t = 0;
  private seq = 0;
  private readonly queue: Due[] = [];
  private readonly nodes = new Map<string, SimNode>();
  private readonly cut = new Set<string>();
  private readonly record = new MemoryLeaseRecord();
  private readonly lines: string[] = [];
  private lastLease: { holder: string; epoch: number } | undefined;
  private twoHeads = '';
  private dir = '';

  constructor(private readonly list: CmdList) {
    list.nodes.forEach((id, i) => {
      this.nodes.set(id, { id, address: `10.0.0.${i + 1}`, powered: false, paused: false, frozen: false, gen: 0, bootAt: 0, skewMs: 0, lateMs: 0, deferred: [], stalled: [], epochAtPause: undefined });
    });
  }

  /** Runs the whole command list to its end; returns the event log. */
  async run(): Promise<string> {
    this.dir = await mkdtemp(join(tmpdir(), 'cps-head-sim-'));
    try {
      for (const c of this.list.commands) this.schedule(c.at, () => this.apply(c.cmd, c.text));
      const end = this.list.endAt;
      for (;;) {
        const next = this.pop();
        if (!next || next.at > end) break;
        this.t = next.at;
        await this.fire(next);
        this.checkHeads();
      }
      this.t = end;
      this.log('sim', 'end');
      return `${this.lines.join('\n')}\n`;
    } finally {
      await rm(this.dir, { recursive: true, force: true });
    }
  }

  // ── the virtual clock ──

  private schedule(at: number, fn: Due['fn'], node?: SimNode, part: Due['part'] = 'coordinator'): Due {
    const d: Due = { at, seq: ++this.seq, fn, node, gen: node?.gen, part };
    this.queue.push(d);
    return d;
  }

  private pop(): Due | undefined {
    let best = -1;
    for (let i = 0; i < this.queue.length; i++) {
      const q = this.queue[i]!;
      const b = this.queue[best];
      if (!b || q.at < b.at || (q.at === b.at && q.seq < b.seq)) best = i;
    }
    return best < 0 ? undefined : this.queue.splice(best, 1)[0];
  }

  private async fire(d: Due): Promise<void> {
    const n = d.node;
    if (n && (n.gen !== d.gen || !n.powered)) return;
    if (n && (n.frozen || (n.paused && d.part === 'coordinator'))) {
      n.deferred.push(d);
      return;
    }
    await d.fn();
    // Let every promise chain the call started (a loop's step on the in-memory store) settle before
    // the clock moves: a macrotask runs only once the microtask queue is empty.
    await new Promise<void>((r) => setImmediate(r));
  }

  private timersOf(n: SimNode, part: Due['part'] = 'coordinator'): LoopTimers {
    return {
      setTimeout: (fn, ms) => this.schedule(this.t + ms + n.lateMs, fn, n, part),
      clearTimeout: (h) => {
        const i = this.queue.indexOf(h as Due);
        if (i >= 0) this.queue.splice(i, 1);
      },
    };
  }

  private every(n: SimNode, ms: number, fn: () => void): void {
    const timers = this.timersOf(n, 'machine');
    const tick = () => {
      fn();
      timers.setTimeout(tick, ms);
    };
    timers.setTimeout(tick, 0);
  }

  // ── the log ──

  private log(who: string, what: string): void {
    this.lines.push(`${fmtTime(this.t)} ${who.padEnd(5)} ${what}`);
  }

  /** A pino logger whose lines become events of `who`. */
  private loggerFor(who: string): Logger {
    const out = new Writable({
      write: (chunk: Buffer, _enc, done) => {
        for (const l of chunk.toString().split('\n')) if (l) this.log(who, eventLine(JSON.parse(l) as Record<string, unknown>));
        done();
      },
    });
    return pino({ base: null, timestamp: false }, out);
  }

  // ── the network ──

  private key = (a: string, b: string) => (a < b ? `${a}|${b}` : `${b}|${a}`);
  private linked = (a: string, b: string) => !this.cut.has(this.key(a, b));

  /** A HELLO from `n` to every node that is on, awake and linked to it (lost otherwise). */
  private hello(n: SimNode): void {
    const info: NodeInfo = {
      nodeId: n.id,
      address: n.address,
      ports: { coordinator: 7000, discovery: 7001, provisioner: 7002, storage: 7003, vncGateway: 7004 },
      uptimeSec: (this.t - n.bootAt) / 1000,
    };
    const sentAt = this.t + n.skewMs;
    for (const m of this.nodes.values()) if (m !== n && m.powered && !m.frozen && this.linked(n.id, m.id)) m.membership!.observe(info, { sentAt });
  }

  /** The node's view of the lease record: the shared record, unless DNS is cut off from it. */
  private storeFor(n: SimNode): LeaseStore {
    const inner = this.record.store(n.address);
    const away = { result: 'unreachable' as const, detail: 'no route to DNS' };
    return {
      read: async () => (this.linked(n.id, 'dns') ? inner.read() : away),
      claim: async (token, next) => {
        if (!this.linked(n.id, 'dns')) return away;
        const w = await inner.claim(token, next);
        if (w.result === 'done' && (this.lastLease?.holder !== next.holder || this.lastLease.epoch !== next.epoch)) {
          this.lastLease = { holder: next.holder, epoch: next.epoch };
          this.log('dns', `lease holder=${next.holder} epoch=${next.epoch} address=${n.address}`);
        }
        return w;
      },
      release: async (token, ended) => {
        if (!this.linked(n.id, 'dns')) return away;
        const w = await inner.release(token, ended);
        if (w.result === 'done') {
          this.lastLease = undefined;
          this.log('dns', `lease released by ${ended.holder} epoch=${ended.epoch}`);
        }
        return w;
      },
    };
  }

  // ── nodes ──

  private async powerOn(n: SimNode): Promise<void> {
    if (n.powered) return;
    n.powered = true;
    n.paused = false;
    n.frozen = false;
    n.bootAt = this.t;
    n.deferred = [];
    n.stalled = [];
    n.forward = undefined;
    const now = () => this.t + n.skewMs;
    const timing = membershipTiming(this.list.timing.helloMs);
    const m = new Membership(n.id, now, timing);
    m.subscribe((e: PeerEvent) => this.log(n.id, `peer ${e.peer.nodeId} ${e.type}${e.reason ? ` (${e.reason})` : ''}`));
    n.membership = m;
    n.guard = await FenceGuard.open(join(this.dir, `${n.id}.epoch`), this.loggerFor(n.id));
    const { leaseMs, driftMs, renewMs } = this.list.timing;
    const guard = n.guard;
    n.elector = new HeadElector({ self: n.id, store: this.storeFor(n), now, timing: { leaseMs, driftMs, renewMs }, epochFloor: () => guard.highest, log: this.loggerFor(n.id) });
    n.loop = new HeadLoop({
      elector: n.elector,
      view: async () => ({ self: { nodeId: n.id, uptimeSec: (this.t - n.bootAt) / 1000 }, peers: m.list() }),
      timers: this.timersOf(n),
      everyMs: renewMs,
      onStatus: (s) => this.forwarding(n, s),
      log: this.loggerFor(n.id),
    });
    this.every(n, this.list.timing.helloMs, () => this.hello(n));
    this.every(n, timing.tickMs, () => m.tick());
    // The coordinator starts after discovery has had one HELLO round, as `cps up` starts them.
    this.timersOf(n).setTimeout(() => n.loop!.start(), this.list.timing.helloMs);
  }

  private powerOff(n: SimNode): void {
    n.powered = false;
    n.gen++;
    n.loop = undefined;
    n.elector = undefined;
  }

  /** Whom this node sends API and portal requests to: itself as head, the lease holder, or nobody. */
  private forwarding(n: SimNode, s: HeadStatus): void {
    if (s.role === 'head' && s.epoch !== n.announced) {
      // A new head's first act (the rule the wiring must keep, docs/head.md): show every host the
      // new epoch, so a command an older head still has in flight is refused from now on.
      n.announced = s.epoch;
      this.schedule(this.t, () => this.send(n, 'epoch', s.epoch), n);
    }
    // As head it serves requests itself; the epoch is part of what is logged, so a new term shows.
    const to = s.role === 'head' ? `self@${s.epoch}` : (s.head ?? 'nobody');
    if (to === n.forward) return;
    n.forward = to;
    this.log(n.id, s.role === 'head' ? `serves as head epoch=${s.epoch}` : `forwards to ${to}`);
  }

  /** The safety property: at most one node acts as head (awake, its term valid by its own clock). */
  private checkHeads(): void {
    const acting = [...this.nodes.values()]
      .filter((n) => n.powered && !n.paused && !n.frozen && n.elector?.commandEpoch() !== undefined)
      .map((n) => `${n.id}@${n.elector!.commandEpoch()}`)
      .join(' ');
    const two = acting.includes(' ') ? acting : '';
    if (two === this.twoHeads) return;
    this.twoHeads = two;
    this.log('sim', two ? `TWO HEADS ${two}` : 'one head again');
  }

  /** A command from `from` with `epoch` to every host, each checking it with its fence. */
  private async send(from: SimNode, command: string, epoch: number): Promise<void> {
    for (const h of this.nodes.values()) {
      if (!h.powered || h.frozen) {
        this.log(h.id, `missed ${command} from ${from.id} (host ${h.powered ? 'frozen' : 'off'})`);
        continue;
      }
      if (h !== from && !this.linked(from.id, h.id)) {
        this.log(h.id, `missed ${command} from ${from.id} (link cut)`);
        continue;
      }
      try {
        await h.guard!.admit(epoch, from.id);
        this.log(h.id, `obeyed ${command} from ${from.id} epoch=${epoch}`);
      } catch (e) {
        this.log(h.id, `refused ${command} from ${from.id}: ${(e as Error).message}`);
      }
    }
  }

  private async sendFrom(n: SimNode, command: string): Promise<void> {
    if (!n.powered) return this.log(n.id, `cannot send ${command} (off)`);
    if (n.paused || n.frozen) {
      n.stalled.push({ command, epoch: n.epochAtPause });
      return this.log(n.id, `${command} stalled (paused) epoch=${n.epochAtPause ?? 'none'}`);
    }
    const epoch = n.elector!.commandEpoch();
    if (epoch === undefined) return this.log(n.id, `does not send ${command}: not head`);
    await this.send(n, command, epoch);
  }

  // ── commands ──

  private async apply(c: Command, text: string): Promise<void> {
    this.log('sim', text);
    const node = 'node' in c ? this.nodes.get(c.node)! : undefined;
    switch (c.op) {
      case 'power-on':
        return this.powerOn(node!);
      case 'power-off':
        return this.powerOff(node!);
      case 'stop': {
        const n = node!;
        if (!n.powered || n.paused || n.frozen) return;
        await n.loop!.stop({ resign: true });
        for (const m of this.nodes.values()) if (m !== n && m.powered && !m.frozen && this.linked(n.id, m.id)) m.membership!.leave(n.id, this.t + n.skewMs);
        return this.powerOff(n);
      }
      case 'pause':
      case 'freeze': {
        const n = node!;
        if (!n.powered || n.paused || n.frozen) return;
        n.epochAtPause = n.elector?.commandEpoch();
        if (c.op === 'pause') n.paused = true;
        else n.frozen = true;
        return;
      }
      case 'resume':
      case 'thaw': {
        const n = node!;
        if (c.op === 'resume' ? !n.paused : !n.frozen) return;
        n.paused = false;
        n.frozen = false;
        // SIGCONT: what it was sending goes out first, then every timer that fell due, in order.
        const stalled = n.stalled.splice(0);
        for (const s of stalled) {
          if (s.epoch === undefined) this.log(n.id, `drops ${s.command}: was not head`);
          else await this.send(n, s.command, s.epoch);
        }
        for (const d of n.deferred.splice(0)) this.schedule(this.t, d.fn, n, d.part);
        return;
      }
      case 'owner-busy':
        node!.lateMs = c.lateMs;
        return;
      case 'owner-idle':
        node!.lateMs = 0;
        return;
      case 'skew':
        node!.skewMs = c.ms;
        return;
      case 'cut':
        this.cut.add(this.key(c.a, c.b));
        return;
      case 'heal':
        this.cut.delete(this.key(c.a, c.b));
        return;
      case 'partition':
        for (let i = 0; i < c.sides.length; i++)
          for (let j = i + 1; j < c.sides.length; j++) for (const a of c.sides[i]!) for (const b of c.sides[j]!) this.cut.add(this.key(a, b));
        return;
      case 'heal-all':
        this.cut.clear();
        return;
      case 'dns-down':
        this.record.down = true;
        return;
      case 'dns-up':
        this.record.down = false;
        return;
      case 'dns-clear':
        this.record.text = undefined;
        this.record.address = undefined;
        this.lastLease = undefined;
        return;
      case 'dns-set':
        this.record.text = c.text;
        this.lastLease = ((l) => (l ? { holder: l.holder, epoch: l.epoch } : undefined))(parseLease(c.text));
        return;
      case 'send':
        return this.sendFrom(node!, c.command);
      case 'head-sends': {
        const heads = [...this.nodes.values()].filter((n) => n.powered && (n.paused || n.frozen ? n.epochAtPause !== undefined : n.elector?.commandEpoch() !== undefined));
        if (!heads.length) return this.log('sim', `no head to send ${c.command}`);
        for (const n of heads) await this.sendFrom(n, c.command);
        return;
      }
      case 'end':
        return;
    }
  }
}
