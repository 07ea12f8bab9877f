import { createLogger, ProblemError, problemErrorHandler } from '@cps/common';
import { discoveryClient, provisionerClient, storageClient, viaApp } from '@cps/openapi';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { Placer } from '../src/placement.ts';
import { Tasks } from '../src/tasks/tasks.ts';
import { fakeCluster, fakeNode, reach } from './fakes.ts';

const request = { vcpus: 2, memoryMiB: 128, diskMiB: 64, image: 'tiny' };

describe('placement', () => {
  it('publishes, makes disks and the guest on the chosen node, and reaches running with its console URL', async () => {
    const a = fakeNode('node-a', '10.1.0.5', { vmStates: ['nostate', 'running'] });
    const { tasks, placer, discovery } = fakeCluster([a, fakeNode('node-b', '10.1.0.6')]);
    const { id } = tasks.create('demo </b>', request);
    await placer.place(id);

    const t = tasks.require(id);
    expect(t.state).toBe('running');
    expect(t.history.map((h) => h.state)).toEqual(['pending', 'placing', 'starting', 'running']);
    expect(t.node).toEqual({ nodeId: 'node-a', address: '10.1.0.5', ports: a.info.ports });
    expect(t.backups?.map((b) => b.nodeId)).toEqual(['node-b']);
    expect(t.console?.vncUrl).toBe(`/console/${id}` /* on the portal's origin, whichever node runs it */);
    expect(t.error).toBeUndefined();
    expect(discovery.publishes).toEqual([
      { taskId: id, requirements: { ...request, arch: 'x86_64', needsKvm: false }, timeoutMs: 2000 },
    ]);
    expect(a.calls).toEqual([`PUT /disks/${id}`, `PUT /vms/${id}`]);
    // The guest is built from what storage made, passed as it is (the contracts share DiskSpec and BootSpec).
    expect(a.specs).toEqual([{
      name: 'demo </b>', vcpus: 2, memoryMiB: 128,
      disks: [{ path: `/var/lib/cps/disks/${id}/root.qcow2`, format: 'qcow2', device: 'disk' }],
      boot: { kind: 'kernel', kernel: '/img/vmlinuz', initrd: '/img/initrd.img', cmdline: 'console=ttyS0' },
    }]);
  });

  it('waits through non-running guest states until libvirt reports running', async () => {
    const a = fakeNode('node-a', '10.1.0.5', { vmStates: ['nostate', 'nostate', 'paused', 'running'] });
    const { tasks, placer } = fakeCluster([a]);
    const { id } = tasks.create('slow boot', request);
    await placer.place(id);
    expect(tasks.require(id).state).toBe('running');
  });

  it('cleans up a storage failure and re-deploys on another node', async () => {
    const a = fakeNode('node-a', '10.1.0.5', { failDisks: ['tool-failed', 'qemu-img: disk full'] });
    const b = fakeNode('node-b', '10.1.0.6');
    const { tasks, placer, discovery } = fakeCluster([a, b]);
    const { id } = tasks.create('demo', request);
    await placer.place(id);

    const t = tasks.require(id);
    expect(t.state).toBe('running');
    expect(t.history.map((h) => h.state)).toEqual(['pending', 'placing', 'starting', 'placing', 'starting', 'running']);
    expect(t.history[3]?.message).toContain('node-a');
    expect(t.node?.nodeId).toBe('node-b');
    expect(t.console?.vncUrl).toBe(`/console/${id}`);
    expect(a.calls).toEqual([`PUT /disks/${id}`, `DELETE /vms/${id}`, `DELETE /disks/${id}`]);
    // node-b ACKed the first round as a backup: it is tried before anyone is asked again.
    expect(discovery.publishes.map((p) => p.exclude)).toEqual([undefined]);
    expect(t.history[3]?.message).toBe('re-deploying on node-b, a backup, away from node-a');
  });

  it('publishes again, excluding the failed node, when the first round had no backup', async () => {
    const a = fakeNode('node-a', '10.1.0.5', { failDisks: ['tool-failed', 'qemu-img: disk full'] });
    const { tasks, placer, discovery } = fakeCluster([a]);
    const { id } = tasks.create('demo', request);
    await placer.place(id);
    expect(discovery.publishes.map((p) => p.exclude)).toEqual([undefined, ['node-a']]);
    // No one else could take it after a real failure: that failure is the answer, not a wait.
    const t = tasks.require(id);
    expect(t.state).toBe('failed');
    expect(t.error?.detail).toBe('storage on node-a: qemu-img: disk full; no other node could take the task');
    placer.close();
  });

  it('fails with the upstream problem when no other node can take the task', async () => {
    const a = fakeNode('node-a', '10.1.0.5', { failVm: ['hypervisor-error', 'libvirt: cannot allocate memory'] });
    const { tasks, placer } = fakeCluster([a]);
    const { id } = tasks.create('demo', request);
    await placer.place(id);

    const t = tasks.require(id);
    expect(t.state).toBe('failed');
    expect(t.error).toMatchObject({
      type: 'urn:cps:problem:upstream-failed',
      status: 502,
      upstream: { service: 'provisioner', nodeId: 'node-a', type: 'urn:cps:problem:hypervisor-error', detail: 'libvirt: cannot allocate memory' },
    });
    expect(t.error?.detail).toContain('libvirt: cannot allocate memory');
    expect(t.history.at(-1)?.message).toContain('libvirt: cannot allocate memory');
    // The disks made before the guest failed are discarded.
    expect(a.calls).toEqual([`PUT /disks/${id}`, `PUT /vms/${id}`, `DELETE /vms/${id}`, `DELETE /disks/${id}`]);
    expect(a.disks.size).toBe(0);
  });

  it('fails after two nodes failed, with the last failure', async () => {
    const a = fakeNode('node-a', '10.1.0.5', { failDisks: ['tool-failed', 'disk full on a'] });
    const b = fakeNode('node-b', '10.1.0.6', { vmStates: ['crashed'] });
    const c = fakeNode('node-c', '10.1.0.7');
    const { tasks, placer, discovery } = fakeCluster([a, b, c]);
    const { id } = tasks.create('demo', request);
    await placer.place(id);

    const t = tasks.require(id);
    expect(t.state).toBe('failed');
    expect(t.error?.detail).toBe('provisioner on node-b: the guest is crashed');
    expect(discovery.publishes).toHaveLength(1); // node-b was the first round's backup
    expect(c.calls).toEqual([]);
    expect(b.calls.slice(-2)).toEqual([`DELETE /vms/${id}`, `DELETE /disks/${id}`]);
  });

  it('waits in the queue when no peer answers, saying why, and is published again later', async () => {
    const { tasks, placer, discovery } = fakeCluster([], { retryMs: 20 });
    const { id } = tasks.create('demo', request);
    await placer.place(id);

    const t = placer.withQueue(tasks.require(id));
    expect(t.state).toBe('queued');
    expect(t.error).toBeUndefined();
    expect(t.history.map((h) => h.state)).toEqual(['pending', 'placing', 'queued']);
    expect(t.history.at(-1)?.message).toBe('no peer took it at the last try (no ACK within 2000 ms)');
    expect(t.queue).toMatchObject({ position: 1, reason: 'no peer took it at the last try (no ACK within 2000 ms)' });
    // Retried on the clock, without a new transition for each try that finds no one.
    await new Promise((r) => setTimeout(r, 100));
    expect(discovery.publishes.length).toBeGreaterThan(1);
    expect(tasks.require(id).history.map((h) => h.state)).toEqual(['pending', 'placing', 'queued']);
    placer.close();
  });

  it('gives up on a guest that never runs, within the start timeout', async () => {
    const a = fakeNode('node-a', '10.1.0.5', { vmStates: ['nostate'] });
    const { tasks, placer } = fakeCluster([a], { attempts: 1, startTimeoutMs: 30, pollIntervalMs: 5, sleep: (ms) => new Promise((r) => setTimeout(r, ms)) });
    const { id } = tasks.create('demo', request);
    await placer.place(id);
    const t = tasks.require(id);
    expect(t.state).toBe('failed');
    expect(t.error?.detail).toMatch(/did not reach running .*last state: nostate/);
    expect(a.vms.size).toBe(0);
  });

  it('reports an unreachable node as upstream-failed', async () => {
    // Clients that fail the way fetch does when nothing listens on the port.
    const dead = { baseUrl: 'http://node-a.invalid', fetch: () => Promise.reject(new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } })) };
    const { tasks, placer } = fakeCluster([fakeNode('node-a', '10.1.0.5')], {
      attempts: 1,
      clientsFor: () => ({ storage: storageClient(dead), provisioner: provisionerClient(dead) }),
    });
    const { id } = tasks.create('demo', request);
    await placer.place(id);
    expect(tasks.require(id).state).toBe('failed');
    expect(tasks.require(id).error?.detail).toBe('storage on node-a: unreachable: fetch failed (ECONNREFUSED)');
  });
});

