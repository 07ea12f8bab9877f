import { request as httpsRequest } from 'node:https';
import { createConnection } from 'node:net';
import { connect } from 'node:tls';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, memberFetch, publicRoutesOf, serveApp, type Caller, type ClusterTls, type Served } from '@cps/common';
import { Removals } from '../src/index.ts';
import { memberOf, newCa } from './fixtures.ts';

// One served app behind the cluster door, called as a member, a stranger, another cluster's node,
// an expired certificate and a removed node, over real sockets.
let served: Served;
let server: ClusterTls & { removals: Removals };
let url: string;
const handled: string[] = [];

const routes = publicRoutesOf({
  paths: {
    '/healthz': { get: { 'x-cps-public': 'liveness probes come from anywhere' } },
    '/pages/{name}': { get: { 'x-cps-public': 'static pages', 'x-cps-path-rest': true } },
    '/vms': { get: {}, post: {} },
  },
});

beforeAll(async () => {
  const ca = await newCa();
  caCache = ca;
  server = await memberOf(ca, 'node-a');
  const app = new Hono<{ Bindings: { caller?: Caller } }>();
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/pages/*', (c) => c.text('page'));
  app.get('/vms', (c) => {
    handled.push('GET /vms');
    return c.json({ caller: c.env?.caller });
  });
  app.post('/vms', (c) => {
    handled.push('POST /vms');
    return c.json({ ok: true });
  });
  served = await serveApp(app, { port: 0, hostname: '127.0.0.1', log: createLogger('mtls-test', process.env.DBG ? 'debug' : 'silent'), tls: server, publicRoutes: routes });
  url = `https://127.0.0.1:${served.port}`;
});

afterAll(() => served?.close());

const get = (tls: ClusterTls, path: string) => memberFetch(tls)(new Request(`${url}${path}`));

/** A TLS request with whatever the caller holds (maybe nothing), trusting the server blindly. */
function rawTls(path: string, client: { cert?: string; key?: string } = {}, method = 'GET'): Promise<{ status: number; body: string; type?: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(`${url}${path}`, { method, rejectUnauthorized: false, ...client }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, type: res.headers['content-type'] }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the cluster door (mutual TLS + public routes from the contract)', () => {
  it('a member reaches every route, and the app knows which node called', async () => {
    const r = await get(server, '/vms');
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ caller: { kind: 'member', nodeId: 'node-a' } });
  });

  it('a stranger over plain HTTP reaches /healthz and public pages, and nothing else', async () => {
    const plain = `http://127.0.0.1:${served.port}`;
    expect((await fetch(`${plain}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${plain}/pages/a/b.js`)).text()).toBe('page');
    const before = handled.length;
    for (const [method, path] of [['GET', '/vms'], ['POST', '/vms'], ['GET', '/healthz/../vms'], ['GET', '/%76ms'], ['GET', '/nope']] as const) {
      const r = await fetch(`${plain}${path}`, { method });
      expect(r.status, `${method} ${path}`).toBe(401);
      expect(r.headers.get('content-type')).toBe('application/problem+json');
      expect((await r.json()).type).toBe('urn:cps:problem:member-certificate-required');
    }
    expect(handled.length).toBe(before);
  });

  it('over TLS without a client certificate: refused, /healthz answers', async () => {
    const r = await rawTls('/vms');
    expect(r.status).toBe(401);
    expect(JSON.parse(r.body).detail).toMatch(/no client certificate/);
    expect((await rawTls('/healthz')).status).toBe(200);
  });

  it("another cluster's node: refused before any handler, /healthz answers", async () => {
    const stranger = await memberOf(await newCa(), 'node-a');
    const r = await rawTls('/vms', { cert: stranger.cert, key: stranger.key }, 'POST');
    expect(r.status).toBe(403);
    expect(JSON.parse(r.body)).toMatchObject({ type: 'urn:cps:problem:member-certificate-refused' });
    expect(JSON.parse(r.body).detail).toMatch(/a CA that is not this cluster's|not signed by this cluster's CA/);
    expect((await rawTls('/healthz', { cert: stranger.cert, key: stranger.key })).status).toBe(200);
    // And a member does not trust that node's server either.
    await expect(memberFetch(server)(new Request(`${url}/healthz`)).then(() => 'ok')).resolves.toBe('ok');
  });

  it('an expired certificate of this cluster: refused', async () => {
    const old = await memberOf(await caOfServer(), 'node-old', { now: new Date(Date.now() - 10 * 86_400_000), days: 1 });
    const r = await rawTls('/vms', { cert: old.cert, key: old.key });
    expect(r.status).toBe(403);
    expect(JSON.parse(r.body).detail).toMatch(/expired/);
  });

  it('a removed node: refused from the next request on, also on a connection kept alive', async () => {
    // Removal voids certificates issued at or before it; these are minutes apart, as a re-join is.
    const b = await memberOf(await caOfServer(), 'node-b', { now: new Date(Date.now() - 300_000) });
    const fetchB = memberFetch(b);
    expect((await fetchB(new Request(`${url}/vms`))).status).toBe(200);
    server.removals.merge([{ nodeId: 'node-b', removedAt: new Date(Date.now() - 120_000).toISOString(), by: 'node-a' }]);
    const r = await fetchB(new Request(`${url}/vms`));
    expect(r.status).toBe(403);
    expect((await r.json()).detail).toMatch(/node node-b was removed from the cluster by node-a/);
    // A new certificate issued after the removal is a member again.
    const again = await memberOf(await caOfServer(), 'node-b');
    expect((await memberFetch(again)(new Request(`${url}/vms`))).status).toBe(200);
  });

  it('a member refuses to talk to a server whose node was removed', async () => {
    const c = await memberOf(await caOfServer(), 'node-c');
    c.removals.merge([{ nodeId: 'node-a', removedAt: new Date(Date.now() + 60_000).toISOString(), by: 'node-c' }]);
    await expect(memberFetch(c)(new Request(`${url}/healthz`))).rejects.toThrow();
  });

  it('garbage and silence on the port do not hurt it', async () => {
    await new Promise<void>((resolve) => {
      const s = connect({ host: '127.0.0.1', port: served.port, rejectUnauthorized: false });
      s.on('secureConnect', () => s.end('\x00\x01garbage\r\n\r\n'));
      s.resume();
      s.on('close', () => resolve());
      s.on('error', () => resolve());
    });
    const plain = `http://127.0.0.1:${served.port}`;
    const huge = await fetch(`${plain}/healthz`, { headers: { 'x-big': 'a'.repeat(64 * 1024) } });
    expect(huge.status).toBe(431);
    expect(huge.headers.get('content-type')).toBe('application/problem+json');
    expect((await huge.json()).type).toBe('urn:cps:problem:headers-too-large');
    // Bad framing over plain HTTP: Node's 400, said as problem+json.
    const bad = await new Promise<string>((resolve) => {
      const s = createConnection({ host: '127.0.0.1', port: served.port }, () => s.end('GET / HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n'));
      let t = '';
      s.on('data', (d) => (t += d));
      s.on('close', () => resolve(t));
      s.on('error', () => resolve(t));
    });
    expect(bad).toMatch(/^HTTP\/1\.1 400 /);
    expect(bad).toContain('content-type: application/problem+json');
    expect(bad).toContain('urn:cps:problem:bad-request');
    expect((await fetch(`${plain}/healthz`)).status).toBe(200);
  });
});

// The tests need the server's CA to mint more certificates; keep it from the start.
let caCache: Awaited<ReturnType<typeof newCa>> | undefined;
async function caOfServer() {
  return caCache!;
}
