// CPS's vnc-gateway as a process of its own (its CPU is measured), assembled from its real parts
// (createApp, SessionRegistry, attachWebSockets, serveApp) in front of the synthetic RFB source. The
// provisioner it asks is a stand-in naming two guests: t-stream and t-echo, on the source's ports.
// No node identity: the browser's side of a gateway is plain HTTP (the hop is not measured here).
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { createLogger, serveApp } from '@cps/common';
import { provisionerClient, viaApp, type ProvisionerSchemas } from '@cps/openapi';
import { Hono } from 'hono';
import { createApp } from '../../services/vnc-gateway/src/app.ts';
import { SessionRegistry } from '../../services/vnc-gateway/src/sessions.ts';
import { attachWebSockets } from '../../services/vnc-gateway/src/upgrade.ts';

const [streamPort, echoPort] = process.argv.slice(2).map(Number);
if (!streamPort || !echoPort) throw new Error('usage: gateway-main.ts <stream port> <echo port>');

const vm = (taskId: string, port: number): ProvisionerSchemas['Vm'] => ({
  taskId,
  domain: `cps-${taskId}`,
  name: taskId,
  state: 'running',
  vcpus: 1,
  memoryMiB: 128,
  accelerator: 'tcg',
  console: { vnc: { host: '127.0.0.1', port } },
});
const guests = new Map([
  ['t-stream', vm('t-stream', streamPort)],
  ['t-echo', vm('t-echo', echoPort)],
]);
const provisioner = new Hono();
provisioner.get('/vms/:taskId', (c) => {
  const v = guests.get(c.req.param('taskId'));
  return v ? c.json(v) : c.json({ type: 'urn:cps:problem:not-found', title: 'No such resource', status: 404 }, 404);
});

const log = createLogger('vnc-gateway');
const sessions = new SessionRegistry({ maxPerTask: 64, maxPerUser: 64 });
// The console-ticket key the bench client signs its tickets with (a node's is derived from its CA key).
const ticketKey = new Uint8Array(randomBytes(32));
const app = createApp({ provisioner: provisionerClient(viaApp(provisioner)), log, sessions, ticketKey });
const served = await serveApp(app, { port: 0, hostname: '127.0.0.1', log }, (server, gated) => attachWebSockets(server as Server, gated, { log }));
console.log(JSON.stringify({ port: served.port, ticketKey: Buffer.from(ticketKey).toString('hex') }));
process.on('SIGTERM', () => void sessions.closeAll('bench over').then(() => served.close()).then(() => process.exit(0)));
