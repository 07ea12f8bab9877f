import { once } from 'node:events';
import type { Server } from 'node:http';
import { createLogger, doorLists, problemErrorHandler, problemNotFound, publicDoor, serveApp, type DoorLists, type Served } from '@cps/common';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { assertConsoleOrigin, originAllowed } from '../src/origin.ts';
import { attachWebSockets, type UpgradeBindings } from '../src/upgrade.ts';

const door = doorLists({ port: 8084, advertiseAddress: '10.0.0.5', publicHosts: ['cps.lab.example'] });

describe('originAllowed', () => {
  it.each(['http://localhost:8084', 'http://LOCALHOST:8084', 'https://10.0.0.5:8084', 'http://[::1]:8084', 'http://cps.lab.example:8084'])('allows Origin %j', (origin) =>
    expect(originAllowed(origin, door.origins)).toBe(true),
  );

  it.each([
    ['no Origin (not a browser, or a forged request)', undefined],
    ['another site', 'http://evil.example'],
    ['a rebinding page (its Origin equals the Host it sends)', 'http://evil.example:8084'],
    ["the node's coordinator port", 'http://localhost:8080'],
    ['a sandboxed page', 'null'],
    ['a file', 'file://'],
    ['an extension', 'chrome-extension://abc'],
    ['a look-alike name', 'http://localhost.evil.example:8084'],
    ['not a URL', 'not a url'],
  ])('refuses %s', (_, origin) => expect(originAllowed(origin, door.origins)).toBe(false));

  it('throws cross-site-request naming the page, or saying there is no Origin', () => {
    expect(() => assertConsoleOrigin('http://localhost:8084', door.origins)).not.toThrow();
    expect(() => assertConsoleOrigin(undefined, door.origins)).toThrow(/must carry the Origin header/);
    expect(() => assertConsoleOrigin('http://evil.example', door.origins)).toThrow(/"http:\/\/evil\.example" may not open consoles/);
  });
});

// Through the gateway's own upgrade path (upgrade.ts builds the Request with a fixed URL, so the
// Host rule must read the header): real sockets, a real WebSocket client setting what a page would.
describe('a console WebSocket through the door and origin.ts', () => {
  let served: Served;
  let lists: DoorLists;
  const opened: string[] = [];

  beforeAll(async () => {
    const log = createLogger('vnc-gateway-test', 'silent');
    const app = new Hono<{ Bindings: UpgradeBindings }>();
    app.onError(problemErrorHandler(log));
    app.notFound(problemNotFound);
    app.use('/console/*', (c, next) => publicDoor(lists)(c, next));
    app.get('/console/:taskId/websockify', (c) => {
      if (c.env?.upgrader) assertConsoleOrigin(c.req.header('origin'), lists.origins);
      const upgrader = c.env?.upgrader;
      if (!upgrader) return c.text('not an upgrade', 400);
      return upgrader.accept(
        (ws) => {
          opened.push(c.req.param('taskId'));
          ws.send('screen');
        },
        () => undefined,
      );
    });
    served = await serveApp(app, { port: 0, hostname: '127.0.0.1', log }, (server, gated) => attachWebSockets(server as Server, gated, { log }));
    lists = doorLists({ port: served.port, advertiseAddress: '10.0.0.5' });
  });
  afterAll(() => served?.close());

  const url = () => `ws://127.0.0.1:${served.port}/console/t-1/websockify`;

  function refusal(ws: WebSocket): Promise<{ status: number; body: { type: string; detail: string } }> {
    return new Promise((resolve, reject) => {
      ws.once('open', () => reject(new Error('the WebSocket opened')));
      ws.once('unexpected-response', (_req, res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
      });
      ws.once('error', () => undefined);
    });
  }

  it('refuses an upgrade without Origin', async () => {
    const r = await refusal(new WebSocket(url()));
    expect(r.status).toBe(403);
    expect(r.body.type).toBe('urn:cps:problem:cross-site-request');
    expect(opened).toEqual([]);
  });

  it('refuses an upgrade from a foreign Origin', async () => {
    const r = await refusal(new WebSocket(url(), { origin: 'http://evil.example' }));
    expect(r.status).toBe(403);
    expect(r.body.detail).toContain('http://evil.example');
    expect(opened).toEqual([]);
  });

  it('refuses the rebinding pair: Origin equal to a spoofed Host', async () => {
    const evil = `evil.example:${served.port}`;
    const r = await refusal(new WebSocket(url(), { origin: `http://${evil}`, headers: { host: evil } }));
    expect(r.status).toBe(403);
    expect(r.body.type).toBe('urn:cps:problem:host-not-allowed');
    expect(opened).toEqual([]);
  });

  it("opens for a page of the node's own origin, and it gets the screen", async () => {
    const ws = new WebSocket(url(), { origin: `http://127.0.0.1:${served.port}` });
    const [data] = await once(ws, 'message');
    expect(String(data)).toBe('screen');
    expect(opened).toEqual(['t-1']);
    ws.close();
  });
});
