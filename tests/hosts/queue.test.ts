// Placement that does not give up, between real processes: two namespace hosts that lend one vCPU
// each (libvirt's test driver: guests without QEMU), A's coordinator the one users talk to. A task
// with no room waits and says why, starts within seconds of a stop, and a stop frees its host's
// slot for a task submitted at once (before, its PEP hold kept the slot for a minute), and the
// queue is fair between two users.
import { coordinatorClient, type CoordinatorSchemas } from '@cps/openapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeUser } from '../helpers/cps-node.ts';
import { untilLeads } from '../helpers/head.ts';
import { createHosts, type Host, type Hosts } from '../helpers/hosts.ts';
import { peers, stateOf, until } from './pep-test-kit.ts';

type Task = CoordinatorSchemas['Task'];

let cluster: Hosts;
let a: Host, b: Host;
/** A user of A's coordinator (made in its registry): the task routes need one signed in. */
let token: string;
/** A second user, for fairness: their first task must not wait behind the first user's later ones. */
let otherToken: string;
const share = { CPS_SHARE_VCPUS: '1' };

beforeAll(async () => {
  cluster = await createHosts(2);
  [a, b] = cluster.hosts as [Host, Host];
  // A starts first: the longest-up, it leads (B's discovery runs without a coordinator, and a
  // longer-up B would be handed the head it cannot take).
  // No console here: the gateway is not needed to place and stop tasks.
  await a.startServices({ services: ['provisioner', 'storage', 'discovery', 'coordinator'], env: share });
  await b.startServices({ services: ['provisioner', 'storage', 'discovery'], env: share });
  await until('A sees B alive', () => peers(a), (ps) => stateOf(ps, b.nodeId) === 'alive');
  await untilLeads(a);
  ({ token } = await makeUser(a.dataDir));
  ({ token: otherToken } = await makeUser(a.dataDir));
});

afterAll(async () => {
  await cluster?.destroy();
});

const api = (as = token) => coordinatorClient({ baseUrl: a.url('coordinator'), fetch: cluster.fetch, headers: { authorization: `Bearer ${as}` } });

async function submit(name: string, as = token): Promise<Task> {
  const { data, error } = await api(as).POST('/api/tasks', { body: { name, vcpus: 1, memoryMiB: 128, diskMiB: 16, image: 'tiny' } });
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

  it('is fair between users: the second user\'s first task starts before the first user\'s next; a queued task can be cancelled', async () => {
    // Both hosts are full with the first user's tasks (the two left running above).
    const full = [running[0]!, (await api().GET('/api/tasks')).data!.items.find((t) => t.name === 'right after the stop')!];
    expect(full.map((t) => t.state)).toEqual(['running', 'running']);
    const first = await submit('first user, next');
    const third = await submit('first user, after that');
    const other = await submit('second user, first', otherToken);
    for (const t of [first, third]) await inState(t.id, 'queued');
    // The second user sees their own task and its place, not the first user's.
    const theirs = (await api(otherToken).GET('/api/tasks')).data!.items;
    expect(theirs.map((t) => t.id)).toEqual([other.id]);
    expect(theirs[0]!.queue?.position).toBe(2);

    await stop(full[0]!.id);
    await inState(first.id, 'running', 30_000);
    await stop(full[1]!.id);
    // The second user's first task is next, ahead of the first user's task submitted before it.
    await until(`${other.id} running`, () => api(otherToken).GET('/api/tasks/{taskId}', { params: { path: { taskId: other.id } } }).then((r) => r.data!), (t) => t.state === 'running', 30_000);
    expect((await task(third.id)).state).toBe('queued');

    // Cancelling a task that waits: it leaves the queue and ends at once, and nothing started it.
    const cancelled = await api().DELETE('/api/tasks/{taskId}', { params: { path: { taskId: third.id } } });
    expect(cancelled.response.status).toBe(202);
    const ended = await inState(third.id, 'stopped');
    expect(ended.node).toBeUndefined();
    // It never ran (a cancel may land while the queue is trying it: then it ends before placement).
    expect(ended.history.map((h) => h.state)).not.toContain('running');
    expect(ended.history.at(-1)?.message, JSON.stringify(ended.history)).toMatch(/^(cancelled while it waited in the queue|stopped before it was placed)$/);
    await stop(first.id);
    await api(otherToken).DELETE('/api/tasks/{taskId}', { params: { path: { taskId: other.id } } });
  });
});
