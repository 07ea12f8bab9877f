import { afterEach, describe, expect, it } from 'vitest';
import { createLogger, serveApp, type Served } from '@cps/common';
import { fakeNode, reach, signedInCluster, type Who } from './fakes.ts';
import type { Quota } from '../src/accounts/types.ts';
import { readSse } from './sse.ts';

type Task = { id: string; name: string; state: string; owner?: { id: string; name: string } };

const log = createLogger('coordinator-test', 'silent');
let served: Served | undefined;
afterEach(async () => {
  await served?.close();
  served = undefined;
});

async function cluster(quota?: Partial<Quota>) {
  const c = await signedInCluster([fakeNode('node-a', '127.0.0.1')], quota ? { quota } : {});
  const submit = async (who: Who, name: string, extra: Record<string, unknown> = {}) => {
    const res = await c.request(who, 'POST', '/api/tasks', { name, ...extra });
    return { res, body: (await res.json()) as Task & { type?: string; detail?: string; limits?: unknown[] } };
  };
  const listNames = async (who: Who) => {
    const res = await c.request(who, 'GET', '/api/tasks');
    expect(res.status).toBe(200);
    return ((await res.json()) as { items: Task[] }).items.map((t) => t.name).sort();
  };
  return { ...c, submit, listNames };
}

describe('the task routes need a signed-in user', () => {
  it('answers 401 with WWW-Authenticate to no one, to a revoked token and to a disabled user, on every task route', async () => {
    const c = await cluster();
    const { body: task } = await c.submit('alice', 'mine');
    const routes = [['GET', '/api/tasks'], ['POST', '/api/tasks'], ['GET', `/api/tasks/${task.id}`], ['DELETE', `/api/tasks/${task.id}`], ['GET', `/api/tasks/${task.id}/serial`], ['GET', '/api/events']] as const;
    const check = async (headers: Record<string, string>, detail: string) => {
      for (const [method, path] of routes) {
        const res = await c.request(undefined, method, path, method === 'POST' ? { name: 'x' } : undefined, headers);
        expect(res.status, `${method} ${path}`).toBe(401);
        expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="cps"/);
        expect(((await res.json()) as { detail: string }).detail).toBe(detail);
      }
    };
    await check({}, 'sign in, or send Authorization: Bearer <API token>');
    const bobToken = c.accounts.listTokens(c.users.bob.id)[0]!;
    c.accounts.revokeToken(c.users.bob, bobToken.id);
    await check({ authorization: `Bearer ${c.tokens.bob}` }, 'the API token was revoked');
    await c.accounts.update(c.users.alice.id, { disabled: true });
    await check({ authorization: `Bearer ${c.tokens.alice}` }, 'the account is disabled');
    expect(c.tasks.list().map((t) => t.name)).toEqual(['mine']);
    expect(c.tasks.get(task.id)?.state).not.toBe('stopping');
  });
});

describe('a member of the cluster (a node service with its certificate) may read tasks', () => {
  it('lets the gateway locate a task, but not stop one or submit; a stranger is asked to sign in', async () => {
    const c = await cluster();
    const { body: task } = await c.submit('alice', 'mine');
    const as = (kind: 'member' | 'stranger', method: string, path: string) =>
      c.app.request(`http://localhost${path}`, { method, headers: { host: 'localhost', ...(method === 'POST' ? { 'content-type': 'application/json' } : {}) }, ...(method === 'POST' ? { body: '{"name":"x"}' } : {}) }, { caller: kind === 'member' ? { kind, nodeId: 'node-b' } : { kind } });
    const got = await as('member', 'GET', `/api/tasks/${task.id}`);
    expect(got.status).toBe(200);
    expect(((await got.json()) as Task).owner?.name).toBe('alice');
    expect((await as('member', 'DELETE', `/api/tasks/${task.id}`)).status).toBe(401);
    expect((await as('member', 'POST', '/api/tasks')).status).toBe(401);
    expect((await as('stranger', 'GET', `/api/tasks/${task.id}`)).status).toBe(401);
    expect(c.tasks.list()).toHaveLength(1);
  });
});

