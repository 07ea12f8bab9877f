import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server } from 'node:http';
import { createLogger, memberClientTls, memberFetch, publicRoutesOfFile, serveApp, type ClusterTls, type Served } from '@cps/common';
import { discoveryClient, provisionerClient, specFiles, storageClient, viaApp, type ProvisionerSchemas } from '@cps/openapi';
import { consoleTicketKey, createCa } from '@cps/trust';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createApp as gatewayApp } from '../../vnc-gateway/src/app.ts';
import { SessionRegistry } from '../../vnc-gateway/src/sessions.ts';
import { attachWebSockets } from '../../vnc-gateway/src/upgrade.ts';
import { fakeProvisioner, fakeVncServer, memoryLogger, vm, type FakeVnc } from '../../vnc-gateway/test/fakes.ts';
import { issueMember } from '../../../tests/helpers/hosts-identity.ts';
import { Accounts } from '../src/accounts/accounts.ts';
import { MemoryAccountStore } from '../src/accounts/memory-store.ts';
import { createApp } from '../src/app.ts';
import { consoleUrl } from '../src/clients.ts';
import { ConsoleTickets } from '../src/console/tickets.ts';
import { attachConsoleUpgrades } from '../src/console/upgrade.ts';
import { Placer } from '../src/placement.ts';
import { Tasks } from '../src/tasks/tasks.ts';

// One way in, over real sockets: the portal (the coordinator's port) issues console tickets and
// carries the console page and its WebSocket to this node's real vnc-gateway over mutual TLS; the
// gateway checks the ticket and bridges to a (fake) VNC server. Nothing but loopback.
const gwLog = memoryLogger();
const log = createLogger('console-test', 'silent');
const ports = { coordinator: 1, discovery: 2, provisioner: 3, storage: 4, vncGateway: 5 };
const vms = new Map<string, ProvisionerSchemas['Vm']>();
const sessions = new SessionRegistry();
const serialDir = mkdtempSync(join(tmpdir(), 'cps-console-'));
let tls: ClusterTls;
let vnc: FakeVnc;
let gateway: Served;
let portal: Served;
let tasks: Tasks;
let accounts: Accounts;
const tokens: Record<string, string> = {};
let aliceTask: string;
let stoppedTask: string;

beforeAll(async () => {
  const ca = await createCa({ now: new Date() });
  tls = await issueMember(ca, 'node-a', ['127.0.0.1']);
  const key = consoleTicketKey(ca.keyPem);
  vnc = await fakeVncServer();

  tasks = new Tasks();
  accounts = new Accounts({ store: new MemoryAccountStore(), now: () => new Date() });
  const admin = (await accounts.ensureFirstAdmin())!.user;
  const alice = await accounts.createUser({ name: 'alice', password: 'alice-password-1' });
  const bob = await accounts.createUser({ name: 'bob', password: 'bob-password-12' });
  for (const [who, u] of Object.entries({ admin, alice, bob })) tokens[who] = (await accounts.createToken(u.id, 'test')).value;
  const running = (owner: { id: string; name: string }) => {
    const t = tasks.create('screen', { vcpus: 1, memoryMiB: 128, diskMiB: 64, image: 'tiny' }, owner);
    tasks.transition(t.id, 'placing', 'placing');
    tasks.transition(t.id, 'starting', 'starting', { node: { nodeId: 'node-a', address: '127.0.0.1', ports } });
    return tasks.transition(t.id, 'running', 'running', { console: { vncUrl: consoleUrl({ nodeId: 'node-a', address: '127.0.0.1', ports }, t.id) } });
  };
  aliceTask = running({ id: alice.id, name: alice.name }).id;
  vms.set(aliceTask, vm(aliceTask, { host: '127.0.0.1', port: vnc.port }, 'running', join(serialDir, `${aliceTask}.sock`)));
  const stopped = running({ id: alice.id, name: alice.name });
  tasks.transition(stopped.id, 'stopping', 'stop');
  stoppedTask = tasks.transition(stopped.id, 'stopped', 'stopped').id;

  // The node's gateway, as its main.ts serves it: TLS and the member door on one port.
  const gwApp = gatewayApp({ ticketKey: key, provisioner: provisionerClient(viaApp(fakeProvisioner(vms))), log: gwLog.log, sessions, serialSocketDir: serialDir });
  gateway = await serveApp(gwApp, { port: 0, hostname: '127.0.0.1', log, tls, publicRoutes: publicRoutesOfFile(specFiles.vncGateway) }, (s, gated) => attachWebSockets(s as Server, gated, { log }));

  // The portal, as the coordinator's main.ts serves it.
  const local = { base: `https://127.0.0.1:${gateway.port}`, fetch: memberFetch(tls), tls: memberClientTls(tls) };
  const app = createApp({
    log,
    tasks,
    placer: new Placer({ tasks, discovery: discoveryClient(viaApp(new Hono())), clientsFor: () => ({ storage: storageClient(viaApp(new Hono())), provisioner: provisionerClient(viaApp(new Hono())) }), log }),
    localStorage: storageClient(viaApp(new Hono())),
    clientsFor: () => ({ storage: storageClient(viaApp(new Hono())), provisioner: provisionerClient(viaApp(new Hono())) }),
    accounts,
    consoles: { tickets: new ConsoleTickets({ key, now: () => new Date() }), gateway: local },
  });
  portal = await serveApp(app, { port: 0, hostname: '127.0.0.1', log, tls, publicRoutes: publicRoutesOfFile(specFiles.coordinator) }, (s, gated) =>
    attachConsoleUpgrades(s as Server, gated, { gateway: local, log }),
  );
});

