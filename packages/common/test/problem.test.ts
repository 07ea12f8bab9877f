import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { describe, expect, it } from 'vitest';
import { ProblemError, problemErrorHandler, problemNotFound, problemTypes, problemTypeUri } from '../src/index.ts';

function appThrowing(err: unknown) {
  const app = new Hono();
  app.get('/boom', () => {
    throw err;
  });
  app.onError(problemErrorHandler());
  app.notFound(problemNotFound);
  return app;
}

describe('problem+json', () => {
  it('renders a ProblemError with its stable type, status and detail', async () => {
    const res = await appThrowing(new ProblemError('insufficient-capacity', 'needs 512 MiB, 256 MiB free', { short: 'memory' })).request('/boom');
    expect(res.status).toBe(409);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(await res.json()).toEqual({
      type: 'urn:cps:problem:insufficient-capacity',
      title: problemTypes['insufficient-capacity'].title,
      status: 409,
      detail: 'needs 512 MiB, 256 MiB free',
      instance: '/boom',
      short: 'memory',
    });
  });

  it('never lets an extension overwrite the type or status', async () => {
    const res = await appThrowing(new ProblemError('conflict', 'x', { type: 'evil', status: 200 })).request('/boom');
    const body = await res.json();
    expect(body.type).toBe(problemTypeUri('conflict'));
    expect(body.status).toBe(409);
  });

  it('maps HTTPException (e.g. malformed JSON) to bad-request', async () => {
    const res = await appThrowing(new HTTPException(400, { message: 'Malformed JSON in request body' })).request('/boom');
    expect(res.status).toBe(400);
    expect((await res.json()).type).toBe('urn:cps:problem:bad-request');
  });

  it('hides unknown errors behind an internal problem', async () => {
    const res = await appThrowing(new Error('secret stack detail')).request('/boom');
    expect(res.status).toBe(500);
    const body = await res.json();
    expect(body.type).toBe('urn:cps:problem:internal');
    expect(JSON.stringify(body)).not.toContain('secret');
  });

  it('answers unknown routes with route-not-found', async () => {
    const res = await appThrowing(null).request('/nope');
    expect(res.status).toBe(404);
    expect((await res.json()).type).toBe('urn:cps:problem:route-not-found');
  });
});
