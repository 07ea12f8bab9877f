import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { createLogger } from '@cps/common';
import { provisionerClient, storageClient, viaApp } from '@cps/openapi';
import type { ClientsFor, NodeAddress } from '../src/clients.ts';
import { TaskActions } from '../src/tasks/actions.ts';
import { CheckpointCopies } from '../src/tasks/checkpoint-copies.ts';
import { Tasks } from '../src/tasks/tasks.ts';

// After a checkpoint, the task's backups each pull a copy through their storage; the task records
// where its latest copy is, when, and how many bytes moved.
const log = createLogger('t', 'silent');
const ports = (base: number) => ({ coordinator: base, discovery: base + 1, provisioner: base + 2, storage: base + 3, vncGateway: base + 4 });
const node = (nodeId: string, address: string, base: number): NodeAddress => ({ nodeId, address, ports: ports(base) });
const host = node('node-a', '10.0.0.1', 18180);
const b1 = node('node-b', '10.0.0.2', 18280);
const b2 = node('node-c', '10.0.0.3', 18380);

/** A backup's storage: answers each pull with `answer` and records what it was asked. */
function backupStorage(answer: (n: number) => Response) {
  const calls: unknown[] = [];
  const app = new Hono();
  app.post('/checkpoints/:taskId/pull', async (c) => (calls.push({ taskId: c.req.param('taskId'), body: await c.req.json() }), answer(calls.length)));
  return { app, calls };
}
const copyOf = (taskId: string, sizeBytes: number, bytesMoved: number) =>
  Response.json({ taskId, files: [{ area: 'checkpoints', name: 'state.sav', sizeBytes, sha256: 'a'.repeat(64) }], sizeBytes, bytesMoved }, { status: 201 });
const problem = (detail: string) => Response.json({ type: 'urn:cps:problem:transfer-failed', title: 'x', status: 502, detail }, { status: 502, headers: { 'content-type': 'application/problem+json' } });

function runningTask(tasks: Tasks, backups: NodeAddress[]) {
  const t = tasks.create('copied', { name: 'copied', image: 'tiny', vcpus: 1, memoryMiB: 256, diskMiB: 16 } as never);
  tasks.transition(t.id, 'placing', 'publishing');
  tasks.transition(t.id, 'starting', 'placed on node-a', { node: host, backups });
  return tasks.transition(t.id, 'running', 'running', { console: { vncUrl: '/console/x' } });
}

describe('CheckpointCopies', () => {
  const at = (s: string) => () => new Date(s);

  it('has each backup pull from the host, records each copy, and keeps a failed backup\'s older copy', async () => {
    const tasks = new Tasks();
    let secondFails = false;
    const s1 = backupStorage(() => copyOf('x', 1000, 1000));
    const s2 = backupStorage(() => (secondFails ? problem('cut off') : copyOf('x', 1000, 1000)));
    const stores = new Map([[b1.nodeId, s1.app], [b2.nodeId, s2.app]]);
    const clientsFor: ClientsFor = (n) => ({ storage: storageClient(viaApp(stores.get(n.nodeId)!)), provisioner: provisionerClient(viaApp(new Hono())) });
    const task = runningTask(tasks, [host, b1, b2]);

    const first = await new CheckpointCopies({ clientsFor, log, now: at('2026-12-02T10:00:01Z') }).copy(task, '2026-12-02T10:00:00Z');
    expect(s1.calls).toEqual([{ taskId: task.id, body: { sourceNode: { address: '10.0.0.1', port: 18183 } } }]);
    expect(first.bytesMoved).toBe(2000);
    expect(first.checkpointCopies.map((c) => c.nodeId)).toEqual(['node-b', 'node-c']);
    tasks.note(task.id, 'checkpoint', { checkpointCopies: first.checkpointCopies });

    secondFails = true;
    const second = await new CheckpointCopies({ clientsFor, log, now: at('2026-12-02T10:05:01Z') }).copy(tasks.require(task.id), '2026-12-02T10:05:00Z');
    expect(second.failed).toEqual([{ nodeId: 'node-c', detail: 'cut off' }]);
    expect(second.message).toBe('copied to node-b (1000 of 1000 bytes moved); not copied to node-c (cut off)');
    expect(second.checkpointCopies).toEqual([
      { nodeId: 'node-c', checkpointAt: '2026-12-02T10:00:00Z', copiedAt: '2026-12-02T10:00:01.000Z', sizeBytes: 1000, bytesMoved: 1000 },
      { nodeId: 'node-b', checkpointAt: '2026-12-02T10:05:00Z', copiedAt: '2026-12-02T10:05:01.000Z', sizeBytes: 1000, bytesMoved: 1000 },
    ]);
  });

  it('copies nowhere when the task has no backups, and never to its own host', async () => {
    const tasks = new Tasks();
    const clientsFor: ClientsFor = () => {
      throw new Error('no call expected');
    };
    const out = await new CheckpointCopies({ clientsFor, log }).copy(runningTask(tasks, [host]), '2026-12-02T10:00:00Z');
    expect(out).toEqual({ copied: [], failed: [], bytesMoved: 0, checkpointCopies: [], message: '' });
  });
});

describe('a checkpoint through TaskActions is copied to the backups', () => {
  it('records the copy with the checkpoint: history, checkpointCopies, lastCheckpointAt', async () => {
    const tasks = new Tasks();
    const task = runningTask(tasks, [host, b1]);
    const provisioner = new Hono();
    provisioner.post('/vms/:taskId/checkpoint', (c) =>
      c.json({ taskId: c.req.param('taskId'), path: '/var/lib/cps/checkpoints/x/state.sav', sizeBytes: 4096, createdAt: '2026-12-02T10:00:00.000Z', vcpus: 1, memoryMiB: 256, running: true }),
    );
    const s1 = backupStorage(() => copyOf(task.id, 4200, 4096));
    const clientsFor: ClientsFor = (n) => ({
      storage: storageClient(viaApp(n.nodeId === b1.nodeId ? s1.app : new Hono())),
      provisioner: provisionerClient(viaApp(provisioner)),
    });
    const done = await new TaskActions({ tasks, clientsFor, log, now: () => new Date('2026-12-02T10:00:02Z') }).run('checkpoint', task.id);
    expect(done.lastCheckpointAt).toBe('2026-12-02T10:00:00.000Z');
    expect(done.history.at(-1)!.message).toBe('checkpoint written on node-a (4096 bytes); copied to node-b (4096 of 4200 bytes moved)');
    expect(done.checkpointCopies).toEqual([{ nodeId: 'node-b', checkpointAt: '2026-12-02T10:00:00.000Z', copiedAt: '2026-12-02T10:00:02.000Z', sizeBytes: 4200, bytesMoved: 4096 }]);
  });
});