afterAll(async () => {
  await sessions.closeAll('test over');
  await portal?.close();
  await gateway?.close();
  await vnc?.close();
  rmSync(serialDir, { recursive: true, force: true });
});

const origin = () => `http://127.0.0.1:${portal.port}`;
const api = (path: string, init: RequestInit & { who?: string } = {}) => {
  const { who, ...rest } = init;
  return fetch(`${origin()}${path}`, { ...rest, headers: { ...(who ? { authorization: `Bearer ${tokens[who]}` } : {}), ...(rest.headers as Record<string, string>) } });
};
const ticketFor = (taskId: string, who: string | undefined, body: unknown = { kind: 'vnc' }) =>
  api(`/api/tasks/${taskId}/console-ticket`, { method: 'POST', who, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

function socket(path: string, o: { origin?: string } = {}): WebSocket {
  const ws = new WebSocket(`ws://127.0.0.1:${portal.port}${path}`, { origin: o.origin ?? origin() });
  ws.on('error', () => {});
  return ws;
}

function refusal(ws: WebSocket): Promise<{ status: number; type: string; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    ws.once('open', () => reject(new Error('the upgrade was accepted')));
    ws.once('unexpected-response', (_req, res) => {
      let t = '';
      res.on('data', (d: Buffer) => (t += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body: JSON.parse(t) }));
    });
  });
}

