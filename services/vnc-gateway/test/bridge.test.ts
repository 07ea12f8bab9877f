import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { Server } from 'node:http';
import { serveApp, type Served } from '@cps/common';
import { provisionerClient, viaApp, type ProvisionerSchemas } from '@cps/openapi';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createApp } from '../src/app.ts';
import { dialTcp } from '../src/dial.ts';
import { SessionRegistry } from '../src/sessions.ts';
import { attachWebSockets } from '../src/upgrade.ts';
import { fakeProvisioner, fakeVncServer, memoryLogger, vm, type FakeVnc, testTicketKey, ticket, ticketed } from './fakes.ts';
import { rawExchange, rawGet } from './http.ts';

const vms = new Map<string, ProvisionerSchemas['Vm']>();
const { log, lines } = memoryLogger();
const dialled: string[] = [];
const sessions = new SessionRegistry();
let vnc: FakeVnc;
let gw: Served;
const open: WebSocket[] = [];

beforeAll(async () => {
  vnc = await fakeVncServer();
  vms.set('t-echo', vm('t-echo', { host: '127.0.0.1', port: vnc.port }));
  const real = dialTcp(2000);
  const app = createApp({
    ticketKey: testTicketKey,
    provisioner: provisionerClient(viaApp(fakeProvisioner(vms))),
    log,
    sessions,
    dialVnc: (host, port) => {
      dialled.push(`${host}:${port}`);
      return real(host, port);
    },
  });
  gw = await serveApp(app, { port: 0, hostname: '127.0.0.1', log }, (server, gated) => attachWebSockets(server as Server, gated, { log }));
});

afterEach(() => {
  for (const ws of open.splice(0)) ws.terminate();
});

afterAll(async () => {
  await sessions.closeAll('test over');
  await gw?.close();
  await vnc?.close();
});

const url = (taskId: string) => `ws://127.0.0.1:${gw.port}${ticketed(`/console/${taskId}/websockify`, taskId)}`;

function connect(taskId: string): WebSocket {
  const ws = new WebSocket(url(taskId), { origin: `http://127.0.0.1:${gw.port}` });
  open.push(ws);
  return ws;
}

/** Collects binary frames until `n` bytes have arrived. */
function receive(ws: WebSocket, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let got = 0;
    const onMessage = (data: Buffer, isBinary: boolean) => {
      if (!isBinary) return reject(new Error('text frame'));
      parts.push(data);
      got += data.length;
      if (got >= n) {
        ws.off('message', onMessage);
        resolve(Buffer.concat(parts));
      }
    };
    ws.on('message', onMessage);
    ws.once('close', (code, reason) => got < n && reject(new Error(`closed ${code} ${reason} after ${got} bytes`)));
  });
}

/** What a refused upgrade answered: status, content type and the parsed body. */
function refusal(ws: WebSocket): Promise<{ status: number; type: string; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    ws.once('open', () => reject(new Error('the upgrade was accepted')));
    ws.on('error', () => {}); // ws may report the refused socket's end as errors too
    ws.once('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body: JSON.parse(text) }));
    });
  });
}

