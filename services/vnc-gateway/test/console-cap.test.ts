import { once } from 'node:events';
import type { Server } from 'node:http';
import { serveApp, type Served } from '@cps/common';
import { provisionerClient, viaApp, type ProvisionerSchemas } from '@cps/openapi';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createApp } from '../src/app.ts';
import { SessionRegistry } from '../src/sessions.ts';
import { attachWebSockets } from '../src/upgrade.ts';
import { fakeProvisioner, fakeVncServer, memoryLogger, vm, type FakeVnc, testTicketKey, ticketed } from './fakes.ts';

// A cap on consoles per task, over real WebSockets to a real (fake) VNC server: at the cap the
// upgrade is answered 429 problem+json, and the guest's VNC server is never dialled for it.
const vms = new Map<string, ProvisionerSchemas['Vm']>();
const { log } = memoryLogger();
const sessions = new SessionRegistry(); // the default cap
let vnc: FakeVnc;
let other: FakeVnc;
let gw: Served;
const open: WebSocket[] = [];

beforeAll(async () => {
  vnc = await fakeVncServer();
  other = await fakeVncServer();
  vms.set('t-capped', vm('t-capped', { host: '127.0.0.1', port: vnc.port }));
  vms.set('t-other', vm('t-other', { host: '127.0.0.1', port: other.port }));
  const app = createApp({ ticketKey: testTicketKey, provisioner: provisionerClient(viaApp(fakeProvisioner(vms))), log, sessions });
  gw = await serveApp(app, { port: 0, hostname: '127.0.0.1', log }, (server, gated) => attachWebSockets(server as Server, gated, { log }));
});
afterEach(async () => {
  const all = open.splice(0);
  for (const ws of all) ws.terminate();
  await expect.poll(() => sessions.size).toBe(0);
});
afterAll(async () => {
  await sessions.closeAll('test over');
  await gw?.close();
  await vnc?.close();
  await other?.close();
});

function connect(taskId: string): WebSocket {
  const ws = new WebSocket(`ws://127.0.0.1:${gw.port}${ticketed(`/console/${taskId}/websockify`, taskId)}`, { origin: `http://127.0.0.1:${gw.port}` });
  ws.on('error', () => {});
  open.push(ws);
  return ws;
}

/** Either the socket opened (and got the banner) or the upgrade was refused with this answer. */
function outcome(ws: WebSocket): Promise<{ opened: true } | { opened: false; status: number; type: string; body: Record<string, unknown> }> {
  return new Promise((resolve) => {
    ws.once('message', () => resolve({ opened: true }));
    ws.once('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d));
      res.on('end', () => resolve({ opened: false, status: res.statusCode ?? 0, type: String(res.headers['content-type']), body: JSON.parse(text) }));
    });
  });
}

describe('consoles per task', () => {
  it('opens 4, refuses the 5th with 429 console-limit before dialling the guest, and opens one again once one closes', async () => {
    expect(sessions.maxPerTask).toBe(4);
    const dialledBefore = vnc.sockets.length;
    const first = [1, 2, 3, 4].map(() => connect('t-capped'));
    for (const ws of first) expect(await outcome(ws)).toEqual({ opened: true });

    const fifth = await outcome(connect('t-capped'));
    expect(fifth).toMatchObject({
      opened: false,
      status: 429,
      type: 'application/problem+json',
      body: { type: 'urn:cps:problem:console-limit', status: 429, taskId: 't-capped', limit: 4 },
    });
    const detail = fifth.opened ? '' : String(fifth.body.detail);
    expect(detail).toContain('t-capped');
    expect(detail).toContain('(4)');
    expect(vnc.sockets.length - dialledBefore).toBe(4);

    // Another task has places of its own.
    expect(await outcome(connect('t-other'))).toEqual({ opened: true });

    first[0]!.close(1000, 'done');
    await once(first[0]!, 'close');
    await expect.poll(() => sessions.heldBy('t-capped')).toBe(3);
    expect(await outcome(connect('t-capped'))).toEqual({ opened: true });
  });

  it('lets no more than the cap through when 20 upgrades arrive at once', async () => {
    const dialledBefore = vnc.sockets.length;
    const results = await Promise.all(Array.from({ length: 20 }, () => outcome(connect('t-capped'))));
    expect(results.filter((r) => r.opened)).toHaveLength(4);
    const refused = results.filter((r) => !r.opened);
    expect(refused).toHaveLength(16);
    for (const r of refused) expect(r).toMatchObject({ status: 429, body: { type: 'urn:cps:problem:console-limit' } });
    expect(vnc.sockets.length - dialledBefore).toBe(4);
  });

  it('gives a place back when the upgrade fails after it was taken (the guest has no console)', async () => {
    vms.set('t-gone', vm('t-gone', { host: '127.0.0.1', port: vnc.port }, 'shutoff'));
    for (let i = 0; i < 6; i++) {
      const r = await outcome(connect('t-gone'));
      expect(r).toMatchObject({ opened: false });
      expect(r.opened ? 0 : r.status).not.toBe(429);
    }
    expect(sessions.heldBy('t-gone')).toBe(0);
  });

  it('holds to the cap it is configured with (CPS_CONSOLE_MAX_PER_TASK)', async () => {
    const two = new SessionRegistry({ maxPerTask: 2 });
    const app = createApp({ ticketKey: testTicketKey, provisioner: provisionerClient(viaApp(fakeProvisioner(vms))), log, sessions: two });
    const gw2 = await serveApp(app, { port: 0, hostname: '127.0.0.1', log }, (server, gated) => attachWebSockets(server as Server, gated, { log }));
    try {
      const at = (taskId: string) => {
        const ws = new WebSocket(`ws://127.0.0.1:${gw2.port}${ticketed(`/console/${taskId}/websockify`, taskId)}`, { origin: `http://127.0.0.1:${gw2.port}` });
        ws.on('error', () => {});
        open.push(ws);
        return outcome(ws);
      };
      expect(await at('t-capped')).toEqual({ opened: true });
      expect(await at('t-capped')).toEqual({ opened: true });
      expect(await at('t-capped')).toMatchObject({ opened: false, status: 429, body: { limit: 2 } });
    } finally {
      for (const ws of open.splice(0)) ws.terminate();
      await expect.poll(() => two.size).toBe(0);
      await gw2.close();
    }
  });
});
