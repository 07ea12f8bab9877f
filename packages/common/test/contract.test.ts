import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { Contract, problemErrorHandler } from '../src/index.ts';

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
