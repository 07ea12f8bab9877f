import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect as netConnect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, type PeerCertificate } from 'node:tls';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, isLoopbackAddress, publicRoutesOf, serveApp, type Caller, type ClusterTls, type PlainHttpFrom, type PublicCert, type Served } from '@cps/common';
import { memberOf, newCa, tmpDir } from './fixtures.ts';

// This machine's own address on its LAN: a connection to it comes from it, not from loopback.
const lanAddress = Object.values(networkInterfaces())
  .flat()
  .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;

const routes = publicRoutesOf({ paths: { '/healthz': { get: { 'x-cps-public': 'probes' }, post: { 'x-cps-public': 'a public write, for the test' } }, '/ws': { get: { 'x-cps-public': 'a public WebSocket, for the test' } } } });
const log = createLogger('public-https-test', 'silent');

/** An admin's certificate for a DNS name, self-signed (as an admin's own CA would do). */
function adminCert(name: string): PublicCert {
  const dir = tmpDir('cps-admin-cert-');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', `/CN=${name}`, '-addext', `subjectAltName=DNS:${name}`, '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  return { cert: readFileSync(join(dir, 'cert.pem'), 'utf8'), key: readFileSync(join(dir, 'key.pem'), 'utf8') };
}

let node: ClusterTls;
let member: ClusterTls;
const reached: string[] = [];

async function serve(plainHttpFrom: PlainHttpFrom = 'loopback', publicCert?: PublicCert): Promise<Served> {
  const app = new Hono<{ Bindings: { caller?: Caller } }>();
  app.get('/healthz', (c) => c.json({ ok: true, https: new URL(c.req.url).protocol === 'https:', caller: c.env?.caller?.kind }));
  app.post('/healthz', (c) => c.json({ posted: true }));
  app.get('/ws', (c) => {
    reached.push('ws');
    return c.body(null, 200);
  });
  return serveApp(app, { port: 0, hostname: '0.0.0.0', log, tls: node, publicRoutes: routes, plainHttpFrom, ...(publicCert ? { publicCert } : {}) }, (server, gated) => {
    // A WebSocket route as the gateway has one: the upgrade goes through the gated app.
    server.on('upgrade', (req: IncomingMessage, socket) => {
      const headers = new Headers(Object.entries(req.headers).flatMap(([k, v]) => (typeof v === 'string' ? [[k, v] as [string, string]] : [])));
      void Promise.resolve(gated.fetch(new Request(`http://${req.headers.host}${req.url}`, { headers }), { incoming: req })).then((res) =>
        socket.end(`HTTP/1.1 ${res.status} Answered\r\nconnection: close\r\n\r\n`),
      );
    });
  });
}

/** One plain HTTP/1.1 request, from whichever address connecting to `host` gives. */
function plain(host: string, port: number, method: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; location?: string; type?: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host, port, method, path, headers: { connection: 'close', ...headers } }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location, type: res.headers['content-type'], body }));
    });
    req.on('error', reject);
    req.end(method === 'POST' ? '{}' : undefined);
  });
}

/** A WebSocket upgrade over plain HTTP; the status line of the answer. */
function plainUpgrade(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = netConnect(port, host, () =>
      s.write(`GET /ws HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`),
    );
    let text = '';
    s.on('data', (d) => (text += d));
    s.on('close', () => resolve(text.split('\r\n')[0] ?? ''));
    s.on('error', reject);
  });
}

beforeAll(async () => {
  const ca = await newCa();
  node = await memberOf(ca, 'node-a');
  member = await memberOf(ca, 'node-b');
});

