import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { EventBus, VmEvent } from './events.ts';

const KEEPALIVE_MS = 15_000;

/** GET /events: the replay window, then live events, each as `event: <kind>` + JSON data. */
export function eventStream(c: Context, bus: EventBus): Response {
  return streamSSE(c, async (stream) => {
    const queue: VmEvent[] = [...bus.recent()];
    let wake: (() => void) | undefined;
    const unsubscribe = bus.subscribe((e) => {
      queue.push(e);
      wake?.();
    });
    let open = true;
    stream.onAbort(() => {
      open = false;
      wake?.();
    });
    const keepalive = setInterval(() => {
      void stream.write(': keepalive\n\n').catch(() => undefined);
    }, KEEPALIVE_MS);
    try {
      while (open) {
        while (queue.length > 0) {
          const e = queue.shift()!;
          await stream.writeSSE({ event: e.kind, id: String(e.id), data: JSON.stringify(e) });
        }
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
      }
    } finally {
      clearInterval(keepalive);
      unsubscribe();
    }
  });
}
