import { publicDoorOptions, publicDoorVars } from '@cps/common';
import { createLogger, dataDirVar, doorLists, loadConfig, memberClientTls, memberFetch, onShutdown, portsFrom, portsSchema, publicHostsVar, publicRoutesOfFile, serveApp, serviceUrl, serialSocketDir } from '@cps/common';
import { coordinatorClient, provisionerClient, specFiles } from '@cps/openapi';
import { consoleTicketKey, loadCa, loadTrustOrExit } from '@cps/trust';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Server } from 'node:http';
import { z } from 'zod';
import { createApp } from './app.ts';
import { defaultIdleSec } from './idle-watch.ts';
import { coordinatorLocator, dialPeerGateway } from './peer-hop.ts';
import { defaultMaxConsolesPerTask, defaultMaxConsolesPerUser, SessionRegistry } from './sessions.ts';
import { attachWebSockets } from './upgrade.ts';

const log = createLogger('vnc-gateway');
const config = loadConfig(
  portsSchema.extend({
    // Plain HTTP from loopback only, and the admin's certificate for the public port (CPS_PUBLIC_TLS_*).
    ...publicDoorVars,
    CPS_DATA_DIR: dataDirVar,
    CPS_ADVERTISE_ADDRESS: z.string().regex(/^[A-Za-z0-9.:-]{1,64}$/).default('127.0.0.1'),
    CPS_PUBLIC_HOSTS: publicHostsVar,
    // A guest's VNC server serves a handful of viewers; the next one is told so, not dropped.
    CPS_CONSOLE_MAX_PER_TASK: z.coerce.number().int().min(1).max(64).default(defaultMaxConsolesPerTask),
    // One user's consoles on this gateway, of all their tasks, desktops and serial together.
    CPS_CONSOLE_MAX_PER_USER: z.coerce.number().int().min(1).max(256).default(defaultMaxConsolesPerUser),
    // A console nobody types into is closed after this long (seconds).
    CPS_CONSOLE_IDLE_SEC: z.coerce.number().int().min(10).max(7 * 24 * 3600).default(defaultIdleSec),
  }),
);
const ports = portsFrom(config);
const trust = loadTrustOrExit(config.CPS_DATA_DIR, { log });
const fetch = memberFetch(trust.tls);
const sessions = new SessionRegistry({ maxPerTask: config.CPS_CONSOLE_MAX_PER_TASK, maxPerUser: config.CPS_CONSOLE_MAX_PER_USER });
const app = createApp({
  provisioner: provisionerClient({ baseUrl: serviceUrl('127.0.0.1', ports.provisioner), fetch }),
  log,
  sessions,
  // A task this peer does not run may run elsewhere: the local coordinator knows where.
  locatePeer: coordinatorLocator(coordinatorClient({ baseUrl: serviceUrl('127.0.0.1', ports.coordinator), fetch })),
  dialPeer: dialPeerGateway(memberClientTls(trust.tls)),
  // The provisioner makes each guest's serial socket there.
  serialSocketDir: serialSocketDir(config.CPS_DATA_DIR),
  idleMs: config.CPS_CONSOLE_IDLE_SEC * 1000,
  // The coordinators of every member sign console tickets with this key (derived from the CA key).
  ticketKey: consoleTicketKey(loadCa(config.CPS_DATA_DIR).keyPem),
  door: doorLists({ port: ports.vncGateway, advertiseAddress: config.CPS_ADVERTISE_ADDRESS, nodeId: trust.identity.nodeId, hostName: hostname(), publicHosts: config.CPS_PUBLIC_HOSTS }),
});

// The console page and the browser's socket are public (the contract says why); the hop between
// gateways is for members, over the cluster's mutual TLS on the same port.
const served = await serveApp(app, { port: ports.vncGateway, log, tls: trust.tls, publicRoutes: publicRoutesOfFile(specFiles.vncGateway), ...publicDoorOptions(config) }, (server, gated) =>
  attachWebSockets(server as Server, gated, { log }),
);

onShutdown(log, async () => {
  // Upgraded sockets are not the HTTP server's any more: end them before it closes.
  await sessions.closeAll('the VNC gateway is shutting down');
  trust.stop();
  await served.close();
});
