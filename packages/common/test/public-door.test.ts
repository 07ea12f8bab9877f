import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import {
  crossSiteGuard,
  doorLists,
  hostAllowList,
  loopbackDoor,
  originOnList,
  parsePublicHosts,
  problemErrorHandler,
  problemNotFound,
  publicDoor,
  publicHostsVar,
} from '../src/index.ts';

// A node reached as localhost, its LAN address and its DNS name, on the coordinator's port.
const door = doorLists({ port: 8080, advertiseAddress: '10.0.0.5', nodeId: 'node-a', hostName: 'WS-17', publicHosts: ['cps.lab.example'] });

/** An app behind the door whose handlers count how often they ran (the state an attacker wants to change). */
function appBehind(options = door, rawBody?: (method: string, path: string) => boolean) {
  const ran: string[] = [];
  const app = new Hono();
  app.onError(problemErrorHandler());
  app.notFound(problemNotFound);
  app.use('*', publicDoor({ ...options, rawBody }));
  app.get('/api/tasks', (c) => c.json({ items: [] }));
  app.post('/api/tasks', (c) => (ran.push('POST'), c.json({}, 202)));
  app.delete('/api/tasks/:id', (c) => (ran.push('DELETE'), c.json({}, 202)));
  app.put('/upload', (c) => (ran.push('PUT'), c.json({}, 201)));
  app.get('/ws', (c) => (ran.push('WS'), c.text('would upgrade')));
  return { app, ran };
}

const send = (app: Hono, method: string, path: string, headers: Record<string, string>, body?: string) =>
  app.request(`http://localhost${path}`, { method, headers, body });

async function problem(res: Response) {
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  return (await res.json()) as { type: string; status: number; detail: string };
}

