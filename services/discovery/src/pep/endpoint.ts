import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics.ts';
import { decode, encode, PepDecodeError, type PepAuth } from './codec.ts';
import type { Bodies, MsgType, PepMessage } from './messages.ts';
import { ReplayGuard } from './replay.ts';
import type { Rinfo, Transport } from './socket.ts';

export type Outgoing = { [T in MsgType]: { type: T; taskId: string; seq: number; flags?: number; body: Bodies[T] } }[MsgType];
export type Handler = (msg: PepMessage, rinfo: Rinfo) => void;

/**
 * One node's PEP endpoint: stamps and signs what it sends, authenticates and decodes what it
 * receives. A bad packet is counted by reason and logged at debug, never thrown: on a shared
 * LAN, garbage on the port is expected weather, not an incident.
 */
export interface EndpointOptions {
  transport: Transport;
  auth: PepAuth;
  nodeId: string;
  metrics: Metrics;
  log: Logger;
  now?: () => number;
  /** Packets whose timestamp is further than this from our clock are dropped (stale/future). */
  replayWindowMs?: number;
}

export class PepEndpoint {
  private readonly handlers = new Set<Handler>();
  private readonly replay: ReplayGuard;
  private readonly now: () => number;

  constructor(private readonly o: EndpointOptions) {
    this.now = o.now ?? Date.now;
    this.replay = new ReplayGuard({ windowMs: o.replayWindowMs ?? 30_000 });
    o.metrics.gauge('pep_replay_nonces', 'Nonces remembered for replay protection', () => this.replay.size());
    o.transport.onMessage((buf, rinfo) => this.receive(buf, rinfo));
  }

  get nodeId(): string {
    return this.o.nodeId;
  }

  send(m: Outgoing, to?: Rinfo): void {
    const msg = {
      ...m,
      flags: m.flags ?? 0,
      sender: this.o.nodeId,
      timestampMs: this.now(),
      nonce: randomBytes(8),
    } as PepMessage;
    this.o.transport.send(encode(msg, this.o.auth), to);
    this.o.metrics.inc('pep_packets_sent_total', 'PEP packets sent, by type', { type: m.type });
  }

  /** Subscribes to decoded messages; returns the unsubscribe function. */
  on(h: Handler): () => void {
    this.handlers.add(h);
    return () => this.handlers.delete(h);
  }

  private receive(buf: Buffer, rinfo: Rinfo): void {
    let msg: PepMessage;
    try {
      msg = decode(buf, this.o.auth, (h) => this.replay.check(h.sender, h.timestampMs, h.nonce, this.now()));
    } catch (err) {
      const reason = err instanceof PepDecodeError ? err.reason : 'internal';
      this.o.metrics.inc('pep_packets_dropped_total', 'PEP packets dropped, by reason', { reason });
      this.o.log.debug({ event: 'warning', reason, from: rinfo, bytes: buf.length, detail: (err as Error).message }, 'PEP packet dropped');
      return;
    }
    this.o.metrics.inc('pep_packets_received_total', 'PEP packets accepted, by type', { type: msg.type });
    for (const h of this.handlers) {
      try {
        h(msg, rinfo);
      } catch (err) {
        this.o.log.error({ err, type: msg.type, sender: msg.sender }, 'PEP handler failed');
      }
    }
  }
}
