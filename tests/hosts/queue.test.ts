// Placement that does not give up, between real processes: two namespace hosts that lend one vCPU
// each (libvirt's test driver: guests without QEMU), A's coordinator the one users talk to. A task
// with no room waits and says why, starts within seconds of a stop, and a stop frees its host's
// slot for a task submitted at once (before, its PEP hold kept the slot for a minute).
import { coordinatorClient, type CoordinatorSchemas } from '@cps/openapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeUser } from '../helpers/cps-node.ts';
import { createHosts, type Host, type Hosts } from '../helpers/hosts.ts';
import { peers, stateOf, until } from './pep-test-kit.ts';

type Task = CoordinatorSchemas['Task'];

let cluster: Hosts;
let a: Host, b: Host;
/** A user of A's coordinator (made in its registry): the task routes need one signed in. */
let token: string;
const share = { CPS_SHARE_VCPUS: '1' };

beforeAll(async () => {
  cluster = await createHosts(2);
  [a, b] = cluster.hosts as [Host, Host];
  await Promise.all([
    // No console here: the gateway is not needed to place and stop tasks.
    a.startServices({ services: ['provisioner', 'storage', 'discovery', 'coordinator'], env: share }),
    b.startServices({ services: ['provisioner', 'storage', 'discovery'], env: share }),
  ]);
  await until('A sees B alive', () => peers(a), (ps) => stateOf(ps, b.nodeId) === 'alive');
  ({ token } = await makeUser(a.dataDir));
});

afterAll(async () => {
  await cluster?.destroy();
});

const api = () => coordinatorClient({ baseUrl: a.url('coordinator'), fetch: cluster.fetch, headers: { authorization: `Bearer ${token}` } });

async function submit(name: string): Promise<Task> {
  const { data, error } = await api().POST('/api/tasks', { body: { name, vcpus: 1, memoryMiB: 128, diskMiB: 16, image: 'tiny' } });
  expect(error, JSON.stringify(error)).toBeUndefined();
  return data!;
}

const task = async (id: string): Promise<Task> => (await api().GET('/api/tasks/{taskId}', { params: { path: { taskId: id } } })).data!;
const inState = (id: string, state: Task['state'], timeoutMs = 60_000) =>
  until(`${id} ${state}`, () => task(id), (t) => t.state === state || (t.state === 'failed' && state !== 'failed'), timeoutMs).then((t) => {
    expect(t.state, `${JSON.stringify(t)}\n${a.logs('coordinator')}`).toBe(state);
    return t;
  });
const stop = async (id: string) => {
  await api().DELETE('/api/tasks/{taskId}', { params: { path: { taskId: id } } });
  await inState(id, 'stopped');
};

describe('the queue between two hosts of one slot each', () => {
  let running: Task[] = [];

  it('two tasks fill both hosts; a third waits, saying why, and runs within seconds of a stop', async () => {
    const submitted = [await submit('one'), await submit('two')];
    const placed = await Promise.all(submitted.map((t) => inState(t.id, 'running')));
    expect(placed.map((t) => t.node?.nodeId).sort()).toEqual([a.nodeId, b.nodeId]);

    const third = await submit('three');
    const waiting = await inState(third.id, 'queued');
    expect(waiting.queue?.position).toBe(1);
    expect(waiting.queue?.reason).toMatch(/^(needs 1 vCPU; the largest free peer lends 0|no peer took it at the last try .*)$/);

    const stoppedAt = Date.now();
    await stop(placed[0]!.id);
    const ran = await inState(third.id, 'running', 30_000);
    expect(Date.now() - stoppedAt).toBeLessThan(15_000);
    expect(ran.node?.nodeId).toBe(placed[0]!.node?.nodeId);
    running = [placed[1]!, ran];
  });

  it('stop and submit at once on a full host: the new task starts in seconds, not after the hold lapses', async () => {
    // The third task: no PUBLISH came while its guest ran, so only the fix frees its host's hold.
    const gone = running[1];
    await stop(gone!.id);
    const submittedAt = Date.now();
    const next = await submit('right after the stop');
    const t = await inState(next.id, 'running', 30_000);
    expect(t.node?.nodeId).toBe(gone!.node?.nodeId);
    expect(Date.now() - submittedAt).toBeLessThan(15_000);
  });
});