describe('tasks have owners: a user reaches only their own, an admin all', () => {
  it('records the submitter as the owner and lists each user only theirs', async () => {
    const c = await cluster();
    const a = await c.submit('alice', 'alice-1');
    expect(a.res.status).toBe(202);
    expect(a.body.owner).toEqual({ id: c.users.alice.id, name: 'alice' });
    await c.submit('bob', 'bob-1');
    await c.submit('admin', 'admin-1');
    expect(await c.listNames('alice')).toEqual(['alice-1']);
    expect(await c.listNames('bob')).toEqual(['bob-1']);
    expect(await c.listNames('admin')).toEqual(['admin-1', 'alice-1', 'bob-1']);
  });

  it("answers another user's task as not found (get, stop, serial), and leaves it running", async () => {
    const c = await cluster();
    const { body: task } = await c.submit('alice', 'mine');
    await reach(c.tasks, task.id, 'running');
    for (const [method, path] of [['GET', `/api/tasks/${task.id}`], ['DELETE', `/api/tasks/${task.id}`], ['GET', `/api/tasks/${task.id}/serial`]] as const) {
      const res = await c.request('bob', method, path);
      expect(res.status, `${method} ${path}`).toBe(404);
      const problem = (await res.json()) as { type: string; detail: string };
      expect(problem.type).toMatch(/not-found$/);
      // The same words as for a task that does not exist: nothing tells bob it is alice's.
      expect(problem.detail).toBe(`no task ${task.id}`);
    }
    expect(c.tasks.get(task.id)?.state).toBe('running');

    const own = await c.request('alice', 'GET', `/api/tasks/${task.id}/serial`);
    expect(own.status).toBe(200);
    expect(await own.text()).toContain('cps-guest: up');
    expect((await c.request('admin', 'GET', `/api/tasks/${task.id}`)).status).toBe(200);
  });

  it('lets an admin stop any task and the owner stop their own', async () => {
    const c = await cluster();
    const { body: one } = await c.submit('alice', 'one');
    const { body: two } = await c.submit('alice', 'two');
    await reach(c.tasks, one.id, 'running');
    await reach(c.tasks, two.id, 'running');
    expect((await c.request('alice', 'DELETE', `/api/tasks/${one.id}`)).status).toBe(202);
    expect((await c.request('admin', 'DELETE', `/api/tasks/${two.id}`)).status).toBe(202);
    await reach(c.tasks, one.id, 'stopped');
    await reach(c.tasks, two.id, 'stopped');
  });

  it('streams each user only their own tasks on /api/events, an admin everyone’s', async () => {
    const c = await cluster();
    served = await serveApp(c.app, { port: 0, hostname: '127.0.0.1', log });
    const base = `http://127.0.0.1:${served.port}`;
    await c.submit('bob', 'bob-before');
    const abort = new AbortController();
    const streams = await Promise.all((['alice', 'admin'] as const).map((who) => fetch(`${base}/api/events`, { headers: c.as(who), signal: abort.signal })));
    const read = async (res: Response, until: (names: string[]) => boolean) => {
      const names: string[] = [];
      for await (const msg of readSse(res.body!)) {
        if (msg.event !== 'task') continue;
        const t = JSON.parse(msg.data!) as Task;
        names.push(`${t.name}:${t.state}`);
        if (until(names)) break;
      }
      return names;
    };
    const [aliceRes, adminRes] = streams;
    const aliceSeen = read(aliceRes!, (n) => n.includes('alice-live:running'));
    const adminSeen = read(adminRes!, (n) => n.includes('alice-live:running') && n.includes('bob-live:running'));
    // bob's task goes first: if alice's stream carried it, she would see it before her own runs.
    const { body: bobLive } = await c.submit('bob', 'bob-live');
    await reach(c.tasks, bobLive.id, 'running');
    await c.submit('alice', 'alice-live');
    const [aliceNames, adminNames] = await Promise.all([aliceSeen, adminSeen]);
    abort.abort();
    expect(aliceNames.length).toBeGreaterThan(0);
    expect(aliceNames.every((n) => n.startsWith('alice-'))).toBe(true);
    expect(adminNames.some((n) => n.startsWith('bob-before:'))).toBe(true);
    expect(adminNames).toContain('bob-live:running');
  });
});

describe('quotas: a submit beyond the user’s quota is refused, naming the limit', () => {
  it('refuses a task that needs more vCPUs than the quota leaves, and by how much', async () => {
    const c = await cluster({ vcpus: 3, runningTasks: 10 });
    expect((await c.submit('alice', 'two', { vcpus: 2 })).res.status).toBe(202);
    const { res, body } = await c.submit('alice', 'two-more', { vcpus: 2 });
    expect(res.status).toBe(403);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(body.type).toMatch(/user-quota-exceeded$/);
    expect(body.detail).toBe('needs 2 vCPUs; you hold 2 of your 3 (1 vCPU too many)');
    expect(body.limits).toEqual([{ limit: 'vcpus', quota: 3, held: 2, requested: 2, over: 1 }]);
    // Another user's holdings are theirs: bob still fits.
    expect((await c.submit('bob', 'bobs', { vcpus: 2 })).res.status).toBe(202);
  });

  it('counts running tasks, and frees the quota when a task ends', async () => {
    const c = await cluster({ runningTasks: 1 });
    const first = await c.submit('alice', 'first');
    expect(first.res.status).toBe(202);
    const refused = await c.submit('alice', 'second');
    expect(refused.res.status).toBe(403);
    expect(refused.body.detail).toBe('needs 1 running task; you hold 1 of your 1 (1 running task too many)');
    await reach(c.tasks, first.body.id, 'running');
    await c.request('alice', 'DELETE', `/api/tasks/${first.body.id}`);
    await reach(c.tasks, first.body.id, 'stopped');
    expect((await c.submit('alice', 'second')).res.status).toBe(202);
  });

  it('follows an admin changing the quota at once', async () => {
    const c = await cluster({ memoryMiB: 256 });
    expect((await c.submit('alice', 'big', { memoryMiB: 512 })).res.status).toBe(403);
    const patch = await c.request('admin', 'PATCH', `/api/users/${c.users.alice.id}`, { quota: { memoryMiB: 1024 } });
    expect(patch.status).toBe(200);
    expect((await c.submit('alice', 'big', { memoryMiB: 512 })).res.status).toBe(202);
  });
});