describe('console tickets from the portal', () => {
  it("gives the owner a ticket bound to the task and kind, at most 40 s, with the socket's URL on the portal", async () => {
    const res = await ticketFor(aliceTask, 'alice');
    expect(res.status).toBe(201);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const t = (await res.json()) as { ticket: string; expiresAt: string; url: string };
    expect(Date.parse(t.expiresAt) - Date.now()).toBeLessThanOrEqual(40_000);
    expect(Date.parse(t.expiresAt) - Date.now()).toBeGreaterThan(30_000);
    expect(t.url).toBe(`/console/${aliceTask}/websockify?ticket=${encodeURIComponent(t.ticket)}`);
    const serial = (await (await ticketFor(aliceTask, 'alice', { kind: 'serial' })).json()) as { url: string };
    expect(serial.url).toMatch(new RegExp(`^/serial/${aliceTask}/socket\\?ticket=`));
  });

  it("refuses another user's task as no task (404), lets an admin, and wants a signed-in user", async () => {
    expect((await ticketFor(aliceTask, 'bob')).status).toBe(404);
    expect((await ticketFor('t-nosuchtask', 'alice')).status).toBe(404);
    expect((await ticketFor(aliceTask, 'admin')).status).toBe(201);
    const anon = await ticketFor(aliceTask, undefined);
    expect(anon.status).toBe(401);
    expect(((await anon.json()) as { type: string }).type).toBe('urn:cps:problem:authentication-required');
  });

  it('refuses a task without a running guest (409), a bad kind and a bad id (400)', async () => {
    expect((await ticketFor(stoppedTask, 'alice')).status).toBe(409);
    expect((await ticketFor(aliceTask, 'alice', { kind: 'ssh' })).status).toBe(400);
    expect((await ticketFor(aliceTask, 'alice', { kind: 'vnc', extra: 1 })).status).toBe(400);
    expect((await ticketFor('T_BAD', 'alice')).status).toBe(400);
  });

  it('refuses a ticket request a cross-site form could send (text/plain)', async () => {
    const res = await api(`/api/tasks/${aliceTask}/console-ticket`, { method: 'POST', who: 'alice', headers: { 'content-type': 'text/plain' }, body: '{"kind":"vnc"}' });
    expect(res.status).toBe(403);
  });
});