describe('the WebSocket bridge', () => {
  it('carries the RFB banner, echoes bytes both ways, and closes the TCP side when the browser leaves', async () => {
    const before = vnc.sockets.length;
    const ws = connect('t-echo');
    const banner = receive(ws, 12);
    await once(ws, 'open');
    expect((await banner).toString()).toBe('RFB 003.008\n');
    const echo = receive(ws, 4);
    ws.send(Buffer.from([1, 2, 3, 4]));
    expect([...(await echo)]).toEqual([1, 2, 3, 4]);
    ws.close(1000, 'done');
    await vnc.closed(before);
    await expect.poll(() => lines().find((l) => l.msg === 'console session closed' && l.reason === 'done')).toMatchObject({
      taskId: 't-echo',
      bytesToGuest: 4,
      bytesFromGuest: 16,
      closedBy: 'client',
    });
    expect(lines().some((l) => l.msg === 'console session open' && l.taskId === 't-echo')).toBe(true);
  });

  it('keeps every byte of large transfers in order both ways (backpressure)', async () => {
    const ws = connect('t-echo');
    const payload = randomBytes(6 << 20);
    const all = receive(ws, 12 + payload.length);
    await once(ws, 'open');
    for (let off = 0; off < payload.length; off += 64 << 10) ws.send(payload.subarray(off, off + (64 << 10)));
    const got = await all;
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    expect(got.subarray(0, 12).toString()).toBe('RFB 003.008\n');
    expect(sha(got.subarray(12))).toBe(sha(payload));
  });

  it('stops reading the browser while the guest does not read, then delivers everything', async () => {
    const payload = randomBytes(32 << 20);
    const got: Buffer[] = [];
    const slow = await fakeVncServer((s) => s.pause());
    vms.set('t-slow-guest', vm('t-slow-guest', { host: '127.0.0.1', port: slow.port }));
    try {
      const ws = connect('t-slow-guest');
      await once(ws, 'open');
      for (let off = 0; off < payload.length; off += 256 << 10) ws.send(payload.subarray(off, off + (256 << 10)));
      await expect
        .poll(() => lines().some((l) => l.msg === 'console backpressure' && l.taskId === 't-slow-guest' && l.direction === 'toGuest'), { timeout: 15_000 })
        .toBe(true);
      const s = slow.sockets[0]!;
      s.on('data', (d: Buffer) => got.push(d));
      s.resume();
      await expect.poll(() => got.reduce((n, b) => n + b.length, 0), { timeout: 15_000 }).toBe(payload.length);
      expect(Buffer.concat(got).equals(payload)).toBe(true);
    } finally {
      await slow.close();
    }
  });

  it('stops reading the guest while the browser does not read, then delivers everything', async () => {
    const payload = randomBytes(32 << 20);
    const flood = await fakeVncServer((s) => s.write(payload));
    vms.set('t-slow-browser', vm('t-slow-browser', { host: '127.0.0.1', port: flood.port }));
    try {
      const ws = connect('t-slow-browser');
      const all = receive(ws, 12 + payload.length);
      await once(ws, 'open');
      ws.pause();
      await expect
        .poll(() => lines().some((l) => l.msg === 'console backpressure' && l.taskId === 't-slow-browser' && l.direction === 'fromGuest'), { timeout: 15_000 })
        .toBe(true);
      ws.resume();
      expect((await all).subarray(12).equals(payload)).toBe(true);
    } finally {
      await flood.close();
    }
  });

  it('closes the WebSocket with a reason when the VNC server hangs up mid-stream', async () => {
    const before = vnc.sockets.length;
    const ws = connect('t-echo');
    await receive(ws, 12);
    vnc.sockets[before]!.end();
    const [code, reason] = (await once(ws, 'close')) as [number, Buffer];
    expect(code).toBe(1000);
    expect(reason.toString()).toMatch(/VNC server closed the connection/);
  });

  it('closes with 1011 and the error when the VNC connection breaks', async () => {
    const before = vnc.sockets.length;
    const ws = connect('t-echo');
    await receive(ws, 12);
    vnc.sockets[before]!.resetAndDestroy();
    const [code, reason] = (await once(ws, 'close')) as [number, Buffer];
    expect(code).toBe(1011);
    expect(reason.toString()).toMatch(/ECONNRESET/);
  });

  it('closes with 1003 on a text frame, which RFB never uses', async () => {
    const before = vnc.sockets.length;
    const ws = connect('t-echo');
    await receive(ws, 12);
    ws.send('hello');
    const [code] = (await once(ws, 'close')) as [number, Buffer];
    expect(code).toBe(1003);
    await vnc.closed(before);
  });

  it('refuses the upgrade for an unknown task with a problem+json 404, dialling nothing', async () => {
    const n = dialled.length;
    const r = await refusal(connect('t-unknown'));
    expect(r.status).toBe(404);
    expect(r.type).toBe('application/problem+json');
    expect(r.body).toMatchObject({ type: 'urn:cps:problem:not-found', detail: expect.stringContaining('t-unknown') });
    expect(dialled.length).toBe(n);
  });

  it.each([
    ['a LAN address', { host: '192.168.1.10', port: 5900 }],
    ['a public name', { host: 'example.com', port: 5900 }],
    ['0.0.0.0', { host: '0.0.0.0', port: 5900 }],
    ['an IPv4-mapped loopback spelling', { host: '::ffff:127.0.0.1', port: 5900 }],
    ['localhost by name', { host: 'localhost', port: 5900 }],
    ['port 0 on a LAN address', { host: '10.0.0.1', port: 0 }],
    ['a port out of range', { host: '127.0.0.1', port: 70000 }],
  ])('refuses a provisioner answer pointing at %s, dialling nothing', async (_what, target) => {
    vms.set('t-evil', vm('t-evil', target));
    const n = dialled.length;
    const r = await refusal(connect('t-evil'));
    expect(r.status).toBe(502);
    expect(r.body).toMatchObject({ type: 'urn:cps:problem:upstream-failed', detail: expect.stringContaining('only 127.0.0.1 or ::1') });
    expect(dialled.length).toBe(n);
  });

  it('says 409 while the guest has no VNC port yet (port 0)', async () => {
    vms.set('t-early', vm('t-early', { host: '127.0.0.1', port: 0 }));
    const r = await refusal(connect('t-early'));
    expect(r.status).toBe(409);
    expect(String(r.body.detail)).toMatch(/no VNC port yet/);
  });

  it('refuses with 502 when the VNC port is closed', async () => {
    const dead = await fakeVncServer();
    const port = dead.port;
    await dead.close();
    vms.set('t-dead', vm('t-dead', { host: '127.0.0.1', port }));
    const r = await refusal(connect('t-dead'));
    expect(r.status).toBe(502);
    expect(String(r.body.detail)).toMatch(/unreachable/);
  });

  it('refuses a hostile task id before asking anyone', async () => {
    const r = await refusal(new WebSocket(`ws://127.0.0.1:${gw.port}/console/..%2F..%2Fetc/websockify?ticket=${ticket('..%2F..%2Fetc')}`, { origin: `http://127.0.0.1:${gw.port}` }));
    expect([400, 404]).toContain(r.status);
    const r2 = await refusal(new WebSocket(`ws://127.0.0.1:${gw.port}/console/T%00X/websockify?ticket=${ticket('T\0X')}`, { origin: `http://127.0.0.1:${gw.port}` }));
    expect(r2.status).toBe(400);
  });

  it('answers a plain GET with 400 after the same checks, so a page can learn why an upgrade fails', async () => {
    expect((await rawGet(gw.port, ticketed('/console/t-echo/websockify', 't-echo'))).status).toBe(400);
    const unknown = await rawGet(gw.port, ticketed('/console/t-unknown/websockify', 't-unknown'));
    expect(unknown.status).toBe(404);
    expect(unknown.type).toBe('application/problem+json');
    const dead = await fakeVncServer();
    await dead.close();
    vms.set('t-gone', vm('t-gone', { host: '127.0.0.1', port: dead.port }));
    const gone = await rawGet(gw.port, ticketed('/console/t-gone/websockify', 't-gone'));
    expect(gone.status).toBe(502);
    expect(gone.body).toMatch(/unreachable/);
  });

  it('refuses an upgrade from a page of another origin, dialling nothing', async () => {
    const n = dialled.length;
    const ws = new WebSocket(url('t-echo'), { origin: 'http://evil.example' });
    open.push(ws);
    const r = await refusal(ws);
    expect(r.status).toBe(403);
    expect(String(r.body.detail)).toContain('http://evil.example');
    expect(dialled.length).toBe(n);
    const same = new WebSocket(url('t-echo'), { origin: `http://127.0.0.1:${gw.port}` });
    open.push(same);
    await once(same, 'open');
  });

  it('closes the VNC connection when the WebSocket handshake itself is bad', async () => {
    const before = vnc.sockets.length;
    const answer = await rawExchange(
      gw.port,
      `GET ${ticketed('/console/t-echo/websockify', 't-echo')} HTTP/1.1\r\nHost: 127.0.0.1:${gw.port}\r\nOrigin: http://127.0.0.1:${gw.port}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: short\r\n\r\n`,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 400/);
    await vnc.closed(before);
    await expect.poll(() => lines().some((l) => l.msg === 'console session closed' && l.reason === 'the WebSocket handshake failed')).toBe(true);
  });

  it('answers other upgrades (not websocket) with problem+json', async () => {
    const answer = await rawExchange(gw.port, `GET ${ticketed('/console/t-unknown/websockify', 't-unknown')} HTTP/1.1\r\nHost: 127.0.0.1:${gw.port}\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n`);
    expect(answer).toMatch(/^HTTP\/1\.1 404/);
    expect(answer).toContain('application/problem+json');
    const bogus = await rawExchange(gw.port, `GET /nowhere HTTP/1.1\r\nHost: 127.0.0.1:${gw.port}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n`);
    expect(bogus).toMatch(/^HTTP\/1\.1 404/);
    expect(bogus).toContain('urn:cps:problem:route-not-found');
  });

  it('still serves plain HTTP on the same server', async () => {
    expect((await rawGet(gw.port, '/healthz')).status).toBe(200);
  });
});
