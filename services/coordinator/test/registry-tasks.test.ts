import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openRegistry, registryPath, type Registry } from '../src/registry/db.ts';
import { MemoryTaskStore, type Task, type TaskStore } from '../src/tasks/store.ts';
import { Tasks } from '../src/tasks/tasks.ts';
import { fullTask, newTask, tempDir, user } from './fixtures/registry-sample.ts';

const now = () => new Date('2026-12-02T10:00:00.000Z');

let tmp: ReturnType<typeof tempDir>;
let reg: Registry;
beforeEach(() => {
  tmp = tempDir();
  reg = openRegistry(registryPath(tmp.dir), { now });
});
afterEach(() => {
  reg.close();
  tmp.remove();
});

// The behaviour every TaskStore owes Tasks, run against the Map and the registry alike.
const stores: [string, () => TaskStore][] = [
  ['MemoryTaskStore', () => new MemoryTaskStore()],
  ['SqliteTaskStore', () => reg.tasks],
];

describe.each(stores)('%s', (_, make) => {
  it('deletes a task with its history (a purge); false for one not there', () => {
    const store = make();
    store.put(fullTask(1));
    store.put(fullTask(2));
    expect(store.delete(fullTask(1).id)).toBe(true);
    expect(store.get(fullTask(1).id)).toBeUndefined();
    expect(store.list().map((t) => t.id)).toEqual([fullTask(2).id]);
    expect(store.delete(fullTask(1).id)).toBe(false);
  });

  it('gives back what was put, and undefined for an unknown id', () => {
    const store = make();
    store.put(fullTask(1));
    expect(store.get(fullTask(1).id)).toEqual(fullTask(1));
    expect(store.get('t-nothere')).toBeUndefined();
  });

  it('lists newest first, by when a task was first put', () => {
    const store = make();
    for (const id of ['t-a', 't-b', 't-c']) store.put(newTask(id, '2026-12-02T10:00:00.000Z'));
    // A later put of the oldest task does not make it newer.
    store.put({ ...newTask('t-a', '2026-12-02T10:00:00.000Z'), state: 'placing' });
    expect(store.list().map((t) => t.id)).toEqual(['t-c', 't-b', 't-a']);
  });

  it('put replaces the whole task: fields left out are gone, history is the new one', () => {
    const store = make();
    store.put(fullTask(2));
    const { node: _n, backups: _b, console: _c, error: _e, queue: _q, ...bare } = fullTask(2);
    const replaced: Task = { ...bare, state: 'stopped', name: 'renamed', history: [{ state: 'stopped', at: '2026-12-02T11:00:00.000Z' }] };
    store.put(replaced);
    expect(store.get(replaced.id)).toEqual(replaced);
    expect(store.list()).toEqual([replaced]);
  });

  it('drives Tasks through a life: create, transitions, history in order', () => {
    let t = Date.parse('2026-12-02T10:00:00.000Z');
    const tasks = new Tasks({ store: make(), now: () => new Date((t += 1000)), newId: (() => { let n = 0; return () => `t-${++n}`; })() });
    const a = tasks.create('a', { vcpus: 1, memoryMiB: 256, diskMiB: 1024, image: 'tiny' });
    tasks.transition(a.id, 'placing', 'publishing');
    tasks.transition(a.id, 'starting', 'on n1', { node: { nodeId: 'n1', address: '10.0.0.1' }, backups: [{ nodeId: 'n2', address: '10.0.0.2' }] });
    const running = tasks.transition(a.id, 'running', 'guest runs', { console: { vncUrl: 'http://10.0.0.1:8084/console/t-1' } });
    tasks.create('b', { vcpus: 2, memoryMiB: 512, diskMiB: 1024, image: 'tiny' });
    expect(tasks.get(a.id)).toEqual(running);
    expect(running.history.map((h) => [h.state, h.message])).toEqual([
      ['pending', 'submitted'],
      ['placing', 'publishing'],
      ['starting', 'on n1'],
      ['running', 'guest runs'],
    ]);
    expect(tasks.list().map((x) => x.name)).toEqual(['b', 'a']);
  });
});

