import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ProblemError } from '@cps/common';
import { createApp } from '../src/app.ts';
import { debian12Server, type BuildDeps, type BuildResult, type ImageRecipe } from '../src/image-build.ts';
import { ImageBuilds } from '../src/image-builds.ts';
import { makeFixture, memoryLogger, type Fixture } from './fixture.ts';

interface Pending {
  recipe: ImageRecipe;
  d: BuildDeps;
  resolve: (r: BuildResult) => void;
  reject: (e: unknown) => void;
}

let f: Fixture;
let pending: Pending[];
let app: ReturnType<typeof createApp>;
const clock = { now: new Date('2026-12-02T18:00:00Z') };
const flush = () => new Promise((r) => setImmediate(r));

beforeEach(async () => {
  f = await makeFixture();
  pending = [];
  const imageBuilds = new ImageBuilds({
    recipes: new Map([[debian12Server.id, debian12Server]]),
    build: (recipe, d) => new Promise((resolve, reject) => pending.push({ recipe, d, resolve, reject })),
    deps: { run: async () => ({ stdout: '', stderr: '' }), layout: f.layout, now: () => clock.now },
    log: memoryLogger().log,
  });
  app = createApp({ images: f.images, disks: f.store, uploads: f.uploads, bootstraps: f.bootstraps, exports: f.exports, transfers: f.transfers, log: memoryLogger().log, imageBuilds });
});
afterEach(async () => {
  await f.cleanup();
});

const post = (body: unknown, type = 'application/json') => app.request('/images/builds', { method: 'POST', headers: { 'content-type': type }, body: typeof body === 'string' ? body : JSON.stringify(body) });

describe('POST /images/builds, GET /images/builds/{recipe}', () => {
  it('starts one build per recipe, answers the running one to a second request, shows its lines and its end', async () => {
    const first = await post({ recipe: 'debian-12-server' });
    expect(first.status).toBe(202);
    expect(await first.json()).toEqual({ recipe: 'debian-12-server', state: 'running', startedAt: '2026-12-02T18:00:00.000Z', lines: [] });
    expect(pending).toHaveLength(1);
    pending[0]!.d.progress('step one');

    const second = await post({ recipe: 'debian-12-server' });
    expect(second.status).toBe(200);
    expect((await second.json()).lines).toEqual(['step one']);
    expect(pending).toHaveLength(1);

    clock.now = new Date('2026-12-02T18:01:30Z');
    pending[0]!.resolve({ id: 'debian-12-server', inputHash: 'd'.repeat(64), cached: false, dir: '/x' });
    await flush();
    const got = await app.request('/images/builds/debian-12-server');
    expect(got.status).toBe(200);
    expect(await got.json()).toEqual({ recipe: 'debian-12-server', state: 'succeeded', startedAt: '2026-12-02T18:00:00.000Z', finishedAt: '2026-12-02T18:01:30.000Z', lines: ['step one'], cached: false, inputHash: 'd'.repeat(64) });

    // Once ended, a new request starts a new build.
    expect((await post({ recipe: 'debian-12-server' })).status).toBe(202);
    expect(pending).toHaveLength(2);
  });

  it('a failed build says why', async () => {
    await post({ recipe: 'debian-12-server' });
    pending[0]!.reject(new ProblemError('tool-failed', 'mmdebstrap exited with status 1: E: Unable to locate package nope'));
    await flush();
    const b = await (await app.request('/images/builds/debian-12-server')).json();
    expect(b).toMatchObject({ state: 'failed', error: expect.stringContaining('Unable to locate package nope') });
  });

  it('keeps only the last 200 lines', async () => {
    await post({ recipe: 'debian-12-server' });
    for (let i = 0; i < 250; i++) pending[0]!.d.progress(`line ${i}`);
    const b = await (await app.request('/images/builds/debian-12-server')).json();
    expect(b.lines).toHaveLength(200);
    expect(b.lines[0]).toBe('line 50');
  });

  it.each([
    ['an unknown recipe', { recipe: 'windows-11' }, 404],
    ['a recipe that is a path', { recipe: '../../etc' }, 400],
    ['an extra field', { recipe: 'debian-12-server', packages: ['evil'] }, 400],
    ['no recipe', {}, 400],
    ['not JSON', '{"recipe":', 400],
  ])('refuses %s (%s) and starts nothing', async (_what, body, status) => {
    const r = await post(body);
    expect(r.status).toBe(status);
    expect(r.headers.get('content-type')).toMatch(/problem\+json/);
    expect(pending).toHaveLength(0);
  });

  it('refuses a body that is not JSON by type, and answers 404 for a recipe never built, 400 for a hostile one', async () => {
    expect((await post({ recipe: 'debian-12-server' }, 'text/plain')).status).toBe(415);
    expect((await app.request('/images/builds/debian-12-server')).status).toBe(404);
    expect((await app.request('/images/builds/..%2F..%2Fetc')).status).toBe(400);
    expect(pending).toHaveLength(0);
  });
});
