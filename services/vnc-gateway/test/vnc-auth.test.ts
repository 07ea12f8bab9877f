import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { serveApp, type Served } from '@cps/common';
import { provisionerClient, viaApp, type ProvisionerSchemas } from '@cps/openapi';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createApp } from '../src/app.ts';
import { SessionRegistry } from '../src/sessions.ts';
import { attachWebSockets } from '../src/upgrade.ts';
import { vncAuthResponse } from '../src/vnc-auth.ts';
import { fakeProvisioner, fakeVncServer, memoryLogger, vm, type FakeVnc, testTicketKey, ticketed } from './fakes.ts';

// The gateway logs in to a guest's password-protected VNC server for the user, and shows the
// browser a server that asks for no password.
const PASSWORD = 'Ab3dE6gH';
const vms = new Map<string, ProvisionerSchemas['Vm']>();
const sessions = new SessionRegistry();
const { log, lines } = memoryLogger();
let gw: Served;
const servers: FakeVnc[] = [];
const open: WebSocket[] = [];

/** Reads exactly n bytes from a socket. */
function readN(s: Socket, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= n) {
        s.off('data', onData);
        s.pause();
        if (buf.length > n) s.unshift(buf.subarray(n));
        resolve(buf.subarray(0, n));
      }
    };
    s.on('data', onData);
    s.resume();
    s.once('close', () => reject(new Error('closed')));
  });
}

/** A VNC server (RFB 3.8) that asks for VNC authentication with `password`, then echoes. */
async function passwordServer(password: string, types = [2]): Promise<FakeVnc> {
  const server = await fakeVncServer(async (s) => {
    await readN(s, 12);
    s.write(Buffer.from([types.length, ...types]));
    const [chosen] = await readN(s, 1);
    if (chosen === 2) {
      const challenge = randomBytes(16);
      s.write(challenge);
      const answer = await readN(s, 16);
      if (!answer.equals(vncAuthResponse(challenge, password))) {
        const why = Buffer.from('Authentication failed');
        s.end(Buffer.concat([Buffer.from([0, 0, 0, 1]), Buffer.from([0, 0, 0, why.length]), why]));
        return;
      }
    }
    s.write(Buffer.from([0, 0, 0, 0]));
    s.resume();
    s.pipe(s);
  });
  servers.push(server);
  return server;
}

/** A server that sends `banner`, then runs `script` on the connection. */
async function scriptedServer(script: (s: Socket) => void, banner = 'RFB 003.008\n'): Promise<FakeVnc> {
  const server = await fakeVncServer();
  server.server.removeAllListeners('connection');
  server.server.on('connection', (s: Socket) => {
    server.sockets.push(s);
    s.on('error', () => {});
    if (banner) s.write(banner);
    script(s);
  });
  servers.push(server);
  return server;
}

beforeAll(async () => {
  const app = createApp({ ticketKey: testTicketKey, provisioner: provisionerClient(viaApp(fakeProvisioner(vms))), log, sessions });
  gw = await serveApp(app, { port: 0, hostname: '127.0.0.1', log }, (server, gated) => attachWebSockets(server as Server, gated, { log }));
});
afterEach(() => {
  for (const ws of open.splice(0)) ws.terminate();
});
afterAll(async () => {
  await sessions.closeAll('test over');
  await gw?.close();
  for (const s of servers) await s.close();
});

function guest(taskId: string, port: number, password?: string) {
  const v = vm(taskId, { host: '127.0.0.1', port });
  if (password) v.console.vnc.password = password;
  vms.set(taskId, v);
}

function connect(taskId: string): WebSocket {
  const ws = new WebSocket(`ws://127.0.0.1:${gw.port}${ticketed(`/console/${taskId}/websockify`, taskId)}`, { origin: `http://127.0.0.1:${gw.port}` });
  open.push(ws);
  return ws;
}

/** Collects binary frames until n bytes have arrived. */
function receive(ws: WebSocket, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let got = 0;
    const onMessage = (data: Buffer) => {
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

function refusal(ws: WebSocket): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    ws.once('open', () => reject(new Error('the upgrade was accepted')));
    ws.on('error', () => {});
    ws.once('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
    });
  });
}

/** The browser's side of RFB 3.8 with security type None, as noVNC does it. */
async function browserHandshake(ws: WebSocket, version = 'RFB 003.008\n'): Promise<void> {
  const banner = receive(ws, 12);
  await once(ws, 'open');
  expect((await banner).toString()).toBe('RFB 003.008\n');
  if (version === 'RFB 003.003\n') {
    // 3.3: the server names the type as a u32, and there is no security result for None.
    const type = receive(ws, 4);
    ws.send(Buffer.from(version));
    expect([...(await type)]).toEqual([0, 0, 0, 1]);
    return;
  }
  const types = receive(ws, 2);
  ws.send(Buffer.from(version));
  expect([...(await types)]).toEqual([1, 1]);
  const result = receive(ws, 4);
  ws.send(Buffer.from([1]));
  expect([...(await result)]).toEqual([0, 0, 0, 0]);
}

