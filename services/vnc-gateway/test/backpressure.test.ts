import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serveApp, type Served } from '@cps/common';
import { provisionerClient, viaApp, type ProvisionerSchemas } from '@cps/openapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createApp } from '../src/app.ts';
import { dialUnix } from '../src/dial.ts';
import { SerialHubs } from '../src/serial-hub.ts';
import { SessionRegistry } from '../src/sessions.ts';
import { attachWebSockets } from '../src/upgrade.ts';
import { fakeProvisioner, fakeSerialGuest, fakeVncServer, manualTime, memoryLogger, vm, type FakeSerial, type FakeVnc, testTicketKey, ticket } from './fakes.ts';

// A fast source and a deliberately slow browser over real sockets: the gateway must hold no more
// than a bounded amount for the slow side (its WebSocket's unsent bytes plus its stream buffers),
// however much the source has to give, and still deliver every byte in order.
const bound = 3 << 20; // 1 MiB high mark + a chunk + stream buffers, with room to spare
const dir = mkdtempSync(join(tmpdir(), 'cps-bp-'));
const vms = new Map<string, ProvisionerSchemas['Vm']>();
const { log } = memoryLogger();
const sessions = new SessionRegistry();
const time = manualTime();
const vncPayload = randomBytes(24 << 20);
const serialPayload = randomBytes(12 << 20);
let flood: FakeVnc;
let guest: FakeSerial;
let gw: Served;

beforeAll(async () => {
  flood = await fakeVncServer((s) => s.write(vncPayload));
  guest = await fakeSerialGuest(join(dir, 't-bps.sock'), { echo: false });
  vms.set('t-bp', vm('t-bp', { host: '127.0.0.1', port: flood.port }));
  vms.set('t-bps', vm('t-bps', { host: '127.0.0.1', port: flood.port }, 'running', join(dir, 't-bps.sock')));
  const hubs = new SerialHubs({ dial: dialUnix(2000), log, timers: time.timers, stallMs: 10_000 });
  const app = createApp({ ticketKey: testTicketKey, provisioner: provisionerClient(viaApp(fakeProvisioner(vms))), log, sessions, serialSocketDir: dir, serialHubs: hubs, timers: time.timers, now: time.now });
  gw = await serveApp(app, { port: 0, hostname: '127.0.0.1', log }, (server, gated) => attachWebSockets(server as Server, gated, { log }));
});

afterAll(async () => {
  await sessions.closeAll('test over');
  await gw?.close();
  await flood?.close();
  await guest?.close();
  rmSync(dir, { recursive: true, force: true });
});

function connect(path: string): WebSocket {
  const [, kind, taskId] = /^\/(console|serial)\/([^/]+)\//.exec(path)!;
  const t = ticket(taskId!, { kind: kind === 'serial' ? 'serial' : 'vnc', now: time.now() });
  const ws = new WebSocket(`ws://127.0.0.1:${gw.port}${path}?ticket=${t}`, { origin: `http://127.0.0.1:${gw.port}` });
  ws.on('error', () => {});
  return ws;
}

/** Reads in short bursts between long pauses until `n` bytes came; samples the gateway's buffering meanwhile. */
async function readSlowly(ws: WebSocket, n: number): Promise<{ got: Buffer; maxBuffered: number }> {
  const parts: Buffer[] = [];
  let got = 0;
  let maxBuffered = 0;
  ws.on('message', (d: Buffer) => {
    parts.push(d);
    got += d.length;
  });
  const sampler = setInterval(() => (maxBuffered = Math.max(maxBuffered, sessions.buffered)), 5);
  try {
    while (got < n) {
      ws.pause();
      await new Promise((r) => setTimeout(r, 40));
      ws.resume();
      await new Promise((r) => setTimeout(r, 4));
    }
  } finally {
    clearInterval(sampler);
  }
  return { got: Buffer.concat(parts), maxBuffered };
}

describe('backpressure with a slow browser', () => {
  it('desktop: the gateway holds a bounded amount while a VNC server floods 24 MiB, and every byte arrives', async () => {
    const ws = connect('/console/t-bp/websockify');
    await once(ws, 'open');
    const { got, maxBuffered } = await readSlowly(ws, 12 + vncPayload.length);
    expect(got.subarray(12).equals(vncPayload)).toBe(true);
    expect(maxBuffered).toBeGreaterThan(256 << 10); // the slow side really was behind
    expect(maxBuffered).toBeLessThan(bound);
    ws.close();
  }, 60_000);

  it('serial: a slow viewer and a fast one; bounded buffering, both get every byte, the slow one is let go only past the stall limit', async () => {
    const slow = connect('/serial/t-bps/socket');
    const fast = connect('/serial/t-bps/socket');
    await Promise.all([once(slow, 'open'), once(fast, 'open')]);
    await expect.poll(() => guest.clients.filter((c) => !c.destroyed).length).toBe(1);
    const fastParts: Buffer[] = [];
    fast.on('message', (d: Buffer) => fastParts.push(d));
    guest.print(serialPayload);
    const { got, maxBuffered } = await readSlowly(slow, serialPayload.length);
    expect(got.equals(serialPayload)).toBe(true);
    await expect.poll(() => Buffer.concat(fastParts).length).toBe(serialPayload.length);
    expect(Buffer.concat(fastParts).equals(serialPayload)).toBe(true);
    expect(maxBuffered).toBeGreaterThan(256 << 10);
    expect(maxBuffered).toBeLessThan(bound);

    // A viewer that stops reading altogether holds the guest back only for the stall limit.
    slow.pause();
    guest.print(randomBytes(8 << 20));
    await expect.poll(() => sessions.buffered, { timeout: 10_000 }).toBeGreaterThan(1 << 20);
    const closed = new Promise<[number, string]>((res) => slow.once('close', (c: number, r: Buffer) => res([c, r.toString()])));
    time.advance(10_001);
    slow.resume();
    const [code, reason] = await closed;
    expect(code).toBe(1008);
    expect(reason).toMatch(/read too slowly/);
    // The fast viewer goes on getting the guest's output, all of it.
    await expect.poll(() => fastParts.reduce((n, b) => n + b.length, 0), { timeout: 10_000 }).toBe(serialPayload.length + (8 << 20));
    fast.close();
  }, 60_000);
});
