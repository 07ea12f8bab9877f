// PUBLISH names an uploaded image by its SHA-256, between real processes: two namespace hosts
// that lend one vCPU each (libvirt's test driver), A's coordinator the one users talk to. An image
// uploaded to A (through its coordinator, streamed into A's storage) is on A only. Its first task
// goes to A (both are free, and a holder is preferred to a node that would fetch it); the second
// finds A full, so B, which answers "fetchable", takes it: B's storage pulls the bytes from A's over
// the cluster's mutual TLS, checks them against the digest, and the task runs there (issue 14;
// before, B stayed silent and the second task waited for A).
import { createHash, randomBytes } from 'node:crypto';
import { coordinatorClient, type CoordinatorSchemas } from '@cps/openapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeUser } from '../helpers/cps-node.ts';
import { untilLeads } from '../helpers/head.ts';
import { createHosts, type Host, type Hosts } from '../helpers/hosts.ts';
import { peers, stateOf, until } from './pep-test-kit.ts';

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

describe('an uploaded image travels to the peer chosen for its task', () => {
  it('upload to A; of two tasks one runs on A, the other on B after B pulls the image from A; B keeps it', async () => {
    const bytes = randomBytes(1024 * 1024);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const up = await api().POST('/api/images', {
      params: { query: { name: 'only on A', format: 'raw', sha256 } },
      body: new Uint8Array(bytes) as unknown as string,
      bodySerializer: (x: unknown) => x as BodyInit,
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect(up.response.status, JSON.stringify(up.error)).toBe(201);
    const imageId = up.data!.id;
    const onB = await b.storage.GET('/images/{imageId}', { params: { path: { imageId } } });
    expect(onB.response.status).toBe(404);

    // A holder answers a PUBLISH and B, which would fetch, too: the publisher puts a holder first
    // when both ACKs fall in one collection window, else the first ACK wins. So the first task runs
    // on either; whichever of the two runs on B fetched the image from A first, verified.
    const fetchedFromA = new RegExp(`image ${imageId} fetched from ${a.nodeId}: 1\\.0 MiB in [0-9.]+ s, verified`);
    const historyOf = (t: Task) => t.history.map((h) => h.message).join('\n');
    const first = await inState((await submit('first of the upload', imageId)).id, 'running');
    const second = await inState((await submit('second of the upload', imageId)).id, 'running', 90_000);
    expect([first.node?.nodeId, second.node?.nodeId].sort(), `${historyOf(first)}\n${historyOf(second)}\n${b.logs('storage')}`).toEqual([a.nodeId, b.nodeId].sort());
    const [onA, onBTask] = first.node?.nodeId === a.nodeId ? [first, second] : [second, first];
    expect(historyOf(onBTask)).toMatch(fetchedFromA);
    expect(historyOf(onA)).not.toMatch(/fetched from/);
    const pulled = await b.storage.GET('/images/{imageId}', { params: { path: { imageId } } });
    expect(pulled.response.status).toBe(200);
    expect(pulled.data?.sha256).toBe(sha256);

    // The catalog (A's coordinator) names both holders now.
    const listed = (await api().GET('/api/images')).data?.items.find((i) => i.id === imageId);
    expect(listed?.holders?.slice().sort()).toEqual([a.nodeId, b.nodeId].sort());

    // B keeps the copy: after its task ends, a third task of the image can start on B without A's help.
    await api().DELETE('/api/tasks/{taskId}', { params: { path: { taskId: onBTask.id } } });
    const third = await inState((await submit('third of the upload', imageId)).id, 'running', 60_000);
    expect(third.node?.nodeId).toBe(b.nodeId);
    expect(third.history.map((h) => h.message).join('\n')).not.toMatch(/fetched from/);
    for (const t of [onA, third]) await api().DELETE('/api/tasks/{taskId}', { params: { path: { taskId: t.id } } });
  });
});
