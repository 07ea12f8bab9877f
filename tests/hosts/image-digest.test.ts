// PUBLISH names an uploaded image by its SHA-256, between real processes: two namespace hosts
// that lend one vCPU each (libvirt's test driver), A's coordinator the one users talk to. An image
// uploaded to A (through its coordinator, streamed into A's storage) is on A only, so a task of it
// runs on A and a second one waits although B is free: B's responder stays silent (reason image).
// A built-in image is a name every node has: that task goes to B.
import { createHash, randomBytes } from 'node:crypto';
import { coordinatorClient, type CoordinatorSchemas } from '@cps/openapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeUser } from '../helpers/cps-node.ts';
import { untilLeads } from '../helpers/head.ts';
import { createHosts, type Host, type Hosts } from '../helpers/hosts.ts';
import { metricValue, metrics, peers, stateOf, until } from './pep-test-kit.ts';

type Task = CoordinatorSchemas['Task'];

let cluster: Hosts;
let a: Host, b: Host;
let token: string;
const share = { CPS_SHARE_VCPUS: '1' };

beforeAll(async () => {
  cluster = await createHosts(2);
  [a, b] = cluster.hosts as [Host, Host];
  // A starts first: the longest-up, it leads (B's discovery runs without a coordinator, and a
  // longer-up B would be handed the head it cannot take).
  await a.startServices({ services: ['provisioner', 'storage', 'discovery', 'coordinator'], env: share });
  await b.startServices({ services: ['provisioner', 'storage', 'discovery'], env: share });
  await until('A sees B alive', () => peers(a), (ps) => stateOf(ps, b.nodeId) === 'alive');
  await untilLeads(a);
  ({ token } = await makeUser(a.dataDir));
});

afterAll(async () => {
  await cluster?.destroy();
});

const api = () => coordinatorClient({ baseUrl: a.url('coordinator'), fetch: cluster.fetch, headers: { authorization: `Bearer ${token}` } });
const task = async (id: string): Promise<Task> => (await api().GET('/api/tasks/{taskId}', { params: { path: { taskId: id } } })).data!;
const inState = (id: string, state: Task['state'], timeoutMs = 60_000) =>
  until(`${id} ${state}`, () => task(id), (t) => t.state === state || (t.state === 'failed' && state !== 'failed'), timeoutMs).then((t) => {
    expect(t.state, `${JSON.stringify(t)}\n${a.logs('coordinator')}`).toBe(state);
    return t;
  });
const submit = async (name: string, image: string): Promise<Task> => {
  const { data, error } = await api().POST('/api/tasks', { body: { name, vcpus: 1, memoryMiB: 128, diskMiB: 16, image } });
  expect(error, JSON.stringify(error)).toBeUndefined();
  return data!;
};

describe('an uploaded image goes only where its bytes are', () => {
  it('upload to A; its tasks run on A or wait, never on B; a built-in image still goes to B', async () => {
    const bytes = randomBytes(1024 * 1024);
    const up = await api().POST('/api/images', {
      params: { query: { name: 'only on A', format: 'raw', sha256: createHash('sha256').update(bytes).digest('hex') } },
      body: new Uint8Array(bytes) as unknown as string,
      bodySerializer: (x: unknown) => x as BodyInit,
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect(up.response.status, JSON.stringify(up.error)).toBe(201);
    const imageId = up.data!.id;
    const onB = await b.storage.GET('/images/{imageId}', { params: { path: { imageId } } });
    expect(onB.response.status).toBe(404);

    const first = await inState((await submit('first of the upload', imageId)).id, 'running');
    expect(first.node?.nodeId).toBe(a.nodeId);
    const second = await submit('second of the upload', imageId);
    const waiting = await inState(second.id, 'queued');
    expect(waiting.queue?.reason).toMatch(/no peer took it at the last try/);
    await until('B declined for the image', () => metrics(b), (m) => metricValue(m, 'pep_publish_declined_total', { reason: 'image' }) >= 1);

    // B is free and every node has tiny: that one goes there while the upload's second still waits.
    const builtin = await inState((await submit('tiny on B', 'tiny')).id, 'running');
    expect(builtin.node?.nodeId).toBe(b.nodeId);
    expect((await task(second.id)).state).toBe('queued');

    await api().DELETE('/api/tasks/{taskId}', { params: { path: { taskId: first.id } } });
    const ran = await inState(second.id, 'running', 30_000);
    expect(ran.node?.nodeId).toBe(a.nodeId);
    for (const t of [ran, builtin]) await api().DELETE('/api/tasks/{taskId}', { params: { path: { taskId: t.id } } });
  });
});
