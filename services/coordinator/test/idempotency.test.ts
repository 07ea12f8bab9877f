import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getRequestListener } from '@hono/node-server';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { Accounts } from '../src/accounts/accounts.ts';
import { openRegistry, registryPath, type Registry } from '../src/registry/db.ts';
import { Tasks } from '../src/tasks/tasks.ts';
import { fakeCluster, fakeNode } from './fakes.ts';

let registry: Registry | undefined;
afterEach(() => registry?.close());

/** A node whose tasks, users and keys are in a real registry; `as(token)` calls as a signed-in user. */
async function setup() {
  const now = () => new Date();
  registry = openRegistry(registryPath(mkdtempSync(join(tmpdir(), 'cps-idem-'))), { now });
  const accounts = new Accounts({ store: registry.accounts, now });
  const alice = await accounts.createUser({ name: 'alice', password: 'alice-password-1', role: 'user' });
  const bob = await accounts.createUser({ name: 'bob', password: 'bob-password-12', role: 'user' });
  const tokens = { alice: (await accounts.createToken(alice.id, 'cli')).value, bob: (await accounts.createToken(bob.id, 'cli')).value };
  const cluster = fakeCluster([fakeNode('node-a', '127.0.0.1')], { idempotency: registry.idempotency, tasks: new Tasks({ store: registry.tasks, now }), accounts });
  const http = request(getRequestListener(cluster.app.fetch));
  const post = (who: keyof typeof tokens, key?: string) => {
    const r = http.post('/api/tasks').set('authorization', `Bearer ${tokens[who]}`);
    return key === undefined ? r : r.set('idempotency-key', key);
  };
  return { ...cluster, http, post };
}

describe('POST /api/tasks with an Idempotency-Key', () => {
  it('a retry with the same key and body makes no second task: 200 with the first one', async () => {
    const { post, tasks } = await setup();
    const first = await post('alice', 'k-123e4567').send({ name: 'demo', memoryMiB: 128 }).expect(202);
    const again = await post('alice', 'k-123e4567').send({ memoryMiB: 128, name: 'demo' }).expect(200);
    expect(again.body.id).toBe(first.body.id);
    expect(again.headers.location).toBe(`/api/tasks/${first.body.id}`);
    expect(tasks.list()).toHaveLength(1);
    // Another key, no key, or another user's same key: another task.
    await post('alice', 'k-other').send({ name: 'demo', memoryMiB: 128 }).expect(202);
    await post('alice').send({ name: 'demo', memoryMiB: 128 }).expect(202);
    const bobs = await post('bob', 'k-123e4567').send({ name: 'demo', memoryMiB: 128 }).expect(202);
    expect(bobs.body.id).not.toBe(first.body.id);
    expect(tasks.list()).toHaveLength(4);
  });

  it('the same key with another body is refused, naming the task it belongs to', async () => {
    const { post, tasks } = await setup();
    const first = await post('alice', 'k-1').send({ name: 'demo' }).expect(202);
    const other = await post('alice', 'k-1').send({ name: 'demo', vcpus: 2 }).expect(422);
    expect(other.headers['content-type']).toBe('application/problem+json');
    expect(other.body).toMatchObject({ type: 'urn:cps:problem:idempotency-key-reused', taskId: first.body.id });
    expect(tasks.list()).toHaveLength(1);
  });

  it('a key without a signed-in caller is refused (keys are per user)', async () => {
    const { http, tasks } = await setup();
    const r = await http.post('/api/tasks').set('idempotency-key', 'k-1').send({ name: 'demo' }).expect(401);
    expect(r.body.type).toBe('urn:cps:problem:authentication-required');
    expect(tasks.list()).toHaveLength(0);
  });

  it('a malformed key is a validation problem, and nothing is made', async () => {
    const { post, tasks } = await setup();
    for (const bad of ['', 'a'.repeat(256), 'with space', 'é']) {
      const r = await post('alice', bad).send({ name: 'demo' });
      expect(r.status, JSON.stringify(bad)).toBe(400);
      expect(r.body.type).toBe('urn:cps:problem:validation-failed');
    }
    expect(tasks.list()).toHaveLength(0);
  });
});
