import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serveApp, type Served } from '@cps/common';
import { provisionerClient, viaApp, type ProvisionerSchemas } from '@cps/openapi';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createApp } from '../src/app.ts';
import { SerialHubs } from '../src/serial-hub.ts';
import { dialUnix } from '../src/dial.ts';
import { SessionRegistry } from '../src/sessions.ts';
import { attachWebSockets } from '../src/upgrade.ts';
import { fakeProvisioner, fakeSerialGuest, manualTime, memoryLogger, vm, type FakeSerial, testTicketKey, ticketed } from './fakes.ts';
import { rawGet } from './http.ts';

// The serial console over real WebSockets to a real unix socket standing in for QEMU's: one
// connection to the guest per task however many viewers, every viewer sees the output, every
// viewer's typing reaches the guest, and each way of being refused is a problem+json answer.
const dir = mkdtempSync(join(tmpdir(), 'cps-serial-'));
const socketDir = join(dir, 'serial');
const vms = new Map<string, ProvisionerSchemas['Vm']>();
const { log, lines } = memoryLogger();
const time = manualTime(1_000_000);
const sessions = new SessionRegistry({ maxPerTask: 3 });
let guest: FakeSerial;
let gw: Served;
const open: WebSocket[] = [];

const sockOf = (taskId: string) => join(socketDir, `${taskId}.sock`);

beforeAll(async () => {
  (await import('node:fs')).mkdirSync(socketDir);
  guest = await fakeSerialGuest(sockOf('t-ser'));
  vms.set('t-ser', vm('t-ser', { host: '127.0.0.1', port: 5900 }, 'running', sockOf('t-ser')));
  const hubs = new SerialHubs({ dial: dialUnix(2000), log, timers: time.timers, stallMs: 5000, viewerHighWater: 16 << 10 });
  const app = createApp({ ticketKey: testTicketKey, provisioner: provisionerClient(viaApp(fakeProvisioner(vms))), log, sessions, serialSocketDir: socketDir, serialHubs: hubs, now: time.now, timers: time.timers, idleMs: 60_000 });
  gw = await serveApp(app, { port: 0, hostname: '127.0.0.1', log }, (server, gated) => attachWebSockets(server as Server, gated, { log }));
});

afterEach(async () => {
  for (const ws of open.splice(0)) ws.terminate();
  await expect.poll(() => { time.advance(3000); return sessions.size; }).toBe(0);
});

afterAll(async () => {
  await sessions.closeAll('test over');
  await gw?.close();
  await guest?.close();
  rmSync(dir, { recursive: true, force: true });
});

function viewer(taskId = 't-ser', origin = `http://127.0.0.1:${gw.port}`): WebSocket & { text: () => string } {
  const ws = new WebSocket(`ws://127.0.0.1:${gw.port}${ticketed(`/serial/${taskId}/socket`, taskId, { kind: 'serial', now: time.now() })}`, { origin }) as WebSocket & { text: () => string };
  let got = '';
  ws.on('message', (d: Buffer) => (got += d.toString('utf8')));
  ws.on('error', () => {});
  ws.text = () => got;
  open.push(ws);
  return ws;
}

function refusal(ws: WebSocket): Promise<{ status: number; type: string; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    ws.once('open', () => reject(new Error('the upgrade was accepted')));
    ws.once('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body: JSON.parse(text) }));
    });
  });
}

const liveClients = () => guest.clients.filter((c) => !c.destroyed).length;

