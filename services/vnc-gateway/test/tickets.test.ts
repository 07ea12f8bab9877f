import { once } from 'node:events';
import type { Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import { serveApp, type Served } from '@cps/common';
import { provisionerClient, viaApp, type ProvisionerSchemas } from '@cps/openapi';
import { consoleTicketKey, createCa, issueConsoleTicket } from '@cps/trust';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createApp } from '../src/app.ts';
import { SessionRegistry } from '../src/sessions.ts';
import { attachWebSockets } from '../src/upgrade.ts';
import { rawGet } from './http.ts';
import { fakeProvisioner, fakeSerialGuest, fakeVncServer, memoryLogger, testTicketKey, ticket, vm, type FakeSerial, type FakeVnc } from './fakes.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Console tickets over real WebSockets: every way a ticket is refused is a 403 problem+json with
// its `reason`, answered before the guest's VNC server or serial socket is dialled.
const vms = new Map<string, ProvisionerSchemas['Vm']>();
const { log, lines } = memoryLogger();
const sessions = new SessionRegistry({ maxPerUser: 2 });
const dir = mkdtempSync(join(tmpdir(), 'cps-tickets-'));
let vnc: FakeVnc;
let serial: FakeSerial;
let gw: Served;
const open: WebSocket[] = [];

beforeAll(async () => {
  vnc = await fakeVncServer();
  serial = await fakeSerialGuest(join(dir, 't-tk.sock'));
  vms.set('t-tk', vm('t-tk', { host: '127.0.0.1', port: vnc.port }, 'running', join(dir, 't-tk.sock')));
  vms.set('t-tk2', vm('t-tk2', { host: '127.0.0.1', port: vnc.port }));
  vms.set('t-tk3', vm('t-tk3', { host: '127.0.0.1', port: vnc.port }));
  const app = createApp({ ticketKey: testTicketKey, provisioner: provisionerClient(viaApp(fakeProvisioner(vms))), log, sessions, serialSocketDir: dir });
  gw = await serveApp(app, { port: 0, hostname: '127.0.0.1', log }, (server, gated) => attachWebSockets(server as Server, gated, { log }));
});
afterEach(async () => {
  for (const ws of open.splice(0)) ws.terminate();
  await expect.poll(() => sessions.size).toBe(0);
});
afterAll(async () => {
  await sessions.closeAll('test over');
  await gw?.close();
  await vnc?.close();
  await serial?.close();
  rmSync(dir, { recursive: true, force: true });
});

const desktop = (taskId: string, t?: string) => `/console/${taskId}/websockify${t === undefined ? '' : `?ticket=${t}`}`;

function connect(path: string): WebSocket {
  const ws = new WebSocket(`ws://127.0.0.1:${gw.port}${path}`, { origin: `http://127.0.0.1:${gw.port}` });
  ws.on('error', () => {});
  open.push(ws);
  return ws;
}

type Outcome = { opened: true } | { opened: false; status: number; type: string; body: Record<string, unknown> };
function outcome(ws: WebSocket): Promise<Outcome> {
  return new Promise((resolve) => {
    ws.once('open', () => resolve({ opened: true }));
    ws.once('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d));
      res.on('end', () => resolve({ opened: false, status: res.statusCode ?? 0, type: String(res.headers['content-type']), body: JSON.parse(text) }));
    });
  });
}

async function refusedFor(path: string, reason: string): Promise<string> {
  const before = vnc.sockets.length + serial.clients.length;
  const r = await outcome(connect(path));
  expect(r).toMatchObject({ opened: false, status: 403, type: 'application/problem+json', body: { type: 'urn:cps:problem:console-ticket-refused', reason } });
  // Nothing was dialled for a refused ticket.
  expect(vnc.sockets.length + serial.clients.length).toBe(before);
  return r.opened ? '' : String(r.body.detail);
}

