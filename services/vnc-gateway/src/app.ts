import { Contract, healthRoutes, loopbackDoor, ProblemError, publicDoor, problemErrorHandler, problemNotFound, type Caller, type DoorLists, type Logger } from '@cps/common';
import { specFiles, type ProvisionerClient, type VncGatewaySchemas } from '@cps/openapi';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { provisionerTargets, type ResolveTarget } from './console-target.ts';
import { dialTcp, dialUnix, type DialSerial, type DialVnc } from './dial.ts';
import { defaultIdleSec, realTimers, type Timers } from './idle-watch.ts';
import { pageAssets, pageHeaders, renderConsolePage, renderSerialPage, serialPageHeaders } from './page.ts';
import { assertConsoleOrigin } from './origin.ts';
import { consoleRoutes, dialPeerGateway, type ConsoleRoute, type DialPeer, type LocatePeer } from './peer-hop.ts';
import { SerialHubs } from './serial-hub.ts';
import { provisionerSerials, type ResolveSerial } from './serial-target.ts';
import { ConsoleSession, type ConsoleKind, type SessionTarget } from './session.ts';
import { SessionRegistry } from './sessions.ts';
import { novncRoot, staticFiles, xtermRoot } from './static-files.ts';
import { noAuthFacade, vncLogin } from './vnc-auth.ts';
import type { UpgradeBindings } from './upgrade.ts';
import { requireTicket, UsedTickets, type TicketEnv } from './tickets.ts';

export interface GatewayDeps {
  /** The local provisioner, which knows each guest's VNC port. */
  provisioner: ProvisionerClient;
  log: Logger;
  /** Opens the TCP connection to a guest's VNC server; tests pass their own. */
  dialVnc?: DialVnc;
  /** Where a task's VNC server is on this peer; by default asked of `provisioner`. */
  resolveTarget?: ResolveTarget;
  /** Which peer's gateway runs a task this peer does not know; without it there is no hop. */
  locatePeer?: LocatePeer;
  /** Opens a console through a peer's gateway; tests pass their own. */
  dialPeer?: DialPeer;
  sessions?: SessionRegistry;
  /** The noVNC package folder; by default the installed `@novnc/novnc`. */
  novncDir?: string;
  /** The names and origins this gateway is reached by (doorLists); default: loopback names, any port. */
  door?: DoorLists;
  /** The folder of this node's guests' serial sockets (CPS_DATA_DIR/serial); no other socket is dialled. */
  serialSocketDir?: string;
  /** Where a task's serial socket is on this peer; by default asked of `provisioner`. */
  resolveSerial?: ResolveSerial;
  /** Connects to a guest's serial socket; tests pass their own. */
  dialSerial?: DialSerial;
  /** The shared connections to the guests' serial sockets; built from `dialSerial` by default. */
  serialHubs?: SerialHubs;
  /** The xterm.js package folder; by default the installed `@xterm/xterm`. */
  xtermDir?: string;
  /** A console without input this long is closed (CPS_CONSOLE_IDLE_SEC); default 15 min. */
  idleMs?: number;
  now?: () => Date;
  timers?: Timers;
  /**
   * The cluster's console-ticket key (`consoleTicketKey` of the CA key, the same on every member):
   * every console socket needs a ticket the coordinator signed with it.
   */
  ticketKey: Uint8Array;
  /** The tickets already used here; a fresh memory by default. */
  usedTickets?: UsedTickets;
}

type Bindings = UpgradeBindings & { incoming?: IncomingMessage; caller?: Caller };
type Env = { Bindings: Bindings } & TicketEnv;

/**
 * Who opens a console, for the log line: the browser's address; for the portal's proxy (a member
 * on loopback) the address it forwards; for a hop, the member's node.
 */
function openedFrom(c: Context<Env>, hopped: boolean): string | undefined {
  const caller = c.env?.caller;
  if (caller?.kind !== 'member') return c.env?.incoming?.socket.remoteAddress;
  const forwarded = c.req.header('x-forwarded-for')?.split(',')[0]?.trim().slice(0, 64);
  return !hopped && forwarded ? `${forwarded} via member ${caller.nodeId}` : `member ${caller.nodeId}`;
}

