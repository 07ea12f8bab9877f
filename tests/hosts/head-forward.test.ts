// The head between real processes: two namespace hosts, each with its whole node. A starts first,
// so it is the longest-up and leads; B's coordinator forwards its API to A over mutual TLS. A task
// submitted on A is listed and stopped through B, B's portal is served by B itself, and both say
// who leads (GET /api/head).
import { coordinatorClient, type CoordinatorSchemas } from '@cps/openapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeUser } from '../helpers/cps-node.ts';
import { headOf, untilLeads } from '../helpers/head.ts';
import { createHosts, type Host, type Hosts } from '../helpers/hosts.ts';
import { until } from '../helpers/until.ts';

type Task = CoordinatorSchemas['Task'];

let cluster: Hosts;
let a: Host, b: Host;
let token: string;
const services = ['provisioner', 'storage', 'discovery', 'coordinator'] as const;
const share = { CPS_SHARE_VCPUS: '1' };

beforeAll(async () => {
  cluster = await createHosts(2);
  [a, b] = cluster.hosts as [Host, Host];
  await a.startServices({ services: [...services], env: share });
  await untilLeads(a);
  await b.startServices({ services: [...services], env: share });
  await untilLeads(a, [b]);
  // The user lives in the head's registry (A's); B's API is A's.
  ({ token } = await makeUser(a.dataDir));
}, 180_000);

afterAll(async () => {
  await cluster?.destroy();
});

const api = (h: Host) => coordinatorClient({ baseUrl: h.url('coordinator'), fetch: cluster.fetch, headers: { authorization: `Bearer ${token}` } });
const task = async (h: Host, id: string): Promise<Task> => (await api(h).GET('/api/tasks/{taskId}', { params: { path: { taskId: id } } })).data!;
const logs = () => `${a.logs('coordinator')}\n${b.logs('coordinator')}`;

describe('one head for two hosts', () => {
  it('both say A leads, with one epoch; B follows', async () => {
    const [onA, onB] = [await headOf(a), await headOf(b)];
    expect(onA).toMatchObject({ role: 'head', head: { nodeId: a.nodeId, address: a.address }, mode: 'discovery' });
    expect(onB).toMatchObject({ role: 'follower', head: { nodeId: a.nodeId, address: a.address }, mode: 'discovery' });
    expect(onB.epoch).toBe(onA.epoch);
    expect(b.logs('coordinator')).toMatch(/"event":"head.role","role":"follower"/);
  });

  it('B lists and stops a task submitted on A', async () => {
    const { data, error } = await api(a).POST('/api/tasks', { body: { name: 'on-a', vcpus: 1, memoryMiB: 128, diskMiB: 16, image: 'tiny' } });
    expect(error, JSON.stringify(error)).toBeUndefined();
    const id = data!.id;
    await until(`${id} running`, () => task(a, id), (t) => t.state === 'running' || t.state === 'failed', 60_000, logs);
    const listed = await api(b).GET('/api/tasks');
    expect(listed.data?.items.map((t) => t.id)).toContain(id);
    expect((await task(b, id)).state).toBe('running');
    const stop = await api(b).DELETE('/api/tasks/{taskId}', { params: { path: { taskId: id } } });
    expect(stop.error, JSON.stringify(stop.error)).toBeUndefined();
    const stopped = await until(`${id} stopped`, () => task(a, id), (t) => t.state === 'stopped' || t.state === 'failed', 60_000, logs);
    expect(stopped.state).toBe('stopped');
    expect((await task(b, id)).state).toBe('stopped');
  });

  it("B's portal page is B's own; a sign-in through B gives a cookie B's API accepts", async () => {
    const page = await cluster.fetch(new Request(`${b.url('coordinator')}/`, { headers: { accept: 'text/html' } }));
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/<span id="head"/);
    const user = await makeUser(a.dataDir);
    const signIn = await cluster.fetch(
      new Request(`${b.url('coordinator')}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json', origin: b.url('coordinator') }, body: JSON.stringify({ name: user.name, password: user.password }) }),
    );
    expect(signIn.status, await signIn.clone().text()).toBe(200);
    const cookie = signIn.headers.getSetCookie().find((l) => l.startsWith('cps_session='))!.split(';')[0]!;
    const me = await cluster.fetch(new Request(`${b.url('coordinator')}/api/me`, { headers: { cookie } }));
    expect(me.status).toBe(200);
    expect(((await me.json()) as { user: { name: string } }).user.name).toBe(user.name);
  });
});