describe('console tickets', () => {
  it('opens a console with a valid ticket, and logs who opened and closed it with the bytes', async () => {
    const ws = connect(desktop('t-tk', ticket('t-tk', { user: { id: 'u-00000000000000b0', name: 'bob' } })));
    expect(await outcome(ws)).toEqual({ opened: true });
    ws.close(1000, 'done');
    await once(ws, 'close');
    await expect.poll(() => lines().find((l) => l.msg === 'console session closed' && l.user === 'bob (u-00000000000000b0)')).toBeTruthy();
    const closed = lines().find((l) => l.msg === 'console session closed' && l.user === 'bob (u-00000000000000b0)')!;
    expect(closed).toMatchObject({ taskId: 't-tk', kind: 'vnc' });
    expect(closed.durationMs).toEqual(expect.any(Number));
    expect(closed.bytesFromGuest).toBeGreaterThan(0);
    expect(closed.bytesToGuest).toEqual(expect.any(Number));
    expect(lines().some((l) => l.msg === 'console session open' && l.user === 'bob (u-00000000000000b0)' && l.taskId === 't-tk')).toBe(true);
  });

  it('accepts the tickets the real issuer signs (jose), for the key every member derives from the CA key', async () => {
    const ca = await createCa({ now: new Date() });
    // Two derivations from the same CA key agree; another CA's key does not.
    expect(Buffer.from(consoleTicketKey(ca.keyPem))).toEqual(Buffer.from(consoleTicketKey(ca.keyPem)));
    expect(Buffer.from(consoleTicketKey(ca.keyPem))).not.toEqual(Buffer.from(consoleTicketKey((await createCa({ now: new Date() })).keyPem)));
    const issued = await issueConsoleTicket(testTicketKey, { taskId: 't-tk', kind: 'vnc', userId: 'u-00000000000000c0', userName: 'carol', now: new Date(), ttlSec: 3600 });
    // No ticket lives longer than 40 s, whatever the issuer asks for.
    expect(issued.claims.expiresAt.getTime() - Date.now()).toBeLessThanOrEqual(40_000);
    expect(await outcome(connect(desktop('t-tk', issued.ticket)))).toEqual({ opened: true });
  });

  it('refuses a socket without a ticket', async () => {
    expect(await refusedFor(desktop('t-tk'), 'missing')).toContain('console-ticket');
    expect(await refusedFor(desktop('t-tk', ''), 'missing')).toContain('ticket');
  });

  it("refuses a ticket for another task, or for the other kind of console", async () => {
    expect(await refusedFor(desktop('t-tk', ticket('t-tk2')), 'wrong-task')).toContain('another task');
    expect(await refusedFor(desktop('t-tk', ticket('t-tk', { kind: 'serial' })), 'wrong-kind')).toContain('serial');
    expect(await refusedFor(`/serial/t-tk/socket?ticket=${ticket('t-tk')}`, 'wrong-kind')).toContain('desktop');
  });

  it('refuses an expired ticket', async () => {
    expect(await refusedFor(desktop('t-tk', ticket('t-tk', { now: new Date(Date.now() - 41_000) })), 'expired')).toContain('expired');
  });

  it('refuses a forged ticket: another key, a changed claim, alg none, garbage', async () => {
    await refusedFor(desktop('t-tk', ticket('t-tk', { key: new Uint8Array(randomBytes(32)) })), 'forged');
    // Someone else's ticket with the task swapped: the signature no longer matches.
    const [h, p, s] = ticket('t-tk2').split('.');
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString());
    const swapped = Buffer.from(JSON.stringify({ ...claims, task: 't-tk' })).toString('base64url');
    await refusedFor(desktop('t-tk', `${h}.${swapped}.${s}`), 'forged');
    const none = Buffer.from(JSON.stringify({ alg: 'none', typ: 'cps-console+jwt' })).toString('base64url');
    await refusedFor(desktop('t-tk', `${none}.${swapped}.`), 'malformed');
    await refusedFor(desktop('t-tk', `${none}.${swapped}.x`), 'forged');
    await refusedFor(desktop('t-tk', 'not-a-ticket'), 'malformed');
    await refusedFor(desktop('t-tk', encodeURIComponent('"><script>')), 'malformed');
    await refusedFor(desktop('t-tk', 'a'.repeat(5000)), 'malformed');
  });

  it('refuses a ticket used once already (replay), also when the first use was a plain GET', async () => {
    const t = ticket('t-tk');
    const first = connect(desktop('t-tk', t));
    expect(await outcome(first)).toEqual({ opened: true });
    expect(await refusedFor(desktop('t-tk', t), 'replayed')).toContain('used already');
    const diag = ticket('t-tk');
    expect((await rawGet(gw.port, desktop('t-tk', diag))).status).toBe(400);
    await refusedFor(desktop('t-tk', diag), 'replayed');
  });

  it('checks the serial console the same way', async () => {
    await refusedFor('/serial/t-tk/socket', 'missing');
    await refusedFor(`/serial/t-tk/socket?ticket=${ticket('t-tk2', { kind: 'serial' })}`, 'wrong-task');
    expect(await outcome(connect(`/serial/t-tk/socket?ticket=${ticket('t-tk', { kind: 'serial' })}`))).toEqual({ opened: true });
  });

  it('a plain GET without a ticket learns nothing about the task (403, not 404)', async () => {
    const r = await rawGet(gw.port, '/console/t-unknown/websockify');
    expect(r.status).toBe(403);
    expect(r.body).toContain('console-ticket-refused');
  });
});

describe('consoles per user (CPS_CONSOLE_MAX_PER_USER)', () => {
  it("refuses a user's consoles past the cap with 429 and a message naming it, whatever the task; others still open", async () => {
    const dan = { id: 'u-00000000000000d0', name: 'dan' };
    const a = connect(desktop('t-tk', ticket('t-tk', { user: dan })));
    const b = connect(`/serial/t-tk/socket?ticket=${ticket('t-tk', { kind: 'serial', user: dan })}`);
    expect(await outcome(a)).toEqual({ opened: true });
    expect(await outcome(b)).toEqual({ opened: true });
    const before = vnc.sockets.length;
    const third = await outcome(connect(desktop('t-tk3', ticket('t-tk3', { user: dan }))));
    expect(third).toMatchObject({ opened: false, status: 429, body: { type: 'urn:cps:problem:console-limit', per: 'user', limit: 2, user: 'dan' } });
    expect(third.opened ? '' : String(third.body.detail)).toContain('dan already has 2 consoles open');
    expect(vnc.sockets.length).toBe(before);
    expect(await outcome(connect(desktop('t-tk3', ticket('t-tk3', { user: { id: 'u-00000000000000e0', name: 'eve' } }))))).toEqual({ opened: true });
    a.close();
    await once(a, 'close');
    await expect.poll(async () => (await outcome(connect(desktop('t-tk3', ticket('t-tk3', { user: dan }))))).opened).toBe(true);
  });
});