describe('the serial console', () => {
  it('shares one connection to the guest among viewers: output to all, input from each', async () => {
    const before = guest.clients.length;
    const a = viewer();
    await once(a, 'open');
    await expect.poll(liveClients).toBe(1);
    guest.print('cps-tiny:~# ');
    await expect.poll(() => a.text()).toBe('cps-tiny:~# ');

    // A second viewer first gets the recent output, then what follows, on the same connection.
    const b = viewer();
    await once(b, 'open');
    await expect.poll(() => b.text()).toBe('cps-tiny:~# ');
    a.send('echo hello-cps\r'); // a text frame, as a browser may send
    b.send(Buffer.from('ls\r'));
    await expect.poll(() => guest.received()).toContain('echo hello-cps\r');
    await expect.poll(() => guest.received()).toContain('ls\r');
    await expect.poll(() => a.text()).toContain('ls\r');
    await expect.poll(() => b.text()).toContain('echo hello-cps\r');
    expect(guest.clients.length - before).toBe(1);
    expect(guest.overlapping()).toBe(0);

    // Viewers come and go; the connection goes only with the last.
    a.close(1000, 'bye');
    await once(a, 'close');
    guest.print('tick\n');
    await expect.poll(() => b.text()).toContain('tick\n');
    expect(liveClients()).toBe(1);
    b.close(1000, 'bye');
    await once(b, 'close');
    time.advance(3000);
    await expect.poll(liveClients).toBe(0);

    const closed = lines().filter((l) => l.msg === 'console session closed' && l.taskId === 't-ser');
    expect(closed.length).toBeGreaterThanOrEqual(2);
    expect(closed[0]).toMatchObject({ kind: 'serial', from: '127.0.0.1', target: { socket: sockOf('t-ser') }, closedBy: 'client', reason: 'bye' });
    expect(closed[0]!.bytesToGuest).toBe('echo hello-cps\r'.length);
    expect(Number(closed[0]!.bytesFromGuest)).toBeGreaterThan(0);
    expect(typeof closed[0]!.durationMs).toBe('number');
    expect(lines().some((l) => l.msg === 'console session open' && l.kind === 'serial' && l.taskId === 't-ser')).toBe(true);
  });

  it('closes every viewer with a reason when the guest goes away', async () => {
    const a = viewer();
    const b = viewer();
    await Promise.all([once(a, 'open'), once(b, 'open')]);
    await expect.poll(liveClients).toBe(1);
    guest.clients.at(-1)!.destroy();
    const [[codeA, reasonA], [codeB]] = (await Promise.all([once(a, 'close'), once(b, 'close')])) as [[number, Buffer], [number, Buffer]];
    expect(codeA).toBe(1000);
    expect(codeB).toBe(1000);
    expect(reasonA!.toString()).toBe("the guest's serial console closed");
  });

  it('closes a console nobody typed into for CPS_CONSOLE_IDLE_SEC, with code 4000 and why', async () => {
    const a = viewer();
    const b = viewer();
    await Promise.all([once(a, 'open'), once(b, 'open')]);
    time.advance(50_000);
    a.send('x');
    await expect.poll(() => guest.received()).toContain('x');
    guest.print('output is no input\n');
    await expect.poll(() => b.text()).toContain('output is no input');
    time.advance(20_000); // b: 70 s quiet, a: 20 s
    const [code, reason] = (await once(b, 'close')) as [number, Buffer];
    expect(code).toBe(4000);
    expect(reason.toString()).toMatch(/without input \(CPS_CONSOLE_IDLE_SEC\)/);
    expect(a.readyState).toBe(WebSocket.OPEN);
    time.advance(45_000);
    expect(((await once(a, 'close')) as [number])[0]).toBe(4000);
  });

  it('refuses, as problem+json and before dialling: unknown task, no serial socket, a socket elsewhere, a guest off, a foreign origin', async () => {
    const dialled = guest.clients.length;
    expect(await refusal(viewer('t-nowhere'))).toMatchObject({ status: 404, type: 'application/problem+json' });
    vms.set('t-pty', vm('t-pty', { host: '127.0.0.1', port: 5900 }));
    expect(await refusal(viewer('t-pty'))).toMatchObject({ status: 409, body: { detail: expect.stringContaining('no serial socket') } });
    for (const evil of ['/var/run/docker.sock', sockOf('t-ser'), join(socketDir, '..', 't-evil.sock')]) {
      vms.set('t-evil', vm('t-evil', { host: '127.0.0.1', port: 5900 }, 'running', evil));
      const r = await refusal(viewer('t-evil'));
      expect(r).toMatchObject({ status: 502, body: { type: 'urn:cps:problem:upstream-failed' } });
      expect(String(r.body.detail)).toContain(`only ${sockOf('t-evil')} is ever dialled`);
    }
    vms.set('t-off', vm('t-off', { host: '127.0.0.1', port: 5900 }, 'shutoff', sockOf('t-off')));
    expect((await refusal(viewer('t-off'))).status).toBe(409);
    vms.set('t-gone', vm('t-gone', { host: '127.0.0.1', port: 5900 }, 'running', sockOf('t-gone')));
    expect(await refusal(viewer('t-gone'))).toMatchObject({ status: 502, body: { detail: expect.stringMatching(/unreachable/) } });
    expect((await refusal(viewer('t-ser', 'http://evil.example'))).status).toBe(403);
    expect(guest.clients.length).toBe(dialled);
    // A plain GET runs the same checks, so the page can say why.
    expect((await rawGet(gw.port, ticketed('/serial/t-pty/socket', 't-pty', { kind: 'serial', now: time.now() }))).status).toBe(409);
  });

  it('holds each task to CPS_CONSOLE_MAX_PER_TASK serial consoles, apart from its desktop consoles', async () => {
    const three = [viewer(), viewer(), viewer()];
    await Promise.all(three.map((ws) => once(ws, 'open')));
    const r = await refusal(viewer());
    expect(r).toMatchObject({ status: 429, body: { type: 'urn:cps:problem:console-limit', kind: 'serial', limit: 3 } });
    expect(String(r.body.detail)).toContain('3 serial consoles');
    expect(sessions.heldBy('t-ser', 'serial')).toBe(3);
    expect(sessions.heldBy('t-ser', 'vnc')).toBe(0);
  });

  it('serves the terminal page and xterm.js from the package, and 404s a page for an unknown task', async () => {
    const page = await fetch(`http://127.0.0.1:${gw.port}/serial/t-ser`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('/console-assets/serial.js');
    expect(html).toContain('/xterm/css/xterm.css');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self';");
    const lib = await fetch(`http://127.0.0.1:${gw.port}/xterm/lib/xterm.mjs`);
    expect(lib.status).toBe(200);
    expect(lib.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(await lib.text()).toContain('Terminal');
    expect((await fetch(`http://127.0.0.1:${gw.port}/xterm/package.json`)).status).toBe(400);
    expect((await fetch(`http://127.0.0.1:${gw.port}/xterm/lib/..%2F..%2Fpackage.json`)).status).toBe(400);
    expect((await fetch(`http://127.0.0.1:${gw.port}/serial/t-nowhere`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${gw.port}/console-assets/serial.js`)).status).toBe(200);
  });
});