describe('stop', () => {
  it('destroys the guest, then discards the disks, and is idempotent', async () => {
    const a = fakeNode('node-a', '10.1.0.5');
    const { tasks, placer } = fakeCluster([a]);
    const { id } = tasks.create('demo', request);
    await placer.place(id);

    const first = placer.stop(id);
    expect(first.task.state).toBe('stopping');
    await first.done;
    expect(tasks.require(id).state).toBe('stopped');
    expect(a.calls.slice(-2)).toEqual([`DELETE /vms/${id}`, `DELETE /disks/${id}`]);
    expect(a.vms.size + a.disks.size).toBe(0);

    const again = placer.stop(id);
    await again.done;
    expect(again.task.state).toBe('stopped');
    expect(tasks.require(id).history.filter((h) => h.state === 'stopped')).toHaveLength(1);
  });

  it('stops a failed task', async () => {
    const a = fakeNode('node-a', '10.1.0.5', { failVm: ['hypervisor-error', 'no room'] });
    const { tasks, placer } = fakeCluster([a], { attempts: 1 });
    const { id } = tasks.create('demo', request);
    await placer.place(id);
    expect(tasks.require(id).state).toBe('failed');
    await placer.stop(id).done;
    const t = tasks.require(id);
    expect(t.state).toBe('stopped');
    expect(t.error?.type).toBe('urn:cps:problem:upstream-failed');
  });

  it('cancels a task that waits in the queue', async () => {
    const { tasks, placer, discovery } = fakeCluster([], { retryMs: 10 });
    const { id } = tasks.create('demo', request);
    await placer.place(id);
    expect(tasks.require(id).state).toBe('queued');
    await placer.stop(id).done;
    const t = tasks.require(id);
    expect(t.state).toBe('stopped');
    expect(t.history.map((h) => h.state)).toEqual(['pending', 'placing', 'queued', 'stopping', 'stopped']);
    expect(placer.withQueue(t).queue).toBeUndefined();
    const tries = discovery.publishes.length;
    await new Promise((r) => setTimeout(r, 60));
    expect(discovery.publishes.length).toBe(tries); // no longer retried
  });

  it('cancels a task that is still starting and cleans up on its node', async () => {
    const a = fakeNode('node-a', '10.1.0.5', { vmStates: ['nostate'] });
    const { tasks, placer } = fakeCluster([a], { sleep: () => new Promise((r) => setTimeout(r, 1)) });
    const { id } = tasks.create('demo', request);
    const placing = placer.place(id);
    await reach(tasks, id, 'starting');
    const { task, done } = placer.stop(id);
    expect(task.state).toBe('stopping');
    await Promise.all([placing, done]);
    const t = tasks.require(id);
    expect(t.state).toBe('stopped');
    expect(a.vms.size + a.disks.size).toBe(0);
    expect(t.history.map((h) => h.state)).not.toContain('running');
  });

  it('leaves the task failed when the provisioner refuses to destroy the guest, and a second stop retries', async () => {
    const a = fakeNode('node-a', '10.1.0.5');
    const { tasks, placer } = fakeCluster([a]);
    const { id } = tasks.create('demo', request);
    await placer.place(id);
    a.behaviour.failDestroy = ['hypervisor-error', 'domain is locked'];
    await placer.stop(id).done;
    let t = tasks.require(id);
    expect(t.state).toBe('failed');
    expect(t.error?.detail).toBe('provisioner on node-a: domain is locked (stop again to retry)');
    expect(a.disks.size).toBe(1);

    a.behaviour.failDestroy = undefined;
    await placer.stop(id).done;
    t = tasks.require(id);
    expect(t.state).toBe('stopped');
    expect(a.vms.size + a.disks.size).toBe(0);
  });
});