const json = { 'content-type': 'application/json' };
const wsHeaders = { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' };

describe('doorLists', () => {
  it('lists each name with the port, in Host and in Origin form, canonical and lowercase', () => {
    expect(door.hosts).toEqual(['localhost:8080', '127.0.0.1:8080', '[::1]:8080', '10.0.0.5:8080', 'node-a:8080', 'ws-17:8080', 'cps.lab.example:8080']);
    expect(door.origins).toContain('http://cps.lab.example:8080');
    expect(door.origins).toContain('https://[::1]:8080');
    expect(doorLists({ port: 8084, advertiseAddress: 'FE80:0:0::1' }).hosts).toContain('[fe80::1]:8084');
  });

  it('adds the bare name on a default port, as a browser sends it', () => {
    const d = doorLists({ port: 80, publicHosts: ['cps.lab.example'] });
    expect(d.hosts).toEqual(expect.arrayContaining(['cps.lab.example', 'cps.lab.example:80']));
    expect(d.origins).toEqual(expect.arrayContaining(['http://cps.lab.example', 'https://cps.lab.example:80']));
  });

  it('skips a name that is no host name', () => {
    expect(doorLists({ port: 1, nodeId: 'a/b@evil' }).hosts).toHaveLength(3);
  });
});

describe('parsePublicHosts (CPS_PUBLIC_HOSTS)', () => {
  it('reads comma-separated names and addresses', () => {
    expect(parsePublicHosts(' cps.lab.example, 10.0.0.5,,[FE80::1], CPS.lab.example ')).toEqual(['cps.lab.example', '10.0.0.5', '[fe80::1]']);
    expect(parsePublicHosts(undefined)).toEqual([]);
  });

  it.each(['http://cps.lab.example', 'cps.lab.example:8080', '*.lab.example', 'a b', 'cps.lab.example/x', 'evil.example.'])('refuses %j, naming the setting', (bad) => {
    expect(() => parsePublicHosts(`ok.example,${bad}`)).toThrow(/^CPS_PUBLIC_HOSTS: .* is not a host name/);
  });

  it('is a zod variable for a service config', () => {
    expect(publicHostsVar.parse(undefined)).toEqual([]);
    expect(publicHostsVar.parse('cps.lab.example')).toEqual(['cps.lab.example']);
    expect(publicHostsVar.safeParse('x:1').success).toBe(false);
  });
});

describe('hostAllowList', () => {
  const app = new Hono();
  app.onError(problemErrorHandler());
  app.use('*', hostAllowList({ hosts: door.hosts }));
  app.get('/', (c) => c.text('ok'));

  it.each(['localhost:8080', '127.0.0.1:8080', '[::1]:8080', '10.0.0.5:8080', 'node-a:8080', 'CPS.LAB.EXAMPLE:8080'])('lets Host %j in', async (host) => {
    expect((await send(app, 'GET', '/', { host })).status).toBe(200);
  });

  it('refuses a foreign Host, also for a read, and says how to allow a name', async () => {
    const res = await send(app, 'GET', '/', { host: 'evil.example:8080' });
    expect(res.status).toBe(403);
    const body = await problem(res);
    expect(body.type).toBe('urn:cps:problem:host-not-allowed');
    expect(body.detail).toContain('"evil.example:8080"');
    expect(body.detail).toContain('add it to CPS_PUBLIC_HOSTS');
    // The page that reads this answer learns nothing of the node's own names.
    expect(body.detail).not.toMatch(/10\.0\.0\.5|node-a|cps\.lab/);
  });

  it.each([
    ['a known name on another port', 'localhost:8081'],
    ['a known name without its port', 'localhost'],
    ['a name that starts like a known one', 'localhost.evil.example:8080'],
    ['a malformed header', 'localhost:8080/x@evil'],
    ['two Host headers joined', 'localhost:8080, evil.example'],
  ])('refuses %s', async (_, host) => {
    const res = await send(app, 'GET', '/', { host });
    expect(res.status).toBe(403);
    expect((await problem(res)).type).toBe('urn:cps:problem:host-not-allowed');
  });

  it('refuses a request without a Host header', async () => {
    const res = await app.request('/');
    expect(res.status).toBe(403);
  });

  it('allows any port of the loopback names by default, and nothing else', async () => {
    const loop = new Hono();
    loop.onError(problemErrorHandler());
    loop.use('*', hostAllowList({ hosts: loopbackDoor.hosts }));
    loop.get('/', (c) => c.text('ok'));
    expect((await send(loop, 'GET', '/', { host: '127.0.0.1:54321' })).status).toBe(200);
    expect((await send(loop, 'GET', '/', { host: 'localhost' })).status).toBe(200);
    expect((await send(loop, 'GET', '/', { host: '[::1]:1' })).status).toBe(200);
    expect((await send(loop, 'GET', '/', { host: '127.0.0.2:54321' })).status).toBe(403);
    expect((await send(loop, 'GET', '/', { host: 'localhost:99999x' })).status).toBe(403);
  });
});

describe('publicDoor against another site', () => {
  const host = 'cps.lab.example:8080';

  it('refuses the DNS rebinding pair (Host and Origin both evil.example, Origin == Host) before the handler', async () => {
    const { app, ran } = appBehind();
    for (const [method, path] of [['DELETE', '/api/tasks/t-1'], ['POST', '/api/tasks'], ['GET', '/api/tasks']] as const) {
      const res = await send(app, method, path, { host: 'evil.example:8080', origin: 'http://evil.example:8080', 'sec-fetch-site': 'same-origin', ...json }, method === 'POST' ? '{}' : undefined);
      expect(res.status).toBe(403);
      expect((await problem(res)).type).toBe('urn:cps:problem:host-not-allowed');
    }
    expect(ran).toEqual([]);
  });

  it('refuses a cross-site text/plain POST (the form that shut a guest down)', async () => {
    const { app, ran } = appBehind();
    const res = await send(app, 'POST', '/api/tasks', { host, origin: 'http://evil.example', 'content-type': 'text/plain' }, '{"name":"x"}');
    expect(res.status).toBe(403);
    expect((await problem(res)).type).toBe('urn:cps:problem:cross-site-request');
    expect(ran).toEqual([]);
  });

  it.each([
    ['text/plain;charset=UTF-8', '{"name":"x"}'],
    ['application/x-www-form-urlencoded', 'name=x'],
    ['multipart/form-data; boundary=b', '--b\r\ncontent-disposition: form-data; name="x"\r\n\r\n1\r\n--b--\r\n'],
    ['  Text/Plain ; x=application/json', '{}'],
    ['', '{}'],
  ])('refuses a simple POST (%j) even with no Origin or Sec-Fetch-Site (an old browser, a stripped referrer)', async (type, body) => {
    const { app, ran } = appBehind();
    const res = await send(app, 'POST', '/api/tasks', { host, 'content-type': type }, body);
    expect(res.status).toBe(403);
    const p = await problem(res);
    expect(p.type).toBe('urn:cps:problem:cross-site-request');
    expect(p.detail).toContain('send JSON (content-type: application/json) or the header x-cps-request: 1');
    expect(ran).toEqual([]);
  });

  it('refuses a POST without a content type (fetch with mode no-cors and no body)', async () => {
    const { app, ran } = appBehind();
    const res = await send(app, 'POST', '/api/tasks', { host });
    expect(res.status).toBe(403);
    expect(ran).toEqual([]);
  });

  it('refuses a DELETE that carries a simple content type', async () => {
    const { app, ran } = appBehind();
    const res = await send(app, 'DELETE', '/api/tasks/t-1', { host, 'content-type': 'text/plain' }, 'x');
    expect(res.status).toBe(403);
    expect(ran).toEqual([]);
  });

  it('lets a JSON POST from an allowed origin through', async () => {
    const { app, ran } = appBehind();
    const res = await send(app, 'POST', '/api/tasks', { host, origin: 'http://cps.lab.example:8080', 'sec-fetch-site': 'same-origin', ...json }, '{}');
    expect(res.status).toBe(202);
    expect(ran).toEqual(['POST']);
  });

  it('lets a JSON POST and a bare DELETE without Origin through (the CLI, curl)', async () => {
    const { app, ran } = appBehind();
    expect((await send(app, 'POST', '/api/tasks', { host: 'localhost:8080', ...json }, '{}')).status).toBe(202);
    expect((await send(app, 'DELETE', '/api/tasks/t-1', { host: '10.0.0.5:8080' })).status).toBe(202);
    expect(ran).toEqual(['POST', 'DELETE']);
  });

  it.each([
    ['another site', 'http://evil.example'],
    ['another port of this node', 'http://cps.lab.example:8084'],
    ['a sandboxed page or a stripped referrer', 'null'],
    ['another scheme', 'chrome-extension://abc'],
  ])('refuses a JSON POST from %s', async (_, origin) => {
    const { app, ran } = appBehind();
    const res = await send(app, 'POST', '/api/tasks', { host, origin, ...json }, '{}');
    expect(res.status).toBe(403);
    const p = await problem(res);
    expect(p.type).toBe('urn:cps:problem:cross-site-request');
    expect(p.detail).toContain(JSON.stringify(origin));
    expect(ran).toEqual([]);
  });

  it.each(['cross-site', 'same-site'])('refuses an unsafe request marked Sec-Fetch-Site %s without an allowed Origin', async (site) => {
    const { app, ran } = appBehind();
    const del = await send(app, 'DELETE', '/api/tasks/t-1', { host, 'sec-fetch-site': site });
    expect(del.status).toBe(403);
    expect((await problem(del)).detail).toContain('Sec-Fetch-Site');
    expect((await send(app, 'POST', '/api/tasks', { host, 'sec-fetch-site': site, ...json }, '{}')).status).toBe(403);
    expect(ran).toEqual([]);
    // An allowed Origin outweighs it (a page of this node on another of its names is same-site).
    expect((await send(app, 'POST', '/api/tasks', { host, origin: 'http://localhost:8080', 'sec-fetch-site': site, ...json }, '{}')).status).toBe(202);
  });

  it('lets reads from anywhere on the node through (the same-origin policy guards what they return)', async () => {
    const { app } = appBehind();
    expect((await send(app, 'GET', '/api/tasks', { host, origin: 'http://evil.example', 'sec-fetch-site': 'cross-site' })).status).toBe(200);
  });

  it('lets a simple POST through that carries x-cps-request: 1 (a browser preflights that header)', async () => {
    const { app, ran } = appBehind();
    expect((await send(app, 'POST', '/api/tasks', { host, 'x-cps-request': '1' })).status).toBe(202);
    expect((await send(app, 'POST', '/api/tasks', { host, 'x-cps-request': '0', 'content-type': 'text/plain' }, 'x')).status).toBe(403);
    expect(ran).toEqual(['POST']);
  });

  it('asks a raw-body route for x-cps-request whatever its content type', async () => {
    const { app, ran } = appBehind(door, (method, path) => method === 'PUT' && path === '/upload');
    const bare = await send(app, 'PUT', '/upload', { host, 'content-type': 'application/octet-stream' }, 'bytes');
    expect(bare.status).toBe(403);
    expect((await problem(bare)).detail).toContain('takes a raw body and needs the header x-cps-request: 1');
    expect((await send(app, 'PUT', '/upload', { host, 'content-type': 'text/plain', 'x-cps-request': '1' }, 'bytes')).status).toBe(201);
    expect(ran).toEqual(['PUT']);
  });
});

describe('publicDoor on a WebSocket upgrade', () => {
  const host = 'localhost:8080';

  it('refuses an upgrade without Origin', async () => {
    const { app, ran } = appBehind();
    const res = await send(app, 'GET', '/ws', { host, ...wsHeaders });
    expect(res.status).toBe(403);
    const p = await problem(res);
    expect(p.type).toBe('urn:cps:problem:cross-site-request');
    expect(p.detail).toContain('must carry an Origin header');
    expect(ran).toEqual([]);
  });

  it('refuses an upgrade from a foreign Origin', async () => {
    const { app, ran } = appBehind();
    const res = await send(app, 'GET', '/ws', { host, origin: 'http://evil.example', ...wsHeaders });
    expect(res.status).toBe(403);
    expect((await problem(res)).detail).toContain('"http://evil.example" may not open a WebSocket');
    expect(ran).toEqual([]);
  });

  it('refuses an Origin equal to a spoofed Host: the Host check stops it first', async () => {
    const { app, ran } = appBehind();
    const res = await send(app, 'GET', '/ws', { host: 'evil.example:8080', origin: 'http://evil.example:8080', ...wsHeaders });
    expect(res.status).toBe(403);
    expect((await problem(res)).type).toBe('urn:cps:problem:host-not-allowed');
    expect(ran).toEqual([]);
    // And the Origin rule alone would stop it too: it does not compare with Host.
    const guard = new Hono();
    guard.onError(problemErrorHandler());
    guard.use('*', crossSiteGuard({ origins: door.origins }));
    guard.get('/ws', (c) => c.text('upgraded'));
    expect((await send(guard, 'GET', '/ws', { host: 'evil.example:8080', origin: 'http://evil.example:8080', ...wsHeaders })).status).toBe(403);
  });

  it('lets an upgrade from an allowed Origin through', async () => {
    const { app, ran } = appBehind();
    const res = await send(app, 'GET', '/ws', { host: 'cps.lab.example:8080', origin: 'https://cps.lab.example:8080', ...wsHeaders });
    expect(res.status).toBe(200);
    expect(ran).toEqual(['WS']);
  });
});

describe('originOnList', () => {
  it('matches exact origins and any-port entries, never a missing or null one', () => {
    expect(originOnList('http://localhost:8084', loopbackDoor.origins)).toBe(true);
    expect(originOnList('http://LOCALHOST:8084', loopbackDoor.origins)).toBe(true);
    expect(originOnList('http://localhost', loopbackDoor.origins)).toBe(true);
    expect(originOnList('http://localhost.evil.example:8084', loopbackDoor.origins)).toBe(false);
    expect(originOnList(undefined, loopbackDoor.origins)).toBe(false);
    expect(originOnList('null', loopbackDoor.origins)).toBe(false);
    expect(originOnList('http://10.0.0.5:8080', door.origins)).toBe(true);
    expect(originOnList('http://10.0.0.5:8081', door.origins)).toBe(false);
  });
});
