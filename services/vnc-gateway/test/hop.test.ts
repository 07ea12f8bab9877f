import { once } from 'node:events';
import type { Server } from 'node:http';
import { memberClientTls, publicRoutesOfFile, serveApp, type ClusterTls, type Served } from '@cps/common';
import { coordinatorClient, provisionerClient, specFiles, viaApp, type ProvisionerSchemas } from '@cps/openapi';
import { createCa } from '@cps/trust';
import { issueMember } from '../../../tests/helpers/hosts-identity.ts';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createApp } from '../src/app.ts';
import { coordinatorLocator, dialPeerGateway, gatewayOrigin, type LocatePeer } from '../src/peer-hop.ts';
import { attachWebSockets } from '../src/upgrade.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fakeProvisioner, fakeSerialGuest, fakeVncServer, memoryLogger, vm, type FakeSerial, type FakeVnc, testTicketKey, ticket, ticketed } from './fakes.ts';

// Two gateways on loopback, members of one cluster: `near` runs no guest, `far` runs t-far. Asked
// for t-far, `near` carries the console on to `far`'s member-only /hop over mutual TLS.
type Vms = Map<string, ProvisionerSchemas['Vm']>;
const { log, lines } = memoryLogger();
let vnc: FakeVnc;
let near: Served;
let far: Served;
let locate: LocatePeer = async () => undefined;
let nearTls: ClusterTls;
let farTls: ClusterTls;
let strangerTls: ClusterTls;
const routes = publicRoutesOfFile(specFiles.vncGateway);

const serialDir = mkdtempSync(join(tmpdir(), 'cps-hop-'));
let serial: FakeSerial;

async function gateway(vms: Vms, tls: ClusterTls, locatePeer?: LocatePeer): Promise<Served> {
  const app = createApp({ ticketKey: testTicketKey, provisioner: provisionerClient(viaApp(fakeProvisioner(vms))), log, locatePeer, dialPeer: dialPeerGateway(memberClientTls(tls)), serialSocketDir: serialDir });
  return serveApp(app, { port: 0, hostname: '127.0.0.1', log, tls, publicRoutes: routes }, (s, gated) => attachWebSockets(s as Server, gated, { log }));
}

const browser = (path: string) => {
  const [, kind, taskId] = /^\/(console|serial)\/([^/]+)\//.exec(path)!;
  return new WebSocket(`ws://127.0.0.1:${near.port}${ticketed(path, taskId!, { kind: kind === 'serial' ? 'serial' : 'vnc' })}`, { origin: `http://127.0.0.1:${near.port}` });
};

beforeAll(async () => {
  const ca = await createCa({ now: new Date() });
  nearTls = await issueMember(ca, 'near', ['127.0.0.1']);
  farTls = await issueMember(ca, 'far', ['127.0.0.1']);
  strangerTls = await issueMember(await createCa({ now: new Date() }), 'stranger', ['127.0.0.1']);
  vnc = await fakeVncServer();
  serial = await fakeSerialGuest(join(serialDir, 't-far.sock'));
  far = await gateway(new Map([['t-far', vm('t-far', { host: '127.0.0.1', port: vnc.port }, 'running', join(serialDir, 't-far.sock'))]]), farTls);
  near = await gateway(new Map(), nearTls, (id) => locate(id));
});

afterAll(async () => {
  await near?.close();
  await far?.close();
  await vnc?.close();
  await serial?.close();
  rmSync(serialDir, { recursive: true, force: true });
});

function refusal(ws: WebSocket): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    ws.once('open', () => reject(new Error('accepted')));
    ws.on('error', () => {});
    ws.once('unexpected-response', (_req, res) => {
      let t = '';
      res.on('data', (d: Buffer) => (t += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(t) }));
    });
  });
}

