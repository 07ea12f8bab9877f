import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { requestOfUpgrade, writeResponseTo, type GatedApp, type Logger } from '@cps/common';
import { pipeUpgrade, type LocalGateway } from './local-gateway.ts';

/**
 * Given to a console socket route (as `c.env.consoleUpgrade`) when the request asks for a
 * WebSocket: the route's checks run first (the door: Host, Origin; the path), and `accept()` lets
 * the upgrade go on to the local gateway.
 */
export interface ConsoleUpgrade {
  accept(): Response;
}

export type ConsoleUpgradeBindings = { consoleUpgrade?: ConsoleUpgrade };

/**
 * Routes the portal server's `upgrade` requests through the app behind the node's door (serveApp's
 * `gated`), so a console socket meets the same door and routes as a page; what the app accepts is
 * piped to this node's vnc-gateway, whose answer (101 or a problem) is the browser's.
 */
export function attachConsoleUpgrades(server: Server, gated: GatedApp, opts: { gateway: LocalGateway; log: Logger }): void {
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', (err) => opts.log.debug({ err: err.message }, 'console upgrade socket error'));
    handle(req, socket, head).catch((err) => {
      opts.log.error({ err }, 'console upgrade failed');
      socket.destroy();
    });
  });

  async function handle(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    let accepted = false;
    const consoleUpgrade: ConsoleUpgrade = {
      accept() {
        accepted = true;
        return new Response(null, { status: 200 });
      },
    };
    const wantsWs = req.headers.upgrade?.toLowerCase() === 'websocket';
    const request = requestOfUpgrade(req);
    const res = request ? await gated.fetch(request, wantsWs ? { incoming: req, consoleUpgrade } : { incoming: req }) : new Response('malformed request', { status: 400 });
    if (!accepted || res.status >= 300) return writeResponseTo(socket, res);
    pipeUpgrade(opts.gateway, req, socket, head, opts.log);
  }
}
