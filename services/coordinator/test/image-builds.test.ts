import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { ProblemError, problemErrorHandler } from '@cps/common';
import { storageClient, viaApp } from '@cps/openapi';
import { requireAdmin } from '../src/accounts/authenticate.ts';
import { imageBuildRoutes } from '../src/api/image-builds.ts';
import { accountsHarness, bearer, contract, passwords } from './accounts-harness.ts';

const build = { recipe: 'debian-12-server', state: 'running', startedAt: '2026-12-02T18:00:00.000Z', lines: ['debian-12-server: reading the mirror\'s package lists'] };

/** Storage as far as builds go: it records what it was asked and answers as its contract says. */
function fakeStorage() {
  const seen: Array<{ method: string; path: string; body?: unknown }> = [];
  let running = false;
  const app = new Hono();
  app.onError(problemErrorHandler());
  app.post('/images/builds', async (c) => {
    const body = await c.req.json();
    seen.push({ method: 'POST', path: '/images/builds', body });
    if (body.recipe !== 'debian-12-server') throw new ProblemError('not-found', `no image recipe ${body.recipe}`);
    const status = running ? 200 : 202;
    running = true;
    return c.json(build, status);
  });
  app.get('/images/builds/:recipe', (c) => {
    seen.push({ method: 'GET', path: c.req.path });
    if (!running) throw new ProblemError('not-found', 'no build of debian-12-server since storage started');
    return c.json({ ...build, state: 'succeeded', cached: true, finishedAt: '2026-12-02T18:00:03.000Z' });
  });
  return { seen, client: storageClient(viaApp(app)) };
}

async function harness() {
  const h = await accountsHarness();
  const storage = fakeStorage();
  h.app.route('/', imageBuildRoutes({ contract, storage: storage.client, admin: requireAdmin() }));
  const adminToken = (await h.tokenFor(await h.cookieFor('admin', h.adminPassword))).token;
  const aliceToken = (await h.tokenFor(await h.cookieFor('alice', passwords.alice))).token;
  const as = (token: string | undefined, method: string, path: string, body?: unknown) =>
    h.call(path, { method, headers: { ...(token ? bearer(token) : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}) });
  return { ...h, storage, adminToken, aliceToken, as };
}

describe('/api/images/builds (admin)', () => {
  it('refuses anyone but an admin, before storage hears of it', async () => {
    const h = await harness();
    for (const [method, path, body] of [['POST', '/api/images/builds', { recipe: 'debian-12-server' }], ['GET', '/api/images/builds/debian-12-server', undefined]] as const) {
      expect((await h.as(undefined, method, path, body)).status).toBe(401);
      const r = await h.as(h.aliceToken, method, path, body);
      expect(r.status).toBe(403);
      expect(r.headers.get('content-type')).toMatch(/problem\+json/);
    }
    expect(h.storage.seen).toEqual([]);
  });

  it('starts a build on storage (202), answers the running one (200), and shows how it went', async () => {
    const h = await harness();
    const first = await h.as(h.adminToken, 'POST', '/api/images/builds', { recipe: 'debian-12-server' });
    expect(first.status).toBe(202);
    expect(await first.json()).toEqual(build);
    expect((await h.as(h.adminToken, 'POST', '/api/images/builds', { recipe: 'debian-12-server' })).status).toBe(200);
    const got = await h.as(h.adminToken, 'GET', '/api/images/builds/debian-12-server');
    expect(got.status).toBe(200);
    expect(await got.json()).toMatchObject({ state: 'succeeded', cached: true });
    expect(h.storage.seen.map((s) => s.method)).toEqual(['POST', 'POST', 'GET']);
    expect(h.storage.seen[0]!.body).toEqual({ recipe: 'debian-12-server' });
  });

  it('passes storage\'s 404 on (no such recipe, no build yet) and refuses a hostile body or path itself', async () => {
    const h = await harness();
    expect((await h.as(h.adminToken, 'GET', '/api/images/builds/debian-12-server')).status).toBe(404);
    expect((await h.as(h.adminToken, 'POST', '/api/images/builds', { recipe: 'windows-11' })).status).toBe(404);
    const seenBefore = h.storage.seen.length;
    for (const body of [{ recipe: '../etc' }, { recipe: 'debian-12-server', extra: 1 }, {}, '{"recipe":']) {
      expect((await h.as(h.adminToken, 'POST', '/api/images/builds', body)).status).toBe(400);
    }
    expect((await h.as(h.adminToken, 'GET', '/api/images/builds/UPPER')).status).toBe(400);
    expect(h.storage.seen.length).toBe(seenBefore);
  });
});
