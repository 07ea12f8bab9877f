import type { IncomingMessage, Server } from 'node:http';
import { requestOfUpgrade, writeResponseTo } from '@cps/common';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';

/**
 * Given to a route (as `c.env.upgrader`) only when the request asks for `Upgrade: websocket`.
 * The route does its checks first and throws a ProblemError to refuse; calling `accept` completes
 * the handshake afterwards, and then exactly one of `onOpen` / `onAbort` runs.
 */
export interface Upgrader {
  accept(onOpen: (ws: WebSocket) => void, onAbort: (reason: string) => void): Response;
}

export type UpgradeBindings = { upgrader?: Upgrader };

/** The app behind the node's door (serveApp's `gated`), so an upgrade meets the same door as a request. */
interface FetchApp {
  fetch(req: Request, env: UpgradeBindings & { incoming: IncomingMessage } & Record<string, unknown>): Response | Promise<Response>;
}

/**
 * Routes the Node server's `upgrade` requests through the Hono app. Unlike `@hono/node-ws`, a
 * refusal keeps its body, so a client asking for an unknown console gets a problem+json 404 and
 * not an empty response.
 */
export function attachWebSockets(server: Server, app: FetchApp, opts: { log: Logger; maxPayload?: number }): WebSocketServer {
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: opts.maxPayload ?? 4 << 20,
    perMessageDeflate: false,
    // noVNC sends no subprotocol; old clients ask for `binary`, which is what we speak anyway.
    handleProtocols: (protocols) => (protocols.has('binary') ? 'binary' : false),
  });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', (err) => opts.log.debug({ err: err.message }, 'upgrade socket error'));
    handle(req, socket, head).catch((err) => {
      opts.log.error({ err }, 'upgrade failed');
      socket.destroy();
    });
  });

  async function handle(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    let pending: { onOpen: (ws: WebSocket) => void; onAbort: (reason: string) => void } | undefined;
    const upgrader: Upgrader = {
      accept(onOpen, onAbort) {
        pending = { onOpen, onAbort };
        return new Response(null, { status: 200 });
      },
    };
    const wantsWs = req.headers.upgrade?.toLowerCase() === 'websocket';
    const request = requestOfUpgrade(req);
    const res = request
      ? await app.fetch(request, wantsWs ? { upgrader, incoming: req } : { incoming: req })
      : new Response('malformed request', { status: 400 });

    if (!pending || res.status >= 300) {
      pending?.onAbort(`the upgrade was answered ${res.status}`);
      await writeResponseTo(socket, res);
      return;
    }
    const { onOpen, onAbort } = pending;
    if (socket.destroyed) return onAbort('the client left during the handshake');
    let opened = false;
    // ws answers a bad handshake itself and closes the socket without calling back.
    socket.once('close', () => opened || onAbort('the WebSocket handshake failed'));
    wss.handleUpgrade(req, socket, head, (ws) => {
      opened = true;
      onOpen(ws);
    });
  }

  return wss;
}