describe('the hop to a peer gateway', () => {
  it("carries a console on to the gateway of the peer that runs the task", async () => {
    locate = async (id) => (id === 't-far' ? `https://127.0.0.1:${far.port}` : undefined);
    const before = vnc.sockets.length;
    const ws = browser('/console/t-far/websockify');
    const got: Buffer[] = [];
    ws.on('message', (d: Buffer) => got.push(d));
    await once(ws, 'open');
    await expect.poll(() => Buffer.concat(got).toString()).toBe('RFB 003.008\n');
    ws.send(Buffer.from('ping'));
    await expect.poll(() => Buffer.concat(got).toString()).toBe('RFB 003.008\nping');
    ws.close(1000, 'bye');
    await vnc.closed(before);
    await expect.poll(() => lines().filter((l) => l.msg === 'console session closed' && l.taskId === 't-far').length).toBe(2);
    expect(lines().some((l) => l.msg === 'console session open' && (l.target as { peer?: string }).peer === `https://127.0.0.1:${far.port}`)).toBe(true);
  });

  it("carries a serial console to the peer's /hop/{task}/serial, and the peer's close reason back", async () => {
    locate = async (id) => (id === 't-far' ? `https://127.0.0.1:${far.port}` : undefined);
    const ws = browser('/serial/t-far/socket');
    let got = '';
    ws.on('message', (d: Buffer) => (got += d.toString()));
    await once(ws, 'open');
    ws.send('echo hello-cps\r');
    await expect.poll(() => serial.received()).toBe('echo hello-cps\r');
    await expect.poll(() => got).toBe('echo hello-cps\r');
    expect((await fetch(`http://127.0.0.1:${near.port}/serial/t-far`)).status).toBe(200);
    serial.clients.at(-1)!.destroy();
    const [code, reason] = (await once(ws, 'close')) as [number, Buffer];
    expect(code).toBe(1000);
    expect(reason.toString()).toBe("the guest's serial console closed");
    await expect.poll(() => lines().filter((l) => l.msg === 'console session closed' && l.kind === 'serial' && l.taskId === 't-far').length).toBe(2);
    const hopped = lines().find((l) => l.msg === 'console session open' && l.kind === 'serial' && String(l.from).startsWith('member '));
    expect(hopped?.from).toBe('member near');
    // The far gateway knows whose console it carries: the ticket went on with the hop.
    expect(hopped?.user).toBe('alice (u-00000000000000aa)');
  });

  it('serves the page for a task on a peer', async () => {
    locate = async () => `https://127.0.0.1:${far.port}`;
    const res = await fetch(`http://127.0.0.1:${near.port}/console/t-far`);
    expect(res.status).toBe(200);
  });

  it("relays the peer's refusal with its detail", async () => {
    locate = async () => `https://127.0.0.1:${far.port}`;
    const r = await refusal(browser('/console/t-nowhere/websockify'));
    expect(r.status).toBe(404);
    expect(String(r.body.detail)).toContain(`the gateway at https://127.0.0.1:${far.port}`);
    expect(String(r.body.detail)).toContain('t-nowhere');
  });

  it('never hops twice: a gateway pointed at itself answers, not a loop', async () => {
    locate = async () => `https://127.0.0.1:${near.port}`;
    const r = await refusal(browser('/console/t-loop/websockify'));
    // Its own hop brings back the ticket it just used: refused as a replay before any lookup.
    expect(r.status).toBe(403);
    expect(String(r.body.detail)).toContain('used already');
  });

  it('says 404 when no peer is known, and 502 when the peer is down', async () => {
    locate = async () => undefined;
    expect((await refusal(browser('/console/t-far/websockify'))).status).toBe(404);
    const down = await gateway(new Map(), farTls);
    const port = down.port;
    await down.close();
    locate = async () => `https://127.0.0.1:${port}`;
    const r = await refusal(browser('/console/t-far/websockify'));
    expect(r.status).toBe(502);
    expect(String(r.body.detail)).toMatch(/unreachable/);
  });

  it('treats a failing locator as "not here"', async () => {
    locate = async () => {
      throw new Error('coordinator down');
    };
    expect((await refusal(browser('/console/t-far/websockify'))).status).toBe(404);
  });
});

