import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '@cps/common';
import { realTimers } from '../src/queue/dispatcher.ts';
import { HostEvents } from '../src/tasks/host-events.ts';
import { applyVmEvent } from '../src/tasks/vm-events.ts';
import { Tasks } from '../src/tasks/tasks.ts';
import { fakeCluster, fakeNode, reach } from './fakes.ts';

const log = createLogger('coordinator-test', 'silent');
let watch: HostEvents | undefined;
afterEach(() => {
  watch?.close();
  watch = undefined;
});

/** A moment after every change the test made: the host noticed it later. */
const later = () => new Date(Date.now() + 1000).toISOString();

async function setup() {
  const node = fakeNode('node-a', '127.0.0.1');
  const cluster = fakeCluster([node]);
  watch = new HostEvents({ tasks: cluster.tasks, clientsFor: cluster.clientsFor, stop: (id) => void cluster.placer.stop(id), timers: realTimers, log, firstRetryMs: 10 });
  watch.start();
  const running = async () => {
    const res = await cluster.app.request('http://localhost/api/tasks', { method: 'POST', headers: { host: 'localhost', 'content-type': 'application/json' }, body: '{"name":"h"}' });
    const { id } = (await res.json()) as { id: string };
    await reach(cluster.tasks, id, 'running');
    // The stream is open once the host has a running task.
    await until(() => node.eventStreams() === 1);
    return id;
  };
  const get = async (id: string) => (await (await cluster.app.request(`http://localhost/api/tasks/${id}`, { headers: { host: 'localhost' } })).json()) as Record<string, unknown> & { state: string; history: { message?: string }[] };
  return { node, cluster, running, get };
}

async function until(ok: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error('not in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("the hosts' events", () => {
  it("the owner-first policy's pause and resume show in the task's state", async () => {
    const { node, cluster, running, get } = await setup();
    const id = await running();
    // A look taken between a pause and a resume: the guest runs now, so nothing changes.
    node.emit({ kind: 'paused', taskId: id, at: later() });
    await new Promise((r) => setTimeout(r, 50));
    expect(cluster.tasks.require(id).state).toBe('running');
    node.paused.add(id); // the policy paused it
    node.emit({ kind: 'owner-busy', taskId: id, at: later(), state: 'paused' });
    await reach(cluster.tasks, id, 'suspended');
    const t = await get(id);
    expect(t.state).toBe('suspended');
    expect(t.history.at(-1)?.message).toBe("the host's owner is busy (owner-first policy) on node-a");
    node.paused.delete(id);
    node.emit({ kind: 'owner-idle', taskId: id, at: new Date(Date.now() + 2000).toISOString() });
    await reach(cluster.tasks, id, 'running');
  });

  it('a crashed guest fails the task with guest-ended; a stop then cleans up', async () => {
    const { node, cluster, running, get } = await setup();
    const id = await running();
    node.vms.delete(id);
    node.emit({ kind: 'crashed', taskId: id, at: later(), detail: 'libvirt: crashed (panicked)' });
    await reach(cluster.tasks, id, 'failed');
    const t = await get(id);
    expect(t.error).toMatchObject({ type: 'urn:cps:problem:guest-ended', status: 410 });
    expect(String((t.error as { detail: string }).detail)).toContain('the guest crashed on node-a (libvirt: crashed (panicked))');
    cluster.placer.stop(id);
    await reach(cluster.tasks, id, 'stopped');
    expect(node.calls).toContain(`DELETE /disks/${id}`);
    // No live task is left on the host: its stream is closed.
    await until(() => node.eventStreams() === 0);
    expect(watch!.following).toEqual([]);
  });

  it('a guest that powered itself off ends the task as a stop does', async () => {
    const { node, cluster, running } = await setup();
    const id = await running();
    node.vms.delete(id);
    node.emit({ kind: 'shutdown', taskId: id, at: later() });
    await reach(cluster.tasks, id, 'stopped');
    const t = cluster.tasks.require(id);
    expect(t.history.map((h) => h.message)).toContain('the guest powered itself off on node-a');
    expect(node.calls.slice(-2)).toEqual([`DELETE /vms/${id}`, `DELETE /disks/${id}`]);
  });

  it('changes nothing for an event older than the task\'s last change (a replay), another host, or another task', async () => {
    const tasks = new Tasks();
    const t = tasks.create('x', { vcpus: 1, memoryMiB: 128, diskMiB: 64, image: 'tiny' });
    const node = { nodeId: 'node-a', address: '127.0.0.1', ports: { coordinator: 1, discovery: 2, provisioner: 3, storage: 4, vncGateway: 5 } };
    tasks.transition(t.id, 'placing', 'p');
    tasks.transition(t.id, 'starting', 's', { node });
    const started = tasks.transition(t.id, 'running', 'r');
    const stops: string[] = [];
    const d = { tasks, stop: (id: string) => void stops.push(id) };
    const past = new Date(Date.parse(started.updatedAt) - 1000).toISOString();
    const future = new Date(Date.parse(started.updatedAt) + 1000).toISOString();
    expect(applyVmEvent({ id: 1, kind: 'crashed', taskId: t.id, at: past }, 'node-a', 'gone', d)).toBeUndefined();
    expect(applyVmEvent({ id: 2, kind: 'crashed', taskId: t.id, at: future }, 'node-b', 'gone', d)).toBeUndefined();
    expect(applyVmEvent({ id: 3, kind: 'crashed', taskId: 't-other', at: future }, 'node-a', 'gone', d)).toBeUndefined();
    expect(applyVmEvent({ id: 4, kind: 'vacate', taskId: t.id, at: future }, 'node-a', 'gone', d)).toBeUndefined();
    // The echo of an action through the provisioner's API (this coordinator's own) is not news.
    expect(applyVmEvent({ id: 7, kind: 'suspended', taskId: t.id, at: future }, 'node-a', 'gone', d)).toBeUndefined();
    expect(applyVmEvent({ id: 5, kind: 'owner-idle', taskId: t.id, at: future }, 'node-a', 'running', d)).toBeUndefined(); // running already
    // A crash the host's answer does not bear out (the guest runs): nothing.
    expect(applyVmEvent({ id: 8, kind: 'crashed', taskId: t.id, at: future }, 'node-a', 'running', d)).toBeUndefined();
    expect(tasks.require(t.id).state).toBe('running');
    expect(applyVmEvent({ id: 6, kind: 'vanished', taskId: t.id, at: future }, 'node-a', 'gone', d)).toBe('failed');
    expect(stops).toEqual([]);
  });

  it('reopens a stream that ended, and applies what comes after', async () => {
    const { node, cluster, running } = await setup();
    const id = await running();
    // A provisioner that restarts ends its streams; the watch comes back.
    node.endEventStreams();
    expect(node.eventStreams()).toBe(0);
    await until(() => node.eventStreams() === 1);
    node.paused.add(id);
    node.emit({ kind: 'paused', taskId: id, at: later() });
    await reach(cluster.tasks, id, 'suspended');
  });
});
