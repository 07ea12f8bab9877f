import { sseFeed } from '@cps/common';
import type { Context } from 'hono';
import type { EventBus, VmEvent } from './events.ts';

const asSse = (e: VmEvent) => ({ event: e.kind, id: String(e.id), data: e });

/** GET /events: the replay window, then live events, each as `event: <kind>` + JSON data. */
export function eventStream(c: Context, bus: EventBus): Response {
  return sseFeed(c, { initial: () => bus.recent().map(asSse), subscribe: (push) => bus.subscribe((e) => push(asSse(e))) });
}