describe('the hop is for members only', () => {
  const hop = (opts: object) =>
    refusal(new WebSocket(`wss://127.0.0.1:${far.port}/hop/t-far`, { rejectUnauthorized: false, ...opts } as object));
  it('refuses a stranger the serial hop too', async () => {
    const r = await refusal(new WebSocket(`wss://127.0.0.1:${far.port}/hop/t-far/serial`, { rejectUnauthorized: false } as object));
    expect(r.status).toBe(401);
  });
  it('refuses a stranger without a certificate, before any guest is dialled', async () => {
    const before = vnc.sockets.length;
    const r = await hop({});
    expect(r.status).toBe(401);
    expect(r.body.type).toBe('urn:cps:problem:member-certificate-required');
    const plain = await refusal(new WebSocket(`ws://127.0.0.1:${far.port}/hop/t-far`));
    expect(plain.status).toBe(401);
    expect(vnc.sockets.length).toBe(before);
  });
  it("refuses a member's hop without the browser's ticket, or with a ticket for another task", async () => {
    const before = vnc.sockets.length;
    const member = { cert: nearTls.cert, key: nearTls.key, ca: nearTls.ca };
    expect(await hop(member)).toMatchObject({ status: 403, body: { type: 'urn:cps:problem:console-ticket-refused', reason: 'missing' } });
    expect(await hop({ ...member, headers: { 'x-cps-console-ticket': ticket('t-other') } })).toMatchObject({ status: 403, body: { reason: 'wrong-task' } });
    expect(vnc.sockets.length).toBe(before);
  });
  it("refuses another cluster's node", async () => {
    const r = await hop({ cert: strangerTls.cert, key: strangerTls.key });
    expect(r.status).toBe(403);
    expect(r.body.type).toBe('urn:cps:problem:member-certificate-refused');
  });
  it('a gateway does not hop to a server of another cluster', async () => {
    const other = await gateway(new Map([['t-far', vm('t-far', { host: '127.0.0.1', port: vnc.port })]]), strangerTls);
    locate = async () => `https://127.0.0.1:${other.port}`;
    const r = await refusal(browser('/console/t-far/websockify'));
    expect(r.status).toBe(502);
    await other.close();
  });
});

describe('coordinatorLocator', () => {
  const task = (state: string, node?: object) => ({ id: 't-x', name: 'x', state, request: { vcpus: 1, memoryMiB: 128, diskMiB: 64, image: 'tiny' }, createdAt: '', updatedAt: '', history: [], node });
  const ports = { coordinator: 1, discovery: 2, provisioner: 3, storage: 4, vncGateway: 18384 };
  const locator = (body: object | undefined) => {
    const app = new Hono();
    app.get('/api/tasks/:id', (c) => (body ? c.json(body) : c.json({ type: 'urn:cps:problem:not-found', status: 404, title: 'x' }, 404)));
    return coordinatorLocator(coordinatorClient(viaApp(app)));
  };
  it('names the gateway of the node running the task', async () => {
    expect(await locator(task('running', { nodeId: 'n', address: '127.0.0.1', ports }))('t-x')).toBe('https://127.0.0.1:18384');
    expect(await locator(task('running', { nodeId: 'n', address: '::1', ports }))('t-x')).toBe('https://[::1]:18384');
  });
  it('knows nothing of unknown, stopped or unplaced tasks, or of odd addresses', async () => {
    expect(await locator(undefined)('t-x')).toBeUndefined();
    expect(await locator(task('stopped', { nodeId: 'n', address: '127.0.0.1', ports }))('t-x')).toBeUndefined();
    expect(await locator(task('running'))('t-x')).toBeUndefined();
    expect(await locator(task('running', { nodeId: 'n', address: 'evil.example/path?', ports }))('t-x')).toBeUndefined();
  });
  it.each(['a@b', 'x/y', 'h#f', 'a b', ''])('gatewayOrigin refuses %j', (addr) => expect(gatewayOrigin(addr, 80)).toBeUndefined());
});
