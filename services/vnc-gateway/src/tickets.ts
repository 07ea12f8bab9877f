import type { MiddlewareHandler } from 'hono';
import { ProblemError } from '@cps/common';
import { TicketRefused, verifyConsoleTicket, type TicketClaims, type TicketKind } from '@cps/trust';

/** The header a gateway carries a browser's ticket in over the member-only hop. */
export const hopTicketHeader = 'x-cps-console-ticket';

/**
 * The ids of the tickets this gateway accepted, each until it expires: a ticket opens one console
 * once (a plain GET diagnosing a refusal uses one up too). Expired ids are dropped as new ones come,
 * so the memory is bounded by the tickets of the last 40 s.
 */
export class UsedTickets {
  private readonly ids = new Map<string, number>();

  use(claims: TicketClaims, now: Date): void {
    const t = now.getTime();
    for (const [id, until] of this.ids) if (until <= t) this.ids.delete(id);
    if (this.ids.has(claims.id)) throw new TicketRefused('replayed', 'the console ticket was used already (a ticket opens one console); get a new one');
    this.ids.set(claims.id, claims.expiresAt.getTime());
  }

  get size(): number {
    return this.ids.size;
  }
}

export type TicketEnv = { Variables: { ticket: TicketClaims } };

export interface TicketCheck {
  key: Uint8Array;
  used: UsedTickets;
  now: () => Date;
}

/**
 * Refuses (403 console-ticket-refused, with `reason`) a console request without a valid, unused
 * ticket for this task and kind, before anything is dialled; sets `c.var.ticket`. The browser sends
 * it as `?ticket=` (a WebSocket cannot carry headers), a peer's gateway in `x-cps-console-ticket`.
 */
export function requireTicket(kind: TicketKind, from: 'query' | 'hop', check: TicketCheck): MiddlewareHandler<TicketEnv> {
  return async (c, next) => {
    const taskId = c.req.param('taskId') ?? '';
    const raw = from === 'query' ? c.req.query('ticket') : c.req.header(hopTicketHeader);
    const now = check.now();
    try {
      const claims = await verifyConsoleTicket(check.key, raw, { taskId, kind, now });
      check.used.use(claims, now);
      c.set('ticket', claims);
    } catch (err) {
      if (!(err instanceof TicketRefused)) throw err;
      throw new ProblemError('console-ticket-refused', err.message, { reason: err.reason, taskId, kind });
    }
    await next();
  };
}