describe('VNC login on the user\'s behalf', () => {
  it('computes the DES response of the VNC authentication (RFB 6.2.2)', () => {
    // A regression guard; that real QEMU accepts these responses is shown by the e2e portal test.
    expect(vncAuthResponse(Buffer.alloc(16), 'password').toString('hex')).toBe('ff97502e9422f089ff97502e9422f089');
    // Only the first 8 characters count.
    expect(vncAuthResponse(Buffer.alloc(16), 'password-and-more')).toEqual(vncAuthResponse(Buffer.alloc(16), 'password'));
  });

  it('logs in with the password and gives the browser a server that asks for none', async () => {
    const server = await passwordServer(PASSWORD);
    guest('t-pw', server.port, PASSWORD);
    const ws = connect('t-pw');
    await browserHandshake(ws);
    // ClientInit and everything after pass through untouched (the fake echoes).
    const echo = receive(ws, 5);
    ws.send(Buffer.from([1, 2, 3, 4, 5]));
    expect([...(await echo)]).toEqual([1, 2, 3, 4, 5]);
  });

  it('speaks RFB 3.3 to an old browser client too', async () => {
    const server = await passwordServer(PASSWORD);
    guest('t-pw33', server.port, PASSWORD);
    const ws = connect('t-pw33');
    await browserHandshake(ws, 'RFB 003.003\n');
    // The first byte is ClientInit: whatever its shared-flag, the guest is asked for a shared session.
    const echo = receive(ws, 3);
    ws.send(Buffer.from([0, 8, 9]));
    expect([...(await echo)]).toEqual([1, 8, 9]);
  });

  it('takes security type None from a server that offers it', async () => {
    const server = await passwordServer(PASSWORD, [1]);
    guest('t-none', server.port, PASSWORD);
    const ws = connect('t-none');
    await browserHandshake(ws);
  });

  it('writes the password it made into no log line of a whole session (open, type, close)', async () => {
    const password = randomBytes(6).toString('base64url').slice(0, 8);
    const server = await passwordServer(password);
    guest('t-secret', server.port, password);
    const from = lines().length;
    const ws = connect('t-secret');
    await browserHandshake(ws);
    // Typing: RFB KeyEvents (down and up) for "ls", echoed back by the server.
    const keys = Buffer.concat(
      [0x6c, 0x73].flatMap((k) => [1, 0].map((down) => Buffer.from([4, down, 0, 0, 0, 0, 0, k]))),
    );
    const echoed = receive(ws, 1 + keys.length);
    ws.send(Buffer.concat([Buffer.from([1]), keys])); // ClientInit (shared), then the keys
    expect((await echoed).subarray(1).equals(keys)).toBe(true);
    ws.close(1000, 'done');
    await expect.poll(() => lines().slice(from).some((l) => l.msg === 'console session closed' && l.taskId === 't-secret')).toBe(true);
    const logged = lines().slice(from);
    expect(logged.map((l) => l.msg)).toEqual(expect.arrayContaining(['console session open', 'console session closed']));
    expect(logged.find((l) => l.msg === 'console session closed' && l.taskId === 't-secret')).toMatchObject({ target: { host: '127.0.0.1', port: server.port } });
    expect(JSON.stringify(logged)).not.toContain(password);
  });

  it('refuses the upgrade with 502 when the password is wrong; the browser learns nothing of it', async () => {
    const server = await passwordServer(PASSWORD);
    guest('t-wrong', server.port, 'WrongPw1');
    const r = await refusal(connect('t-wrong'));
    expect(r.status).toBe(502);
    expect(r.body.detail).toBe("cannot log in to the guest's VNC server: authentication failed: Authentication failed");
    expect(JSON.stringify(r.body)).not.toContain('WrongPw1');
  });

  it.each([
    ['an RFB 3.3 server', 'RFB 003.003\n', (s: Socket) => s.end('whatever'), /unsupported server version "RFB 003.003\\n"/],
    ['a banner that is no RFB', 'HTTP/1.1 200\r\n', () => {}, /unsupported server version/],
    ['no security types, with a reason', undefined, (s: Socket) => s.once('data', () => s.write(Buffer.concat([Buffer.from([0, 0, 0, 0, 4]), Buffer.from('nope')]))), /the server refused: nope/],
    ['a reason of 4 GB', undefined, (s: Socket) => s.once('data', () => s.write(Buffer.from([0, 0xff, 0xff, 0xff, 0xff]))), /the server refused: \(a reason of 4294967295 bytes\)/],
    ['only unknown types', undefined, (s: Socket) => s.once('data', () => s.write(Buffer.from([2, 16, 19]))), /no supported security type among \[16, 19\]/],
    ['a hang-up mid-handshake', undefined, (s: Socket) => s.once('data', () => s.end(Buffer.from([1]))), /closed the connection during the handshake/],
  ])('refuses %s with 502', async (_, banner, script, message) => {
    const server = await scriptedServer(script, banner);
    guest('t-odd', server.port, PASSWORD);
    const r = await refusal(connect('t-odd'));
    expect(r.status).toBe(502);
    expect(String(r.body.detail)).toMatch(message);
  });

  it('gives up on a server that never answers the handshake', async () => {
    const silent = await scriptedServer(() => {}, '');
    guest('t-silent', silent.port, PASSWORD);
    const r = await refusal(connect('t-silent'));
    expect(r.status).toBe(502);
    expect(String(r.body.detail)).toMatch(/no VNC handshake within 5000 ms/);
  }, 15_000);
});
