import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@cps/common';
import { describe, expect, it } from 'vitest';
import type { Placer } from '../src/placement.ts';
import { openRegistry, registryPath } from '../src/registry/db.ts';
import { recoverAfterRestart } from '../src/tasks/recover.ts';
import { Tasks } from '../src/tasks/tasks.ts';

const log = createLogger('recover-test', 'silent');
const request = { vcpus: 1, memoryMiB: 128, diskMiB: 64, image: 'tiny' };

describe('a coordinator restarted on its registry', () => {
  it('lists every task again; waiting ones and one caught being placed wait again, a half-stopped one is failed with why, those on a host are left to the reconcile', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cps-recover-'));
    const now = () => new Date('2026-12-02T10:00:00Z');
    const first = openRegistry(registryPath(dir), { now });
    const before = new Tasks({ store: first.tasks, now });
    const node = { nodeId: 'host-b', address: '10.0.0.2' };
    const make = (name: string, path: ('placing' | 'starting' | 'running' | 'stopping' | 'queued')[]) => {
      const t = before.create(name, request);
      for (const s of path) before.transition(t.id, s, s, s === 'starting' ? { node } : {});
      return t.id;
    };
    const ids = {
      pending: before.create('p', request).id,
      queued: make('q', ['queued']),
      placing: make('pl', ['placing']),
      starting: make('st', ['placing', 'starting']),
      running: make('r', ['placing', 'starting', 'running']),
      stopping: make('s', ['placing', 'starting', 'running', 'stopping']),
    };
    first.close();

    const second = openRegistry(registryPath(dir), { now });
    const tasks = new Tasks({ store: second.tasks, now });
    const placed: string[] = [];
    const placer = { place: async (id: string) => void placed.push(id) } as unknown as Placer;
    expect(recoverAfterRestart(tasks, placer, log)).toEqual({ requeued: 3, interrupted: 1 });
    expect(tasks.list()).toHaveLength(6);
    expect(placed.sort()).toEqual([ids.pending, ids.queued, ids.placing].sort());
    expect(tasks.require(ids.placing).state).toBe('queued');
    expect(tasks.require(ids.placing).history.at(-1)?.message).toMatch(/restarted while it was being placed/);
    expect(tasks.require(ids.running).state).toBe('running');
    expect(tasks.require(ids.starting).state).toBe('starting');
    const t = tasks.require(ids.stopping);
    expect(t.state).toBe('failed');
    expect(t.error?.type).toBe('urn:cps:problem:interrupted');
    expect(t.history.at(-1)?.message).toMatch(/coordinator restarted while this task was being stopped; stop it to clean up what it left on host-b/);
    second.close();
  });
});