describe('the public port: plain HTTP on loopback only', () => {
  let served: Served;
  beforeAll(async () => {
    served = await serve();
  });
  afterAll(() => served.close());

  it('answers plain HTTP from loopback as before', async () => {
    const r = await plain('127.0.0.1', served.port, 'GET', '/healthz');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ ok: true, https: false });
    expect((await plain('127.0.0.1', served.port, 'POST', '/healthz', { 'content-type': 'application/json' })).status).toBe(200);
    expect(await plainUpgrade('127.0.0.1', served.port)).toBe('HTTP/1.1 200 Answered');
  });

  it.runIf(lanAddress)('redirects a plain GET or HEAD from another address to the same URL on https (308)', async () => {
    for (const method of ['GET', 'HEAD']) {
      const r = await plain(lanAddress!, served.port, method, '/healthz?x=1&y=%2F');
      expect(r.status, method).toBe(308);
      expect(r.location).toBe(`https://${lanAddress}:${served.port}/healthz?x=1&y=%2F`);
    }
  });

  it.runIf(lanAddress)('refuses any other plain method, and a WebSocket upgrade, from another address (426 https-required); the app never sees them', async () => {
    const before = reached.length;
    const r = await plain(lanAddress!, served.port, 'POST', '/healthz', { 'content-type': 'application/json' });
    expect(r.status).toBe(426);
    expect(r.type).toBe('application/problem+json');
    expect(JSON.parse(r.body)).toMatchObject({ type: 'urn:cps:problem:https-required', status: 426 });
    expect(JSON.parse(r.body).detail).toMatch(/over https:\/\//);
    expect(await plainUpgrade(lanAddress!, served.port)).toBe('HTTP/1.1 426 Answered');
    expect(reached.length).toBe(before);
  });

  it.runIf(lanAddress)('serves the same address over https with the node certificate, where the request is known to be https', async () => {
    const body = await new Promise<string>((resolve, reject) => {
      const req = httpsRequest({ host: lanAddress, port: served.port, path: '/healthz', headers: { connection: 'close' }, ca: node.ca, checkServerIdentity: () => undefined }, (res) => {
        let b = '';
        res.on('data', (d) => (b += d));
        res.on('end', () => resolve(b));
      });
      req.on('error', reject);
      req.end();
    });
    expect(JSON.parse(body)).toMatchObject({ ok: true, https: true });
  });
});

describe('an internal service (no plainHttpFrom given)', () => {
  it.runIf(lanAddress)('answers plain HTTP from another address as before: its member routes refuse it anyway', async () => {
    const app = new Hono();
    app.get('/healthz', (c) => c.json({ ok: true }));
    const served = await serveApp(app, { port: 0, hostname: '0.0.0.0', log, tls: node, publicRoutes: routes });
    try {
      expect((await plain(lanAddress!, served.port, 'GET', '/healthz')).status).toBe(200);
    } finally {
      await served.close();
    }
  });
});

describe('CPS_PLAIN_HTTP_FROM=any', () => {
  it.runIf(lanAddress)('answers plain HTTP from another address too', async () => {
    const served = await serve('any');
    try {
      expect((await plain(lanAddress!, served.port, 'GET', '/healthz')).status).toBe(200);
      expect((await plain(lanAddress!, served.port, 'POST', '/healthz', { 'content-type': 'application/json' })).status).toBe(200);
    } finally {
      await served.close();
    }
  });
});

describe("an admin's certificate for the public door", () => {
  let served: Served;
  const pub = adminCert('cps.lab.test');
  beforeAll(async () => {
    served = await serve('loopback', pub);
  });
  afterAll(() => served.close());

  /** The certificate the server shows for `servername` (none: by address), and what the app said. */
  function handshake(servername: string | undefined, client: Partial<ClusterTls> = {}): Promise<{ cert: PeerCertificate; body: string }> {
    return new Promise((resolve, reject) => {
      const s = tlsConnect({ host: '127.0.0.1', port: served.port, ...(servername ? { servername } : {}), ca: [pub.cert, node.ca], cert: client.cert, key: client.key, checkServerIdentity: () => undefined });
      s.once('secureConnect', () => {
        const cert = s.getPeerCertificate();
        s.write(`GET /healthz HTTP/1.1\r\nHost: ${servername ?? '127.0.0.1'}\r\nConnection: close\r\n\r\n`);
        let text = '';
        s.on('data', (d) => (text += d));
        s.on('end', () => resolve({ cert, body: text.slice(text.indexOf('\r\n\r\n') + 4) }));
      });
      s.once('error', reject);
    });
  }

  it('is shown to a client that asks for its name; the node certificate to anyone else', async () => {
    expect((await handshake('cps.lab.test')).cert.subject.CN).toBe('cps.lab.test');
    expect((await handshake(undefined)).cert.subject.CN).toBe('node-a');
    expect((await handshake('other.lab.test')).cert.subject.CN).toBe('node-a');
  });

  it('still verifies a member’s client certificate against the cluster CA', async () => {
    const r = await handshake('cps.lab.test', member);
    expect(JSON.parse(r.body)).toMatchObject({ https: true, caller: 'member' });
  });
});

describe('isLoopbackAddress', () => {
  it.each([
    ['127.0.0.1', true], ['127.3.4.5', true], ['::1', true], ['::ffff:127.0.0.1', true],
    ['192.0.2.2', false], ['::ffff:192.0.2.2', false], ['10.0.0.127', false], ['fe80::1', false], ['', false], [undefined, false],
  ])('%s → %s', (a, loopback) => expect(isLoopbackAddress(a)).toBe(loopback));
});
