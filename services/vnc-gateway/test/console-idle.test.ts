import { once } from 'node:events';
import type { Server } from 'node:http';
import { serveApp, type Served } from '@cps/common';
import { provisionerClient, viaApp, type ProvisionerSchemas } from '@cps/openapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createApp } from '../src/app.ts';
import { SessionRegistry } from '../src/sessions.ts';
import { attachWebSockets } from '../src/upgrade.ts';
import { fakeProvisioner, fakeVncServer, manualTime, memoryLogger, vm, type FakeVnc, testTicketKey, ticketed } from './fakes.ts';

// The desktop console over a real WebSocket to an echoing VNC stand-in: the browser's ClientInit
// reaches the guest as shared whatever it said, and only the user's input keeps a console open.
const vms = new Map<string, ProvisionerSchemas['Vm']>();
const { log, lines } = memoryLogger();
const time = manualTime();
const sessions = new SessionRegistry();
let vnc: FakeVnc;
let gw: Served;

beforeAll(async () => {
  vnc = await fakeVncServer();
  vms.set('t-idle', vm('t-idle', { host: '127.0.0.1', port: vnc.port }));
  const app = createApp({ ticketKey: testTicketKey, provisioner: provisionerClient(viaApp(fakeProvisioner(vms))), log, sessions, now: time.now, timers: time.timers, idleMs: 60_000 });
  gw = await serveApp(app, { port: 0, hostname: '127.0.0.1', log }, (server, gated) => attachWebSockets(server as Server, gated, { log }));
});
afterAll(async () => {
  await sessions.closeAll('test over');
  await gw?.close();
  await vnc?.close();
});

/** A browser past the handshake: version, security None, ClientInit asking for exclusive access. */
async function browser(): Promise<{ ws: WebSocket; echoed: () => Buffer }> {
  const ws = new WebSocket(`ws://127.0.0.1:${gw.port}${ticketed('/console/t-idle/websockify', 't-idle', { now: time.now() })}`, { origin: `http://127.0.0.1:${gw.port}` });
  const got: Buffer[] = [];
  ws.on('message', (d: Buffer) => got.push(d));
  await once(ws, 'open');
  ws.send(Buffer.concat([Buffer.from('RFB 003.008\n'), Buffer.from([1, 0])]));
  return { ws, echoed: () => Buffer.concat(got) };
}

const fbur = Buffer.from([3, 1, 0, 0, 0, 0, 4, 0, 3, 0]);
const key = Buffer.from([4, 1, 0, 0, 0, 0, 0, 0x61]);

describe('desktop consoles', () => {
  it("never let a viewer ask the guest's VNC server for exclusive access", async () => {
    const { ws, echoed } = await browser();
    // The fake echoes: banner (12), then what the guest got: version (12), security type, ClientInit.
    await expect.poll(() => echoed().length).toBe(26);
    expect(echoed()[25]).toBe(1);
    ws.close();
  });

  it('close after CPS_CONSOLE_IDLE_SEC without keys or pointer, however many screen updates the browser asks for', async () => {
    const { ws, echoed } = await browser();
    await expect.poll(() => echoed().length).toBe(26);
    time.advance(40_000);
    ws.send(key);
    await expect.poll(() => echoed().length).toBe(26 + key.length);
    for (let i = 0; i < 5; i++) {
      ws.send(fbur);
      time.advance(10_000);
    }
    await expect.poll(() => echoed().length).toBe(26 + key.length + 5 * fbur.length);
    expect(ws.readyState).toBe(WebSocket.OPEN); // 90 s in, 50 s since the key
    const closed = once(ws, 'close');
    time.advance(15_000);
    const [code, reason] = (await closed) as [number, Buffer];
    expect(code).toBe(4000);
    expect(reason.toString()).toBe('closed after 1 min without input (CPS_CONSOLE_IDLE_SEC)');
    await expect.poll(() => lines().find((l) => l.msg === 'console session closed' && l.code === 4000)).toMatchObject({ kind: 'vnc', taskId: 't-idle', closedBy: 'gateway', from: '127.0.0.1' });
  });
});
