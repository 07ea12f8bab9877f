import { issueConsoleTicket, maxTicketTtlSec, type TicketKind } from '@cps/trust';
import type { CoordinatorSchemas } from '@cps/openapi';
import type { User } from '../accounts/types.ts';
import { consoleSocketPath } from './paths.ts';

type ConsoleTicket = CoordinatorSchemas['ConsoleTicket'];

export interface ConsoleTicketsDeps {
  /** `consoleTicketKey` of the cluster CA's key: every member's gateway checks with the same. */
  key: Uint8Array;
  now: () => Date;
  ttlSec?: number;
}

/** Issues the tickets a browser opens a console with (the gateways check them). */
export class ConsoleTickets {
  constructor(private readonly deps: ConsoleTicketsDeps) {}

  async issue(taskId: string, user: User, kind: TicketKind): Promise<ConsoleTicket> {
    const { ticket, claims } = await issueConsoleTicket(this.deps.key, {
      taskId,
      kind,
      userId: user.id,
      userName: user.name,
      now: this.deps.now(),
      ttlSec: this.deps.ttlSec ?? maxTicketTtlSec,
    });
    return { ticket, expiresAt: claims.expiresAt.toISOString(), url: `${consoleSocketPath(taskId, kind)}?ticket=${encodeURIComponent(ticket)}` };
  }
}
