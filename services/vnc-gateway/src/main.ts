import { createLogger, loadConfig, onShutdown, portsFrom, portsSchema, serveApp } from '@cps/common';
import { coordinatorClient, provisionerClient } from '@cps/openapi';
import type { Server } from 'node:http';
import { createApp } from './app.ts';
import { coordinatorLocator } from './peer-hop.ts';
import { SessionRegistry } from './sessions.ts';
import { attachWebSockets } from './upgrade.ts';

const log = createLogger('vnc-gateway');
const ports = portsFrom(loadConfig(portsSchema));
const sessions = new SessionRegistry();
const app = createApp({
  provisioner: provisionerClient({ baseUrl: `http://127.0.0.1:${ports.provisioner}` }),
  log,
  sessions,
  // A task this peer does not run may run elsewhere: the local coordinator knows where.
  locatePeer: coordinatorLocator(coordinatorClient({ baseUrl: `http://127.0.0.1:${ports.coordinator}` })),
});

const served = await serveApp(app, { port: ports.vncGateway, log }, (server) =>
  attachWebSockets(server as Server, app, { log }),
);

onShutdown(log, async () => {
  // Upgraded sockets are not the HTTP server's any more: end them before it closes.
  await sessions.closeAll('the VNC gateway is shutting down');
  await served.close();
});