describe('SqliteTaskStore', () => {
  it('round-trips every field of a task, nested JSON and unicode included, across a reopen', () => {
    const many = Array.from({ length: 20 }, (_, i) => fullTask(i));
    for (const t of many) reg.tasks.put(t);
    reg.close();
    reg = openRegistry(registryPath(tmp.dir), { now });
    expect(reg.tasks.list()).toEqual([...many].reverse());
    for (const t of many) expect(reg.tasks.get(t.id)).toEqual(t);
  });

  it('keeps a history message absent when it was absent, and an empty one empty', () => {
    const t = { ...newTask('t-m', '2026-12-02T10:00:00.000Z'), history: [{ state: 'pending' as const, at: '2026-12-02T10:00:00.000Z' }, { state: 'placing' as const, at: '2026-12-02T10:00:01.000Z', message: '' }] };
    reg.tasks.put(t);
    const back = reg.tasks.get('t-m')!;
    expect(back.history).toEqual(t.history);
    expect('message' in back.history[0]!).toBe(false);
  });

  it('keeps an owner per task: set on create, kept by later puts that do not name one', () => {
    reg.accounts.users.put(user('u-0000000000000001', 'ada'));
    reg.accounts.users.put(user('u-0000000000000002', 'bob'));
    reg.tasks.put(newTask('t-1', '2026-12-02T10:00:00.000Z'), 'u-0000000000000001');
    reg.tasks.put(newTask('t-2', '2026-12-02T10:00:01.000Z'), 'u-0000000000000002');
    reg.tasks.put(newTask('t-3', '2026-12-02T10:00:02.000Z'), 'u-0000000000000001');
    reg.tasks.put(newTask('t-legacy', '2026-12-02T10:00:03.000Z'));
    // A transition through Tasks knows nothing of owners: the owner stays.
    new Tasks({ store: reg.tasks, now }).transition('t-1', 'placing', 'publishing');
    expect(reg.tasks.ownerOf('t-1')).toBe('u-0000000000000001');
    expect(reg.tasks.ownerOf('t-legacy')).toBeNull();
    expect(reg.tasks.ownerOf('t-none')).toBeUndefined();
    expect(reg.tasks.listOwnedBy('u-0000000000000001').map((t) => t.id)).toEqual(['t-3', 't-1']);
    expect(reg.tasks.listOwnedBy('u-0000000000000001')[1]!.state).toBe('placing');
    expect(reg.tasks.listOwnedBy('u-0000000000000002').map((t) => t.id)).toEqual(['t-2']);
    // An admin adopting an orphan for a user, and clearing an owner.
    reg.tasks.put(reg.tasks.get('t-legacy')!, 'u-0000000000000002');
    expect(reg.tasks.listOwnedBy('u-0000000000000002').map((t) => t.id)).toEqual(['t-legacy', 't-2']);
    reg.tasks.put(reg.tasks.get('t-2')!, null);
    expect(reg.tasks.ownerOf('t-2')).toBeNull();
  });

  it('refuses an owner that is no user (foreign keys are on)', () => {
    expect(() => reg.tasks.put(newTask('t-x', '2026-12-02T10:00:00.000Z'), 'u-00000000000000ff')).toThrow(/FOREIGN KEY/);
    expect(reg.tasks.get('t-x')).toBeUndefined();
  });

  it('deletes a record with its history, queue entry and idempotency keys', () => {
    reg.accounts.users.put(user('u-0000000000000001', 'ada'));
    reg.tasks.put(fullTask(7), 'u-0000000000000001');
    reg.tasks.put(fullTask(8), 'u-0000000000000001');
    reg.queue.enqueue({ taskId: fullTask(7).id, userId: 'u-0000000000000001', reason: 'waits' });
    reg.idempotency.record('u-0000000000000001', 'k', 'fp', fullTask(7).id);
    expect(reg.tasks.delete(fullTask(7).id)).toBe(true);
    expect(reg.tasks.delete(fullTask(7).id)).toBe(false);
    expect(reg.tasks.get(fullTask(7).id)).toBeUndefined();
    expect(reg.tasks.list()).toEqual([fullTask(8)]);
    expect(reg.queue.list()).toEqual([]);
    expect(reg.idempotency.lookup('u-0000000000000001', 'k')).toBeUndefined();
    // A new task under the old id starts with only its own history.
    reg.tasks.put(newTask(fullTask(7).id, '2026-12-02T12:00:00.000Z'));
    expect(reg.tasks.get(fullTask(7).id)!.history).toHaveLength(1);
  });

  it('a failed put changes nothing: the task keeps its previous version whole', () => {
    reg.tasks.put(fullTask(3));
    const bad = { ...fullTask(3), state: 'stopped' as const, history: [...fullTask(3).history, { state: 'stopped' as const, at: null as unknown as string }] };
    expect(() => reg.tasks.put(bad)).toThrow(/NOT NULL/);
    expect(reg.tasks.get(fullTask(3).id)).toEqual(fullTask(3));
  });
});
