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

/**
 * The events after which a waiting task may fit: a peer lends other capacity, a peer came (back),
 * or the view was sent whole (after a reconnect: anything may have changed meanwhile).
 */
const wakes = new Set(['capacity', 'joined', 'alive', 'snapshot']);

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

  private onEvent(e: EventSourceMessage): void {
    // A stream that answers is a good one: the next failure starts the backoff over.
    this.failures = 0;
    if (!e.event || !wakes.has(e.event)) return;
    this.d.onChange(e.event);
  }
}
