import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';

export interface SseEvent {
  event: string;
  data: unknown;
  id?: string;
}

export interface SseFeed {
  /** What a new client is sent first (a snapshot, or a replay window). */
  initial: () => SseEvent[];
  /** Live events; returns the unsubscribe function. */
  subscribe: (push: (e: SseEvent) => void) => () => void;
  heartbeatMs?: number;
}

/**
 * One server-sent-event stream: the initial events, then live ones, in the order they happened
 * however slow the client, with a heartbeat comment so proxies keep an idle stream open. Subscribing
 * and taking the initial events happen in one tick, so no event falls between them.
 */
export function sseFeed(c: Context, feed: SseFeed): Response {
  return streamSSE(c, async (stream) => {
    let chain: Promise<unknown> = stream.write('retry: 3000\n\n');
    const write = (fn: () => Promise<unknown>) => {
      chain = chain.then(fn).catch(() => undefined);
    };
    const send = (e: SseEvent) =>
      write(() => stream.writeSSE({ event: e.event, data: JSON.stringify(e.data), ...(e.id !== undefined ? { id: e.id } : {}) }));
    const unsubscribe = feed.subscribe(send);
    for (const e of feed.initial()) send(e);
    const heartbeat = setInterval(() => write(() => stream.write(': heartbeat\n\n')), feed.heartbeatMs ?? 15_000);
    try {
      await new Promise<void>((resolve) => {
        if (stream.aborted) resolve();
        stream.onAbort(resolve);
      });
    } finally {
      clearInterval(heartbeat);
      unsubscribe();
    }
  });
}