describe('the console on the portal origin', () => {
  it("Task.console.vncUrl is the portal's own path, never a host's address", () => {
    expect(tasks.get(aliceTask)!.console!.vncUrl).toBe(`/console/${aliceTask}`);
  });

  it('serves the console and serial pages and their scripts through the local gateway, to whoever may open them', async () => {
    const page = await api(`/console/${aliceTask}`, { who: 'alice' });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await page.text();
    for (const control of ['id="scale"', 'id="ctrl-alt-del"', 'id="fullscreen"', 'id="clipboard"', 'id="reconnect"', 'id="status"']) expect(html).toContain(control);
    expect((await api(`/serial/${aliceTask}`, { who: 'alice' })).status).toBe(200);
    expect((await api(`/console/${aliceTask}`, { who: 'bob' })).status).toBe(404);
    expect((await api(`/console/${aliceTask}`)).status).toBe(401);
    for (const asset of ['/novnc/core/rfb.js', '/xterm/lib/xterm.mjs', '/console-assets/console.js', '/console-assets/ticket.js']) {
      const r = await api(asset);
      expect(r.status, asset).toBe(200);
      expect(r.headers.get('content-type')).toMatch(/javascript/);
    }
    expect((await api('/console-assets/..%2Fpage.ts')).status).toBe(404);
    expect((await api('/novnc/..%2F..%2Fpackage.json')).status).toBeGreaterThanOrEqual(400);
  });

  it("opens the guest's screen through the portal with a ticket: bytes both ways, the gateway logs who", async () => {
    const t = (await (await ticketFor(aliceTask, 'alice')).json()) as { url: string };
    const ws = socket(t.url);
    const got: Buffer[] = [];
    ws.on('message', (d: Buffer) => got.push(d));
    await once(ws, 'open');
    await expect.poll(() => Buffer.concat(got).toString()).toBe('RFB 003.008\n');
    ws.send(Buffer.from('ping'));
    await expect.poll(() => Buffer.concat(got).toString()).toBe('RFB 003.008\nping');
    ws.close(1000, 'bye');
    await once(ws, 'close');
    await expect.poll(() => gwLog.lines().find((l) => l.msg === 'console session closed' && l.taskId === aliceTask)).toBeTruthy();
    const closed = gwLog.lines().find((l) => l.msg === 'console session closed' && l.taskId === aliceTask)!;
    expect(String(closed.user)).toMatch(/^alice \(u-/);
    // The browser's address, carried by the portal (a member) to the gateway.
    expect(String(closed.from)).toBe('127.0.0.1 via member node-a');
    expect(closed.bytesToGuest).toBeGreaterThan(0);
  });

  it("relays the gateway's refusals: no ticket, a replay, a ticket for another kind", async () => {
    const before = vnc.sockets.length;
    expect(await refusal(socket(`/console/${aliceTask}/websockify`))).toMatchObject({ status: 403, type: 'application/problem+json', body: { reason: 'missing' } });
    const t = (await (await ticketFor(aliceTask, 'alice')).json()) as { url: string };
    const first = socket(t.url);
    await once(first, 'open');
    expect(await refusal(socket(t.url))).toMatchObject({ status: 403, body: { type: 'urn:cps:problem:console-ticket-refused', reason: 'replayed' } });
    const serial = (await (await ticketFor(aliceTask, 'alice', { kind: 'serial' })).json()) as { ticket: string };
    expect(await refusal(socket(`/console/${aliceTask}/websockify?ticket=${serial.ticket}`))).toMatchObject({ status: 403, body: { reason: 'wrong-kind' } });
    expect(vnc.sockets.length).toBe(before + 1);
    first.terminate();
  });

  it('refuses a WebSocket from a page of another site at the portal door, before the gateway is asked', async () => {
    const t = (await (await ticketFor(aliceTask, 'alice')).json()) as { url: string };
    const before = vnc.sockets.length;
    const r = await refusal(socket(t.url, { origin: 'http://evil.example' }));
    expect(r).toMatchObject({ status: 403, body: { type: 'urn:cps:problem:cross-site-request' } });
    expect(vnc.sockets.length).toBe(before);
    // The ticket was not spent on the refused try.
    const ws = socket(t.url);
    await once(ws, 'open');
    ws.terminate();
  });

  it("answers 502 problem+json when this node's gateway is down, for the page and for the socket", async () => {
    const down = { base: 'https://127.0.0.1:1', fetch: memberFetch(tls), tls: memberClientTls(tls), timeoutMs: 2000 };
    const app = createApp({
      log,
      tasks,
      placer: new Placer({ tasks, discovery: discoveryClient(viaApp(new Hono())), clientsFor: () => ({ storage: storageClient(viaApp(new Hono())), provisioner: provisionerClient(viaApp(new Hono())) }), log }),
      localStorage: storageClient(viaApp(new Hono())),
      clientsFor: () => ({ storage: storageClient(viaApp(new Hono())), provisioner: provisionerClient(viaApp(new Hono())) }),
      accounts,
      consoles: { tickets: new ConsoleTickets({ key: consoleTicketKey((await createCa({ now: new Date() })).keyPem), now: () => new Date() }), gateway: down },
    });
    const lonely = await serveApp(app, { port: 0, hostname: '127.0.0.1', log }, (s, gated) => attachConsoleUpgrades(s as Server, gated, { gateway: down, log }));
    try {
      const page = await fetch(`http://127.0.0.1:${lonely.port}/console/${aliceTask}`, { headers: { authorization: `Bearer ${tokens.alice}` } });
      expect(page.status).toBe(502);
      expect(((await page.json()) as { detail: string }).detail).toContain("this node's console gateway is unreachable");
      const ws = new WebSocket(`ws://127.0.0.1:${lonely.port}/console/${aliceTask}/websockify?ticket=x`, { origin: `http://127.0.0.1:${lonely.port}` });
      ws.on('error', () => {});
      expect(await refusal(ws)).toMatchObject({ status: 502, type: 'application/problem+json', body: { type: 'urn:cps:problem:upstream-failed' } });
    } finally {
      await lonely.close();
    }
  });

  it("says why a plain GET of the socket would fail (the page's diagnosis), through the portal", async () => {
    const t = (await (await ticketFor(aliceTask, 'alice')).json()) as { url: string };
    const r = await api(t.url);
    expect(r.status).toBe(400);
    expect(((await r.json()) as { detail: string }).detail).toContain('needs a WebSocket upgrade');
    expect((await api(`/console/${aliceTask}/websockify`)).status).toBe(403);
  });
});