describe('a task that waits', () => {
  it('keeps waiting while discovery is away for a moment, and is placed when a peer has room', async () => {
    const a = fakeNode('node-a', '10.1.0.5');
    const discovery = { mode: 'full' as 'full' | 'down' | 'room', publishes: 0 };
    const d = new Hono();
    d.onError(problemErrorHandler());
    d.post('/publish', async (c) => {
      discovery.publishes++;
      const req = await c.req.json();
      if (discovery.mode === 'down') return c.text('discovery is restarting', 502);
      if (discovery.mode === 'full') throw new ProblemError('no-capable-node', 'no ACK within 2000 ms');
      return c.json({ taskId: req.taskId, chosen: a.info, backups: [], ackMs: 1 });
    });
    const tasks = new Tasks();
    const placer = new Placer({
      tasks,
      discovery: discoveryClient(viaApp(d)),
      clientsFor: () => ({ storage: storageClient(viaApp(a.storage)), provisioner: provisionerClient(viaApp(a.provisioner)) }),
      log: createLogger('placement-test', 'silent'),
      pollIntervalMs: 1,
      sleep: () => Promise.resolve(),
      retryMs: 5,
    });
    const { id } = tasks.create('demo', request);
    await placer.place(id);
    expect(tasks.require(id).state).toBe('queued');

    discovery.mode = 'down';
    const seen = discovery.publishes;
    while (discovery.publishes < seen + 3) await new Promise((r) => setTimeout(r, 5));
    expect(tasks.require(id).state).toBe('queued');
    expect(placer.withQueue(tasks.require(id)).queue?.reason).toBe('discovery could not be asked at the last try (HTTP 502: discovery is restarting)');

    discovery.mode = 'room';
    await reach(tasks, id, 'running');
    expect(tasks.require(id).history.map((h) => h.state)).toEqual(['pending', 'placing', 'queued', 'placing', 'starting', 'running']);
    expect(tasks.require(id).history[3]?.message).toBe('a peer has room: node-a answered');
    placer.close();
  });
});

describe('a coordinator that restarted', () => {
  it('takes a task its registry lists as queued back into the queue and places it', async () => {
    const a = fakeNode('node-a', '10.1.0.5');
    const { tasks, placer } = fakeCluster([a]);
    const { id } = tasks.create('from before the restart', request);
    tasks.transition(id, 'queued', 'needs 2 vCPUs; the largest free peer lends 0');
    await placer.place(id);
    await reach(tasks, id, 'running');
    expect(tasks.require(id).history.map((h) => h.state)).toEqual(['pending', 'queued', 'placing', 'starting', 'running']);
    expect(tasks.require(id).history[2]?.message).toBe('a peer has room: node-a answered');
    await placer.place(id); // not waiting any more: nothing happens
    expect(tasks.require(id).state).toBe('running');
  });
});