type ConsolePath = VncGatewaySchemas['ConsolePath'];
const contract = Contract.fromFile(specFiles.vncGateway);
const mount = '/novnc/';

export function createApp(deps: GatewayDeps) {
  const { log } = deps;
  const routes = consoleRoutes(deps.resolveTarget ?? provisionerTargets(deps.provisioner), deps.locatePeer);
  const dialVnc = deps.dialVnc ?? dialTcp();
  const dialPeer = deps.dialPeer ?? dialPeerGateway();
  const sessions = deps.sessions ?? new SessionRegistry();
  const novnc = staticFiles(deps.novncDir ?? novncRoot(), ['core', 'vendor']);
  const xterm = staticFiles(deps.xtermDir ?? xtermRoot(), ['lib', 'css']);
  const params = contract.param<ConsolePath>('ConsolePath');
  const door = deps.door ?? loopbackDoor;
  const timers = deps.timers ?? realTimers;
  const now = deps.now ?? (() => new Date());
  const idleMs = deps.idleMs ?? defaultIdleSec * 1000;
  const serialRoutes = consoleRoutes(deps.resolveSerial ?? provisionerSerials(deps.provisioner, deps.serialSocketDir ?? '/var/lib/cps/serial'), deps.locatePeer);
  const hubs = deps.serialHubs ?? new SerialHubs({ dial: deps.dialSerial ?? dialUnix(), log, timers });
  const tickets = { key: deps.ticketKey, used: deps.usedTickets ?? new UsedTickets(), now };

  const app = new Hono<Env>();
  app.onError(problemErrorHandler(log));
  app.notFound(problemNotFound);
  // The browser's doors: the Host must be one of this node's names (DNS rebinding), an upgrade's
  // Origin one of its origins. The member-only /hop carries no Origin and is not behind this.
  // Nor is a member here: the portal on this node proxies its users' consoles over mutual TLS,
  // after its own door checked the browser's Host and Origin against the portal's names.
  const browserDoor = publicDoor(door);
  const doorForBrowsers: MiddlewareHandler<Env> = (c, next) => (c.env?.caller?.kind === 'member' ? next() : browserDoor(c, next));
  app.use('/console/*', doorForBrowsers);
  app.use('/serial/*', doorForBrowsers);
  const browserOrigin: MiddlewareHandler<Env> = async (c, next) => {
    if (c.env?.upgrader && c.env.caller?.kind !== 'member') assertConsoleOrigin(c.req.header('origin'), door.origins);
    await next();
  };
  app.route('/', healthRoutes('vnc-gateway', async () => ({ sessions: sessions.size, serialSockets: hubs.size })));

  for (const [at, files] of [[mount, novnc], ['/xterm/', xterm]] as const) {
    app.get(`${at}*`, async (c) => {
      // The raw path, still percent-encoded: decoding is assetPath's job, one segment at a time.
      const raw = new URL(c.req.url).pathname.slice(at.length);
      const file = await files(raw);
      return c.body(file.body, 200, { 'content-type': file.type, 'cache-control': 'public, max-age=3600', 'x-content-type-options': 'nosniff' });
    });
  }

  app.get('/console-assets/:name', (c) => {
    const asset = pageAssets.get(c.req.param('name'));
    if (!asset) throw new ProblemError('not-found', `no console asset ${c.req.param('name')}`);
    return c.body(asset.body, 200, { 'content-type': asset.type, 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' });
  });

  app.get('/console/:taskId', params, async (c) => {
    const { taskId } = c.req.valid('param');
    // The page is the same on every peer; a hopped console differs only behind its WebSocket.
    await routes(taskId, { hopped: false });
    return c.html(renderConsolePage(taskId), 200, pageHeaders);
  });

  app.get('/serial/:taskId', params, async (c) => {
    const { taskId } = c.req.valid('param');
    await serialRoutes(taskId, { hopped: false });
    return c.html(renderSerialPage(taskId), 200, serialPageHeaders);
  });

  /** Dials the task's console (here, or through its host's gateway) and hands it to the WebSocket. */
  const openConsole = (kind: ConsoleKind, hopped: boolean) => async (c: Context<Env>, taskId: string) => {
    let opened: { stream: Duplex; target: SessionTarget };
    // The far gateway checks the same ticket itself (it is signed; its own memory has not seen it).
    const ticket = c.req.query('ticket');
    if (kind === 'vnc') {
      const route = await routes(taskId, { hopped });
      opened =
        route.kind === 'peer'
          ? { stream: await dialPeer(route.gateway, taskId, 'vnc', ticket), target: { peer: route.gateway } }
          : await dialLocalScreen(route.target);
    } else {
      const route = await serialRoutes(taskId, { hopped });
      opened =
        route.kind === 'peer'
          ? { stream: await dialPeer(route.gateway, taskId, 'serial', ticket), target: { peer: route.gateway } }
          : { stream: await hubs.viewer(taskId, route.target.socket), target: route.target };
    }
    const { stream, target } = opened;
    const upgrader = c.env?.upgrader;
    if (!upgrader) {
      // A plain GET is a diagnosis: it got this far, so an upgrade would have worked.
      stream.destroy();
      throw new ProblemError('bad-request', `the ${kind === 'vnc' ? 'console' : 'serial console'} of ${taskId} is reachable; this endpoint needs a WebSocket upgrade (Upgrade: websocket)`);
    }
    const who = c.var.ticket;
    const user = `${who.userName} (${who.userId})`;
    const session = new ConsoleSession(stream, { taskId, kind, target, from: openedFrom(c, hopped), user, log, now, timers, idleMs });
    sessions.add(session, kind, who.userId);
    return upgrader.accept(
      (ws) => session.attach(ws),
      (reason) => session.abort(reason),
    );
  };

  /** TCP to a guest's VNC server on this peer, logged in for the user. */
  const dialLocalScreen = async (t: { host: string; port: number; password?: string }): Promise<{ stream: Duplex; target: SessionTarget }> => {
    let tcp: Duplex = await dialVnc(t.host, t.port);
    if (t.password) {
      // The password stays here: the browser is shown a VNC server that asks for none.
      await vncLogin(tcp, t.password).catch((err) => {
        tcp.destroy();
        throw err;
      });
      tcp = noAuthFacade(tcp);
    }
    return { stream: tcp, target: t };
  };

  // Origin, then the ticket, then the caps, all before any dial: a socket without a valid ticket
  // never reaches the guest or the hop, and a task's 5th console must not cost its guest a connection.
  const vncTicket = requireTicket('vnc', 'query', tickets);
  const serialTicket = requireTicket('serial', 'query', tickets);
  app.get('/console/:taskId/websockify', params, browserOrigin, vncTicket, sessions.capPerUser(), sessions.capPerTask('vnc'), async (c) =>
    openConsole('vnc', false)(c, c.req.valid('param').taskId),
  );
  app.get('/serial/:taskId/socket', params, browserOrigin, serialTicket, sessions.capPerUser(), sessions.capPerTask('serial'), async (c) =>
    openConsole('serial', false)(c, c.req.valid('param').taskId),
  );

  // Members only (the door in front of the app): another gateway carrying a browser's console
  // here, with the browser's ticket in `x-cps-console-ticket` (who it is, for the caps and the log).
  app.get('/hop/:taskId', params, requireTicket('vnc', 'hop', tickets), sessions.capPerUser(), sessions.capPerTask('vnc'), async (c) => openConsole('vnc', true)(c, c.req.valid('param').taskId));
  app.get('/hop/:taskId/serial', params, requireTicket('serial', 'hop', tickets), sessions.capPerUser(), sessions.capPerTask('serial'), async (c) =>
    openConsole('serial', true)(c, c.req.valid('param').taskId),
  );

  return app;
}

export type GatewayApp = ReturnType<typeof createApp>;
