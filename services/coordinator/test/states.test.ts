import { describe, expect, it } from 'vitest';
import { canTransition, IllegalTransition, transitions, type TaskState } from '../src/tasks/states.ts';
import { Tasks } from '../src/tasks/tasks.ts';
import { taskIdPattern } from '../src/tasks/ids.ts';

const all = Object.keys(transitions) as TaskState[];

const allowed: [TaskState, TaskState][] = [
  ['pending', 'placing'], ['pending', 'queued'], ['pending', 'stopping'], ['pending', 'failed'],
  ['queued', 'placing'], ['queued', 'stopping'], ['queued', 'failed'],
  ['placing', 'starting'], ['placing', 'queued'], ['placing', 'stopping'], ['placing', 'failed'],
  ['starting', 'running'], ['starting', 'placing'], ['starting', 'stopping'], ['starting', 'failed'],
  ['running', 'suspended'], ['running', 'stopping'], ['running', 'failed'],
  ['suspended', 'running'], ['suspended', 'stopping'], ['suspended', 'failed'],
  ['stopping', 'stopped'], ['stopping', 'failed'],
  ['failed', 'stopping'],
];
const isAllowed = (from: TaskState, to: TaskState) => allowed.some(([f, t]) => f === from && t === to);
const illegal = all.flatMap((from) => all.map((to) => [from, to] as [TaskState, TaskState])).filter(([f, t]) => !isAllowed(f, t));

describe('task state machine', () => {
  it('covers every state of the contract', () => {
    expect(all.sort()).toEqual(['failed', 'pending', 'placing', 'queued', 'running', 'starting', 'stopped', 'stopping', 'suspended']);
  });

  it.each(allowed)('allows %s → %s', (from, to) => {
    expect(canTransition(from, to)).toBe(true);
  });

  it.each(illegal)('refuses %s → %s', (from, to) => {
    expect(canTransition(from, to)).toBe(false);
  });

  it('stopped is terminal and nothing returns to pending', () => {
    expect(transitions.stopped).toEqual([]);
    expect(all.filter((s) => canTransition(s, 'pending'))).toEqual([]);
  });

  it('a task waits only before it has a node: nothing started, running or ended goes back to the queue', () => {
    expect(all.filter((s) => canTransition(s, 'queued')).sort()).toEqual(['pending', 'placing']);
    expect(canTransition('queued', 'starting')).toBe(false); // it is published again first
  });
});

describe('Tasks', () => {
  const clock = () => {
    let t = Date.parse('2026-01-01T00:00:00Z');
    return () => new Date((t += 1000));
  };

  it('creates pending tasks with contract-shaped ids and a first history entry', () => {
    const tasks = new Tasks({ now: clock() });
    const t = tasks.create('demo', { vcpus: 1, memoryMiB: 256, diskMiB: 64, image: 'tiny' });
    expect(t.id).toMatch(/^t-[0-9a-f]{8}$/);
    expect(t.id).toMatch(taskIdPattern);
    expect(t.state).toBe('pending');
    expect(t.history).toEqual([{ state: 'pending', at: '2026-01-01T00:00:01.000Z', message: 'submitted' }]);
    expect(tasks.get(t.id)).toEqual(t);
  });

  it('records each transition in the history and announces it', () => {
    const tasks = new Tasks({ now: clock() });
    const seen: string[] = [];
    tasks.subscribe((t) => seen.push(t.state));
    const { id } = tasks.create('demo', { vcpus: 1, memoryMiB: 256, diskMiB: 64, image: 'tiny' });
    tasks.transition(id, 'placing', 'publishing');
    const t = tasks.transition(id, 'starting', 'placed', { node: { nodeId: 'a', address: '10.0.0.1' } });
    expect(seen).toEqual(['pending', 'placing', 'starting']);
    expect(t.history.map((h) => [h.state, h.message])).toEqual([['pending', 'submitted'], ['placing', 'publishing'], ['starting', 'placed']]);
    expect(t.node).toEqual({ nodeId: 'a', address: '10.0.0.1' });
    expect(t.updatedAt).toBe('2026-01-01T00:00:03.000Z');
  });

  it('throws on an illegal transition and leaves the task as it was', () => {
    const tasks = new Tasks();
    const { id } = tasks.create('demo', { vcpus: 1, memoryMiB: 256, diskMiB: 64, image: 'tiny' });
    expect(() => tasks.transition(id, 'running', 'skip ahead')).toThrow(IllegalTransition);
    expect(tasks.get(id)?.state).toBe('pending');
    expect(tasks.get(id)?.history).toHaveLength(1);
  });

  it('hands out copies that cannot change the stored task', () => {
    const tasks = new Tasks();
    const t = tasks.create('demo', { vcpus: 1, memoryMiB: 256, diskMiB: 64, image: 'tiny' });
    t.state = 'running';
    tasks.list()[0]!.history.push({ state: 'running', at: 'x' });
    expect(tasks.get(t.id)?.state).toBe('pending');
    expect(tasks.get(t.id)?.history).toHaveLength(1);
  });

  it('lists newest first, unsubscribes, and survives a throwing listener', () => {
    const tasks = new Tasks();
    tasks.subscribe(() => {
      throw new Error('dead stream');
    });
    const seen: string[] = [];
    const off = tasks.subscribe((t) => seen.push(t.name));
    const a = tasks.create('a', { vcpus: 1, memoryMiB: 256, diskMiB: 64, image: 'tiny' });
    off();
    const b = tasks.create('b', { vcpus: 1, memoryMiB: 256, diskMiB: 64, image: 'tiny' });
    expect(tasks.list().map((t) => t.id)).toEqual([b.id, a.id]);
    expect(seen).toEqual(['a']);
    expect(tasks.listenerCount).toBe(1);
  });

  it('never reuses an id', () => {
    const ids = ['t-00000001', 't-00000001', 't-00000002'];
    const tasks = new Tasks({ newId: () => ids.shift()! });
    const req = { vcpus: 1, memoryMiB: 256, diskMiB: 64, image: 'tiny' };
    expect([tasks.create('a', req).id, tasks.create('b', req).id]).toEqual(['t-00000001', 't-00000002']);
  });
});
