import { once } from 'node:events';
import { request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { bodyLimit, Contract, problemErrorHandler } from '../src/index.ts';

const contract = new Contract({
  components: {
    schemas: {
      Req: {
        type: 'object',
        required: ['name', 'n'],
        properties: { name: { type: 'string', maxLength: 8 }, n: { type: 'integer', minimum: 1 } },
        additionalProperties: false,
      },
    },
  },
});

const app = new Hono();
app.post('/x', contract.json<{ name: string; n: number }>('Req'), (c) => c.json(c.req.valid('json')));
app.onError(problemErrorHandler());

const post = (body: string, type = 'application/json') =>
  app.request('/x', { method: 'POST', body, headers: { 'content-type': type } });

/** A contract typed by its schema map, as the services' are (`Contract.fromFile<CoordinatorSchemas>`). */
type Schemas = { Req: { name: string; n: number } };
const typed = new Contract<Schemas>({ components: { schemas: { Req: { type: 'object', required: ['name', 'n'], properties: { name: { type: 'string' }, n: { type: 'integer' } }, additionalProperties: false } } } });

describe('a contract typed by schema name', () => {
  it('gives a check the schema\'s type from its name alone, and refuses what does not match at run time', () => {
    const req = typed.check('Req', { name: 'a', n: 1 });
    // Type-level: the result is Schemas['Req'] (tsc runs over the tests in npm test).
    const n: number = req.n;
    expect(n).toBe(1);
    // @ts-expect-error -- a schema name the map does not have is a type error
    expect(() => typed.check('Nope', {})).toThrow();
    expect(() => typed.check('Req', { name: 'a' })).toThrow(/n/);
  });
});

describe('Contract', () => {
  it('passes a valid body through', async () => {
    const res = await post(JSON.stringify({ name: 'a', n: 2 }));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ name: 'a', n: 2 });
  });

  it.each([
    ['wrong type', JSON.stringify({ name: 'a', n: 'two' })],
    ['extra field', JSON.stringify({ name: 'a', n: 1, admin: true })],
    ['too long', JSON.stringify({ name: 'x'.repeat(10_000), n: 1 })],
    ['missing field', JSON.stringify({ name: 'a' })],
    ['not an object', JSON.stringify([1, 2])],
    ['null', 'null'],
  ])('rejects %s with validation-failed and a located error', async (_, body) => {
    const res = await post(body);
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    const p = await res.json();
    expect(p.type).toBe('urn:cps:problem:validation-failed');
    expect(p.errors.length).toBeGreaterThan(0);
    expect(p.errors[0].location).toMatch(/^body/);
  });

  it('rejects malformed JSON with bad-request, not a crash', async () => {
    const res = await post('{"name": "a", ');
    expect(res.status).toBe(400);
    expect((await res.json()).type).toMatch(/^urn:cps:problem:/);
  });
});

/** A body of `chunks` chunks of `size` bytes, made only as it is pulled; `pulled` counts what was. */
function countedSource(chunks: number, size: number) {
  const counter = { pulled: 0 };
  let sent = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent === chunks) return controller.close();
      sent++;
      counter.pulled += size;
      controller.enqueue(new Uint8Array(size).fill(0x20));
    },
  });
  return { stream, counter };
}

/** A tiny app: bodyLimit, then a handler that parses what it got and says how long it was. */
function limitedApp(max: number) {
  const app = new Hono();
  let handled = 0;
  app.onError(problemErrorHandler());
  app.post('/x', bodyLimit(max), async (c) => {
    handled++;
    return c.json({ bytes: (await c.req.arrayBuffer()).byteLength });
  });
  return { app, handled: () => handled };
}

describe('bodyLimit', () => {
  const post = (app: Hono, body: BodyInit, headers: Record<string, string> = {}) =>
    app.request('/x', { method: 'POST', body, headers, duplex: 'half' } as RequestInit);

  it('passes a body within the limit through whole, with or without Content-Length', async () => {
    const { app } = limitedApp(1024);
    expect(await (await post(app, 'x'.repeat(1024))).json()).toEqual({ bytes: 1024 });
    const { stream } = countedSource(4, 256);
    expect(await (await post(app, stream)).json()).toEqual({ bytes: 1024 });
  });

  it('refuses a declared length over the limit unread', async () => {
    const { app, handled } = limitedApp(1024);
    const { stream, counter } = countedSource(100, 1024);
    const res = await post(app, stream, { 'content-length': String(100 * 1024) });
    expect(res.status).toBe(413);
    expect(counter.pulled).toBeLessThanOrEqual(2 * 1024); // at most what the stream pre-fetches
    expect(handled()).toBe(0);
  });

  it.each([
    ['no Content-Length (chunked)', {}],
    ['a Content-Length that lies', { 'content-length': '10' }],
  ])('cuts off a streamed body with %s once it passes the limit, with a 413 problem', async (_what, headers) => {
    const { app, handled } = limitedApp(64 * 1024);
    const { stream, counter } = countedSource(10_000, 1024); // 10 MB offered
    const res = await post(app, stream, headers);
    expect(res.status).toBe(413);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(await res.json()).toMatchObject({ type: 'urn:cps:problem:payload-too-large', status: 413 });
    expect(handled()).toBe(0);
    // Read up to the first chunk past the limit (plus what the stream queues ahead), no further.
    expect(counter.pulled).toBeLessThanOrEqual(64 * 1024 + 3 * 1024);
  });

  it('over a real socket: a chunked body of many MB is answered 413 after reading little of it', async () => {
    const max = 64 * 1024;
    const { app: limited, handled } = limitedApp(max);
    // Counts what the server pulled from the socket, before bodyLimit sees it.
    let serverRead = 0;
    const app = new Hono();
    app.use('*', async (c, next) => {
      const counting = new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, ctl) {
          serverRead += chunk.byteLength;
          ctl.enqueue(chunk);
        },
      });
      c.req.raw = new Request(c.req.raw, { body: c.req.raw.body!.pipeThrough(counting), duplex: 'half' } as RequestInit);
      await next();
    });
    app.route('/', limited);
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;

    const total = 64 << 20;
    const chunk = 64 * 1024;
    let pulled = 0;
    let answered = false;
    const source = new Readable({
      read() {
        if (answered || pulled >= total) return this.push(null);
        pulled += chunk;
        this.push(Buffer.alloc(chunk, 0x20));
      },
    });
    try {
      const res = await new Promise<IncomingMessage>((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port, path: '/x', method: 'POST', headers: { 'content-type': 'application/json' } }, (r) => {
          answered = true;
          resolve(r);
        });
        req.on('error', (err) => (answered ? undefined : reject(err)));
        source.pipe(req);
      });
      let text = '';
      for await (const d of res) text += d;
      expect(res.statusCode).toBe(413);
      expect(res.headers['transfer-encoding'] ?? 'none').not.toBe('chunked'); // the answer, not an echo
      expect(JSON.parse(text)).toMatchObject({ type: 'urn:cps:problem:payload-too-large' });
      expect(handled()).toBe(0);
      // The server pulled one chunk past the limit at most, not the many MB on offer.
      expect(serverRead).toBeLessThanOrEqual(max + chunk);
      expect(pulled).toBeLessThan(total / 4);
    } finally {
      source.destroy();
      (server as Server).closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
