import { Contract, healthRoutes, loopbackDoor, ProblemError, publicDoor, problemErrorHandler, problemNotFound, type DoorLists, type Logger } from '@cps/common';
import { specFiles, type ProvisionerClient, type VncGatewaySchemas } from '@cps/openapi';
import type { Duplex } from 'node:stream';
import { Hono, type Context } from 'hono';
import { provisionerTargets, type ResolveTarget } from './console-target.ts';
import { dialTcp, type DialVnc } from './dial.ts';
import { pageAssets, pageHeaders, renderConsolePage } from './page.ts';
import { assertConsoleOrigin } from './origin.ts';
import { consoleRoutes, dialPeerGateway, type DialPeer, type LocatePeer } from './peer-hop.ts';
import { ConsoleSession } from './session.ts';
import { SessionRegistry } from './sessions.ts';
import { novncRoot, staticFiles } from './static-files.ts';
import { noAuthFacade, vncLogin } from './vnc-auth.ts';
import type { UpgradeBindings } from './upgrade.ts';

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
  const params = contract.param<ConsolePath>('ConsolePath');
  const door = deps.door ?? loopbackDoor;

  const app = new Hono<{ Bindings: UpgradeBindings }>();
  app.onError(problemErrorHandler(log));
  app.notFound(problemNotFound);
  // The browser's doors: the Host must be one of this node's names (DNS rebinding), an upgrade's
  // Origin one of its origins. The member-only /hop carries no Origin and is not behind this.
  app.use('/console/*', publicDoor(door));
  app.route('/', healthRoutes('vnc-gateway', async () => ({ sessions: sessions.size })));

  app.get(`${mount}*`, async (c) => {
    // The raw path, still percent-encoded: decoding is assetPath's job, one segment at a time.
    const raw = new URL(c.req.url).pathname.slice(mount.length);
    const file = await novnc(raw);
    return c.body(file.body, 200, { 'content-type': file.type, 'cache-control': 'public, max-age=3600', 'x-content-type-options': 'nosniff' });
  });

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

  /** Dials the task's console (here, or through its host's gateway) and hands it to the WebSocket. */
  const openConsole = (hopped: boolean) => async (c: Context<{ Bindings: UpgradeBindings }>, taskId: string) => {
    const route = await routes(taskId, { hopped });
    let tcp: Duplex = route.kind === 'local' ? await dialVnc(route.target.host, route.target.port) : await dialPeer(route.gateway, taskId);
    if (route.kind === 'local' && route.target.password) {
      // The password stays here: the browser is shown a VNC server that asks for none.
      await vncLogin(tcp, route.target.password).catch((err) => {
        tcp.destroy();
        throw err;
      });
      tcp = noAuthFacade(tcp);
    }
    const upgrader = c.env?.upgrader;
    if (!upgrader) {
      // A plain GET is a diagnosis: it got this far, so an upgrade would have worked.
      tcp.destroy();
      throw new ProblemError('bad-request', `the console of ${taskId} is reachable; this endpoint needs a WebSocket upgrade (Upgrade: websocket)`);
    }
    const target = route.kind === 'local' ? route.target : { peer: route.gateway };
    const session = new ConsoleSession(tcp, { taskId, target, log });
    sessions.add(session);
    return upgrader.accept(
      (ws) => session.attach(ws),
      (reason) => session.abort(reason),
    );
  };

  // The cap is taken before any dial: a task's 5th console must not cost its guest a connection.
  app.get('/console/:taskId/websockify', params, sessions.capPerTask(), async (c) => {
    if (c.env?.upgrader) assertConsoleOrigin(c.req.header('origin'), door.origins);
    return openConsole(false)(c, c.req.valid('param').taskId);
  });

  // Members only (the door in front of the app): another gateway carrying a browser's console here.
  app.get('/hop/:taskId', params, sessions.capPerTask(), async (c) => openConsole(true)(c, c.req.valid('param').taskId));

  return app;
}

export type GatewayApp = ReturnType<typeof createApp>;
