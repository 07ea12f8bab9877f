import type { IncomingMessage } from 'node:http';
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { ProblemError } from '@cps/common';
import type { AuthEnv } from '../accounts/authenticate.ts';
import { forwardGet, type LocalGateway } from '../console/local-gateway.ts';
import type { ConsoleTickets } from '../console/tickets.ts';
import type { ConsoleUpgradeBindings } from '../console/upgrade.ts';
import { requireOwned } from '../tasks/ownership.ts';
import type { Tasks } from '../tasks/tasks.ts';
import { contractBody } from './body.ts';
import type { CoordinatorContract } from './contract.ts';

export interface ConsoleRoutesDeps {
  contract: CoordinatorContract;
  tasks: Tasks;
  tickets: ConsoleTickets;
  /** This node's vnc-gateway, which the console pages and sockets are carried to. */
  gateway: LocalGateway;
  /** Who may get a ticket and open a console page (authenticate, then requireUser). */
  signedIn: MiddlewareHandler<AuthEnv>[];
}

type Env = AuthEnv & { Bindings: ConsoleUpgradeBindings & { incoming?: IncomingMessage } };

/**
 * The consoles on the portal's origin: tickets for the signed-in owner (or an admin), and the
 * pages, assets and sockets of this node's vnc-gateway carried through (handlers stay thin; the
 * carrying is console/local-gateway.ts, the checking of tickets the gateway's).
 */
export function consoleRoutes({ contract, tasks, tickets, gateway, signedIn }: ConsoleRoutesDeps) {
  const app = new Hono<Env>();
  const from = (c: Context<Env>) => c.env?.incoming?.socket.remoteAddress;
  const rawPath = (c: Context<Env>) => {
    const u = new URL(c.req.url);
    return `${u.pathname}${u.search}`;
  };
  /** The task of `:taskId` if the caller may open its consoles: its owner or an admin (another's is 404). */
  const ownedTask = (c: Context<Env>) => {
    const id = contract.check('TaskId', c.req.param('taskId'), 'path/taskId');
    return requireOwned(c.var.user, tasks.get(id), id);
  };

  for (const mw of signedIn) app.use('/api/tasks/:taskId/console-ticket', mw);
  app.post('/api/tasks/:taskId/console-ticket', async (c) => {
    const user = c.var.user;
    if (!user) throw new ProblemError('authentication-required', 'a console ticket is for a signed-in user');
    const task = ownedTask(c);
    const { kind } = await contractBody(c, contract, 'ConsoleTicketRequest');
    if (task.state !== 'running' || !task.node) throw new ProblemError('conflict', `task ${task.id} has no running guest (it is ${task.state}); a console needs one`);
    return c.json(await tickets.issue(task.id, user, kind), 201, { 'cache-control': 'no-store' });
  });

  // The pages: only for whoever may open the task's consoles, so a stranger learns nothing of it.
  for (const page of ['/console/:taskId', '/serial/:taskId'] as const) {
    for (const mw of signedIn) app.use(page, mw);
    app.get(page, async (c) => {
      ownedTask(c);
      return forwardGet(gateway, rawPath(c), from(c));
    });
  }

  // The sockets: the ticket in the URL is the key, and the gateway checks it; a plain GET is the
  // page's diagnosis of a refused upgrade (the same checks, answered in problem+json).
  for (const socket of ['/console/:taskId/websockify', '/serial/:taskId/socket'] as const) {
    app.get(socket, async (c) => {
      contract.check('TaskId', c.req.param('taskId'), 'path/taskId');
      const upgrade = c.env?.consoleUpgrade;
      if (upgrade) return upgrade.accept();
      return forwardGet(gateway, rawPath(c), from(c));
    });
  }

  // The libraries and the pages' own script and style: fixed files, the gateway's to serve.
  for (const prefix of ['/novnc/*', '/xterm/*', '/console-assets/*'] as const) {
    app.get(prefix, (c) => forwardGet(gateway, new URL(c.req.url).pathname, undefined));
  }
  return app;
}
