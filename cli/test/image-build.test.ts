// cps image build against a real coordinator app (an admin's token) whose local storage is the real
// storage app with a build function the test controls, each on a loopback socket.
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import type { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, ProblemError } from '@cps/common';
import { storageClient } from '@cps/openapi';
import { Accounts } from '../../services/coordinator/src/accounts/accounts.ts';
import { MemoryAccountStore } from '../../services/coordinator/src/accounts/memory-store.ts';
import { createApp } from '../../services/coordinator/src/app.ts';
import { fakeCluster, fakeNode } from '../../services/coordinator/test/fakes.ts';
import { createApp as createStorageApp } from '../../services/storage/src/app.ts';
import { debian12Server, type BuildDeps, type BuildResult } from '../../services/storage/src/image-build.ts';
import { ImageBuilds } from '../../services/storage/src/image-builds.ts';
import { makeFixture, memoryLogger, type Fixture } from '../../services/storage/test/fixture.ts';
import { memoryIo } from '../src/io.ts';
import { imageBuild } from '../src/commands/image-build.ts';
import { run } from '../src/main.ts';

const listen = (app: Hono) =>
  new Promise<{ url: string; server: ServerType }>((resolve) => {
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (i: AddressInfo) => resolve({ url: `http://127.0.0.1:${i.port}`, server }));
  });

let f: Fixture;
let servers: ServerType[] = [];
let adminEnv: NodeJS.ProcessEnv;
let userEnv: NodeJS.ProcessEnv;
/** What the next build does once the CLI has looked at it once (the CLI's wait ends the step). */
let script: (d: BuildDeps) => Promise<BuildResult>;
const started: string[] = [];

beforeAll(async () => {
  f = await makeFixture();
  const imageBuilds = new ImageBuilds({
    recipes: new Map([[debian12Server.id, debian12Server]]),
    build: (recipe, d) => (started.push(recipe.id), script(d)),
    deps: { run: async () => ({ stdout: '', stderr: '' }), layout: f.layout, now: () => new Date('2026-12-02T18:00:00Z') },
    log: memoryLogger().log,
  });
  const storage = await listen(createStorageApp({ images: f.images, disks: f.store, uploads: f.uploads, bootstraps: f.bootstraps, exports: f.exports, transfers: f.transfers, log: memoryLogger().log, imageBuilds }));
  const accounts = new Accounts({ store: new MemoryAccountStore(), now: () => new Date() });
  const admin = (await accounts.ensureFirstAdmin())!;
  const alice = await accounts.createUser({ name: 'alice', password: 'alice-correct-horse' });
  const { tasks, placer, clientsFor } = fakeCluster([fakeNode('node-a', '127.0.0.1')]);
  const coordinator = await listen(createApp({ log: createLogger('t', 'silent'), tasks, placer, localStorage: storageClient({ baseUrl: storage.url }), clientsFor, accounts }));
  servers = [storage.server, coordinator.server];
  adminEnv = { CPS_TOKEN: (await accounts.createToken(admin.user.id, 'cli')).value, CPS_URL: coordinator.url, HOME: f.root };
  userEnv = { CPS_TOKEN: (await accounts.createToken(alice.id, 'cli')).value, CPS_URL: coordinator.url, HOME: f.root };
});
afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => s.close(() => r(undefined)))));
  await f.cleanup();
});

/** A build that reports `lines`, then waits for the CLI's first pause before it ends with `end`. */
function stepped(lines: string[], end: () => BuildResult) {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  script = async (d) => {
    for (const l of lines) d.progress(l);
    await gate;
    d.progress('last step');
    return end();
  };
  let waits = 0;
  return {
    wait: async () => {
      waits++;
      release();
      await new Promise((r) => setImmediate(r));
    },
    waits: () => waits,
  };
}

describe('cps image build', () => {
  it('starts the build, prints its progress lines as they come, and says when it is done', async () => {
    const s = stepped(['step one', 'step two'], () => ({ id: 'debian-12-server', inputHash: 'a'.repeat(64), cached: false, dir: '/x' }));
    const io = memoryIo(adminEnv);
    expect(await imageBuild(['debian-12-server'], io, s.wait)).toBe(0);
    expect(io.stderr).toEqual(['step one', 'step two', 'last step']);
    expect(io.stdout.join('\n')).toContain('debian-12-server built');
    expect(s.waits()).toBeGreaterThanOrEqual(1);
  });

  it('a cached build says so; --json prints the build', async () => {
    const s = stepped([], () => ({ id: 'debian-12-server', inputHash: 'b'.repeat(64), cached: true, dir: '/x' }));
    const io = memoryIo(adminEnv);
    expect(await imageBuild(['debian-12-server', '--json'], io, s.wait)).toBe(0);
    expect(JSON.parse(io.stdout.join('\n'))).toMatchObject({ state: 'succeeded', cached: true, inputHash: 'b'.repeat(64) });
  });

  it('a failed build exits 1 with the reason', async () => {
    const s = stepped(['installing'], () => {
      throw new ProblemError('tool-failed', 'mmdebstrap exited with status 1: E: Unable to locate package nope');
    });
    const io = memoryIo(adminEnv);
    expect(await imageBuild(['debian-12-server'], io, s.wait)).toBe(1);
    expect(io.stderr.at(-1)).toContain('Unable to locate package nope');
  });

  it('refuses a user who is not an admin, an unknown recipe and a bad name, through cps itself', async () => {
    const before = started.length;
    const user = memoryIo(userEnv);
    expect(await run(['image', 'build', 'debian-12-server'], user)).not.toBe(0);
    expect(user.stderr.join('\n')).toMatch(/admin/i);
    const unknown = memoryIo(adminEnv);
    expect(await run(['image', 'build', 'windows-11'], unknown)).not.toBe(0);
    expect(unknown.stderr.join('\n')).toContain('no image recipe');
    const bad = memoryIo(adminEnv);
    expect(await run(['image', 'build', '../etc'], bad)).toBe(2);
    expect(started.length).toBe(before);
  });
});
