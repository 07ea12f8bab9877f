import { createParser, type EventSourceMessage } from 'eventsource-parser';
import type { Logger } from '@cps/common';
import type { DiscoveryClient } from '@cps/openapi';
import type { Timers } from './dispatcher.ts';

export interface PeerWatchDeps {
  /** This node's discovery: its GET /peers/events stream. */
  discovery: DiscoveryClient;
  /** Capacity may have come free somewhere: the queue should look again now. */
  onChange: (why: string) => void;
  timers: Timers;
  log: Logger;
  /** Reconnect backoff: the first wait, doubled per failure up to the last. */
  firstRetryMs?: number;
  maxRetryMs?: number;
}

type Resources = { vcpus: number; memoryMiB: number; diskMiB: number };
type PeerData = { nodeId?: string; free?: Resources };

/** A peer came (back): what it lends is new. */
const arrivals = new Set(['joined', 'alive']);
/** A peer went: forget what it lent. */
const departures = new Set(['dead', 'left']);

const grew = (before: Resources | undefined, after: Resources | undefined) =>
  after !== undefined && (before === undefined || after.vcpus > before.vcpus || after.memoryMiB > before.memoryMiB || after.diskMiB > before.diskMiB);

/** One event is a peer's JSON; a stream that sends more than this in one event is not discovery's. */
const maxEventChars = 1024 * 1024;

/**
 * Follows this node's discovery events and wakes the queue when a peer's capacity changes, so a
 * waiting task starts within a HELLO of the capacity freeing, not at the next periodic retry
 * (which stays, as the fallback for changes no event tells of). The stream is reopened after it
 * ends or fails, waiting longer after each failure in a row (injected timers) and starting over
 * once a stream has answered.
 */
export class PeerWatch {
  private closed = false;
  private failures = 0;
  private timer: unknown;
  private abort: AbortController | undefined;
  /** What each peer last said it had free: only more of something can let a waiting task start. */
  private readonly free = new Map<string, Resources | undefined>();

  constructor(private readonly d: PeerWatchDeps) {}

  start(): void {
    void this.connect();
  }

  close(): void {
    this.closed = true;
    this.abort?.abort();
    if (this.timer !== undefined) this.d.timers.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** How long to wait before the next try, after `failures` failed tries in a row. */
  static retryDelay(failures: number, firstMs = 500, maxMs = 30_000): number {
    return Math.min(maxMs, firstMs * 2 ** Math.min(failures, 20));
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    const abort = new AbortController();
    this.abort = abort;
    let why = 'the stream ended';
    try {
      const r = await this.d.discovery.GET('/peers/events', { parseAs: 'stream', signal: abort.signal });
      if (!r.response.ok || !r.data) throw new Error(`discovery answered HTTP ${r.response.status}`);
      let failed: Error | undefined;
      const parser = createParser({
        onEvent: (e) => this.onEvent(e),
        onError: (err) => (failed ??= err),
        maxBufferSize: maxEventChars,
      });
      const decoder = new TextDecoder();
      for await (const chunk of r.data as unknown as AsyncIterable<Uint8Array>) {
        parser.feed(decoder.decode(chunk, { stream: true }));
        if (failed) throw failed;
      }
    } catch (err) {
      if (this.closed) return;
      why = (err as Error).message;
    }
    if (this.closed) return;
    const delay = PeerWatch.retryDelay(this.failures++, this.d.firstRetryMs, this.d.maxRetryMs);
    this.d.log.warn({ why, retryInMs: delay }, 'peer events: reconnecting');
    this.timer = this.d.timers.setTimeout(() => {
      this.timer = undefined;
      void this.connect();
    }, delay);
  }

  /**
   * Wakes the queue after a snapshot (sent on each connect: anything may have changed while away),
   * a peer's arrival, or a capacity event in which some resource grew; a peer that took a task
   * (less free) changes nothing for the waiting ones, so it starts no round of vain PUBLISHes.
   */
  private onEvent(e: EventSourceMessage): void {
    // A stream that answers is a good one: the next failure starts the backoff over.
    this.failures = 0;
    let data: unknown;
    try {
      data = JSON.parse(e.data);
    } catch {
      return;
    }
    if (e.event === 'snapshot') {
      const items = (data as { items?: PeerData[] }).items;
      this.free.clear();
      if (Array.isArray(items)) for (const p of items) if (typeof p?.nodeId === 'string') this.free.set(p.nodeId, p.free);
      return this.d.onChange('snapshot');
    }
    const peer = (data as { peer?: PeerData }).peer;
    if (typeof peer?.nodeId !== 'string') return;
    const before = this.free.get(peer.nodeId);
    if (departures.has(e.event ?? '')) return void this.free.delete(peer.nodeId);
    if (!arrivals.has(e.event ?? '') && e.event !== 'capacity') return;
    this.free.set(peer.nodeId, peer.free);
    if (arrivals.has(e.event!) || grew(before, peer.free)) this.d.onChange(e.event!);
  }
}
