import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NodeAddress } from '../src/clients.ts';
import type { HeadView } from '../src/head/head-view.ts';
import type { Timers } from '../src/queue/dispatcher.ts';
import { openRegistry, type Registry } from '../src/registry/db.ts';
import { isNewer, replicatedTables } from '../src/registry/replica-store.ts';
import type { PullFromHead } from '../src/replica/head-client.ts';
import { RegistryReplica } from '../src/replica/registry-replica.ts';
import { replicaRoutes } from '../src/api/replica.ts';
import { parseSnapshot } from '../src/replica/snapshot-schema.ts';
import { memoryLogger } from '../../vnc-gateway/test/fakes.ts';
import { fillRegistry } from './fixtures/replica-sample.ts';
import { fullTask, tempDir } from './fixtures/registry-sample.ts';

const now = () => new Date('2026-12-02T12:00:00.000Z');
const headNode: NodeAddress = { nodeId: 'node-h', address: '127.0.0.1', ports: { coordinator: 1, discovery: 2, provisioner: 3, storage: 4, vncGateway: 5 } };

let tmp: ReturnType<typeof tempDir>;
const open: Registry[] = [];
const registry = (name: string) => {
  const r = openRegistry(`${tmp.dir}/${name}.db`, { now });
  open.push(r);
  return r;
};
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => {
  for (const r of open.splice(0)) r.close();
  tmp.remove();
});

/** The wire form the head sends (api/replica.ts), with an epoch. */
const wire = (reg: Registry, epoch?: number) => JSON.stringify({ ...reg.replica.snapshot(), ...(epoch !== undefined ? { epoch } : {}) });

function fakeHead(isHead = false): Pick<HeadView, 'isHead' | 'head' | 'onChange'> {
  return { isHead: () => isHead, head: () => (isHead ? undefined : headNode), onChange: () => () => {} };
}
const noTimers: Timers = { setTimeout: () => 0, clearTimeout: () => {} };

/** A follower over `reg` whose pull returns `text` (hostile or not) once. */
function followerGetting(reg: Registry, text: string) {
  const mem = memoryLogger();
  const pull: PullFromHead = async () => ({ kind: 'snapshot', text, bytes: Buffer.byteLength(text) });
  const replica = new RegistryReplica({ store: reg.replica, headView: fakeHead(), pull, timers: noTimers, now, log: mem.log });
  return { replica, lines: mem.lines };
}

describe('the registry revision', () => {
  it('every insert, update and delete of every replicated table moves it on', () => {
    const reg = registry('rev');
    reg.close();
    open.pop();
    const reopened = registry('rev');
    const raw = new Database(`${tmp.dir}/rev.db`);
    raw.pragma('foreign_keys = ON');
    const rev = () => reopened.replica.revision().rev;
    const changes: Record<string, string[]> = {
      users: [
        "INSERT INTO users VALUES ('u1', 'ann', 'user', 'h', 1, 1, 1, 1, '2026-12-02T10:00:00.000Z', NULL)",
        "UPDATE users SET role = 'admin' WHERE id = 'u1'",
      ],
      tasks: ["INSERT INTO tasks (id, name, state, created_at, updated_at, doc, owner) VALUES ('t1', 'x', 'pending', 'a', 'a', '{}', 'u1')", "UPDATE tasks SET state = 'queued'"],
      task_history: ["INSERT INTO task_history VALUES ('t1', 0, 'pending', 'a', NULL)", "UPDATE task_history SET message = 'm'"],
      api_tokens: ["INSERT INTO api_tokens VALUES ('k1', 'u1', 'cli', 'h', 'a', NULL, NULL, NULL)", "UPDATE api_tokens SET last_used_at = 'b'"],
      sessions: ["INSERT INTO sessions VALUES ('s1', 'u1', 'a', 'b')", "UPDATE sessions SET expires_at = 'c'"],
      idempotency_keys: ["INSERT INTO idempotency_keys VALUES ('u1', 'k', 'f', 't1', 'a')", "UPDATE idempotency_keys SET fingerprint = 'g'"],
      queue: ["INSERT INTO queue (task_id, user_id, enqueued_at, reason) VALUES ('t1', 'u1', 'a', 'r')", "UPDATE queue SET tag = 3"],
    };
    const deletes: Record<string, string> = {
      queue: 'DELETE FROM queue',
      idempotency_keys: 'DELETE FROM idempotency_keys',
      sessions: 'DELETE FROM sessions',
      api_tokens: 'DELETE FROM api_tokens',
      task_history: 'DELETE FROM task_history',
      tasks: 'DELETE FROM tasks',
      users: 'DELETE FROM users',
    };
    expect(Object.keys(changes).sort()).toEqual([...replicatedTables].sort());
    const moved: string[] = [];
    const step = (what: string, sql: string) => {
      const before = rev();
      raw.exec(sql);
      if (rev() > before) moved.push(what);
    };
    for (const [t, [ins, upd]] of Object.entries(changes)) {
      step(`${t} insert`, ins!);
      step(`${t} update`, upd!);
    }
    for (const [t, sql] of Object.entries(deletes)) step(`${t} delete`, sql);
    raw.close();
    expect(moved).toEqual([...Object.keys(changes).flatMap((t) => [`${t} insert`, `${t} update`]), ...Object.keys(deletes).map((t) => `${t} delete`)]);
  });

  it('the stores move it too (a task put), and a read does not', () => {
    const reg = registry('stores');
    const r0 = reg.replica.revision().rev;
    reg.tasks.put(fullTask(1));
    const r1 = reg.replica.revision().rev;
    expect(r1).toBeGreaterThan(r0);
    reg.tasks.list();
    reg.replica.snapshot();
    expect(reg.replica.revision().rev).toBe(r1);
    expect(reg.replica.revision().applied).toBeUndefined();
  });
});

describe('snapshot and apply', () => {
  it('a follower that applies the head snapshot has the same rows, orders and lookups', async () => {
    const head = registry('head');
    fillRegistry(head, 0);
    const follower = registry('follower');
    fillRegistry(follower, 1); // what it had before: all of it replaced
    const { replica, lines } = followerGetting(follower, wire(head, 4));
    expect(await replica.pullOnce()).toBe('applied');

    expect(follower.replica.snapshot()).toEqual(head.replica.snapshot());
    expect(follower.tasks.list()).toEqual(head.tasks.list());
    expect(follower.tasks.list().length).toBe(20);
    // The queue in arrival order with the fair-order tags it had.
    expect(follower.queue.list()).toEqual(head.queue.list());
    expect(follower.queue.list().map((e) => e.tag)).toEqual([97, 93, 89, 85, 81]);
    expect(follower.accounts.users.list()).toEqual(head.accounts.users.list());
    const ada = head.accounts.users.byName('ada')!;
    expect(follower.accounts.users.byName('ada')!.passwordHash).toBe(ada.passwordHash);
    expect(follower.accounts.tokens.listFor(ada.id)).toEqual(head.accounts.tokens.listFor(ada.id));
    expect(follower.tasks.ownerOf(head.tasks.list()[0]!.id)).toBe(head.tasks.ownerOf(head.tasks.list()[0]!.id));
    expect(follower.idempotency.lookup(ada.id, 'key-0')).toEqual(head.idempotency.lookup(ada.id, 'key-0'));
    expect(follower.accounts.users.byName('dora')).toBeUndefined();

    expect(replica.lastApplied()).toEqual({ rev: head.replica.revision().rev, epoch: 4, from: 'node-h', at: now().toISOString() });
    // The follower's own rev continues from the head's: if it becomes head, it counts on from there.
    expect(follower.replica.revision().rev).toBe(head.replica.revision().rev);
    const applied = lines().find((l) => l.msg === 'replica.applied');
    expect(applied).toMatchObject({ rev: head.replica.revision().rev, tasks: 20, users: 3, from: 'node-h' });
    expect(applied!.bytes).toBe(Buffer.byteLength(wire(head, 4)));
    expect(typeof applied!.ms).toBe('number');

    const raw = new Database(`${tmp.dir}/follower.db`, { readonly: true });
    expect(raw.pragma('foreign_key_check')).toEqual([]);
    raw.close();
  });

  it('an older snapshot of the same term is ignored; a newer term wins whatever its rev', () => {
    const head = registry('head');
    fillRegistry(head, 0);
    const follower = registry('follower');
    const s = parseSnapshot(wire(head, 5));
    expect(follower.replica.apply({ ...s, from: 'node-h', at: now().toISOString() })).toBe(true);
    const kept = follower.replica.snapshot();
    const other = registry('other');
    fillRegistry(other, 1);
    const older = parseSnapshot(wire(other, 5));
    expect(follower.replica.apply({ ...older, rev: s.rev - 1, from: 'node-h', at: now().toISOString() })).toBe(false);
    expect(follower.replica.apply({ ...older, rev: s.rev, from: 'node-h', at: now().toISOString() })).toBe(false);
    expect(follower.replica.snapshot()).toEqual(kept);
    // A new head (epoch 6) that had seen less of the old one: its rows are the truth now.
    expect(follower.replica.apply({ ...older, rev: 3, epoch: 6, from: 'node-n', at: now().toISOString() })).toBe(true);
    expect(follower.tasks.list()).toEqual(other.tasks.list());
    expect(follower.replica.revision().applied).toMatchObject({ rev: 3, epoch: 6, from: 'node-n' });
    // ...and the old term's head, if it still answers, is ignored now.
    expect(follower.replica.apply({ ...s, rev: s.rev + 100, from: 'node-h', at: now().toISOString() })).toBe(false);
  });

  it('isNewer: epochs first, then revs; no epoch on either side compares revs', () => {
    expect(isNewer({ rev: 1 }, undefined)).toBe(true);
    expect(isNewer({ rev: 5, epoch: 2 }, { rev: 9, epoch: 1, from: 'a', at: 'x' })).toBe(true);
    expect(isNewer({ rev: 9, epoch: 1 }, { rev: 5, epoch: 2, from: 'a', at: 'x' })).toBe(false);
    expect(isNewer({ rev: 6 }, { rev: 5, epoch: 2, from: 'a', at: 'x' })).toBe(true);
    expect(isNewer({ rev: 5 }, { rev: 5, from: 'a', at: 'x' })).toBe(false);
  });
});

describe('a hostile snapshot changes nothing', () => {
  const good = () => {
    const head = registry('head');
    fillRegistry(head, 0, 8);
    return JSON.parse(wire(head, 2)) as { rev: number; epoch: number; tables: Record<string, Array<Record<string, unknown>>> };
  };
  const edits: Record<string, (s: ReturnType<typeof good>) => unknown> = {
    'a rev that is a string': (s) => ({ ...s, rev: String(s.rev) }),
    'a negative epoch': (s) => ({ ...s, epoch: -1 }),
    'an extra table': (s) => ({ ...s, tables: { ...s.tables, registry_revision: [{ id: 1, rev: 0 }] } }),
    'a missing table': (s) => ({ ...s, tables: { ...s.tables, queue: undefined } }),
    'an extra field at the top': (s) => ({ ...s, evil: true }),
    'an extra column': (s) => ({ ...s, tables: { ...s.tables, users: s.tables.users!.map((u) => ({ ...u, is_root: 1 })) } }),
    'a quota that is a string': (s) => ({ ...s, tables: { ...s.tables, users: s.tables.users!.map((u) => ({ ...u, quota_vcpus: '8' })) } }),
    'a role not in the schema': (s) => ({ ...s, tables: { ...s.tables, users: s.tables.users!.map((u) => ({ ...u, role: 'root' })) } }),
    'a task state not in the contract': (s) => ({ ...s, tables: { ...s.tables, tasks: s.tables.tasks!.map((t) => ({ ...t, state: 'pwned' })) } }),
    'a task document that is not JSON': (s) => ({ ...s, tables: { ...s.tables, tasks: s.tables.tasks!.map((t, i) => (i === 3 ? { ...t, doc: '{"request":' } : t)) } }),
    'a date that is not a date': (s) => ({ ...s, tables: { ...s.tables, sessions: s.tables.sessions!.map((x) => ({ ...x, expires_at: 'tomorrow' })) } }),
    'a huge string': (s) => ({ ...s, tables: { ...s.tables, tasks: s.tables.tasks!.map((t, i) => (i === 0 ? { ...t, name: 'x'.repeat(5_000_000) } : t)) } }),
    'a huge task document': (s) => ({ ...s, tables: { ...s.tables, tasks: s.tables.tasks!.map((t, i) => (i === 0 ? { ...t, doc: JSON.stringify({ pad: 'y'.repeat(2_000_000) }) } : t)) } }),
    'rows that are not objects': (s) => ({ ...s, tables: { ...s.tables, users: [[1, 'a']] } }),
  };
  const sqliteRefuses: Record<string, (s: ReturnType<typeof good>) => unknown> = {
    'a history row of a task that is not there': (s) => ({ ...s, tables: { ...s.tables, task_history: [...s.tables.task_history!, { task_id: 't-nope', n: 0, state: 'pending', at: '2026-12-02T10:00:00.000Z', message: null }] } }),
    'a token of a user that is not there': (s) => ({ ...s, tables: { ...s.tables, api_tokens: [...s.tables.api_tokens!, { ...s.tables.api_tokens![0]!, rowid: 99, id: 'tok-x', user_id: 'u-nobody' }] } }),
    'a task owned by no user': (s) => ({ ...s, tables: { ...s.tables, tasks: s.tables.tasks!.map((t, i) => (i === 2 ? { ...t, owner: 'u-ghost' } : t)) } }),
    'two users of one name': (s) => ({ ...s, tables: { ...s.tables, users: [...s.tables.users!, { ...s.tables.users![0]!, rowid: 50, id: 'u-twin' }] } }),
    'a queue entry twice': (s) => ({ ...s, tables: { ...s.tables, queue: [...s.tables.queue!, { ...s.tables.queue![0]!, seq: 77 }] } }),
  };

  const check = async (text: string, expectLog: RegExp) => {
    const follower = registry('follower');
    fillRegistry(follower, 1, 5);
    const before = follower.replica.snapshot();
    const revBefore = follower.replica.revision();
    const { replica, lines } = followerGetting(follower, text);
    expect(await replica.pullOnce()).toBe('failed');
    expect(follower.replica.snapshot()).toEqual(before);
    expect(follower.replica.revision()).toEqual(revBefore);
    const rejected = lines().filter((l) => l.msg === 'replica.rejected');
    expect(rejected).toHaveLength(1);
    expect(rejected[0]!.level).toBe(50); // pino's error
    expect(String(rejected[0]!.err)).toMatch(expectLog);
    expect(String(rejected[0]!.err).length).toBeLessThan(2000);
  };

  it('bytes that are not JSON', async () => {
    await check('{"rev": 1, "tables": {', /not JSON/);
    open.splice(0).forEach((r) => r.close());
    await check('\u0000\u00ff garbage', /not JSON/);
  });

  for (const [what, edit] of Object.entries(edits)) {
    it(what, async () => {
      const text = JSON.stringify(edit(good()));
      await check(text, /does not match the registry/);
    });
  }
  for (const [what, edit] of Object.entries(sqliteRefuses)) {
    it(`${what} (SQLite refuses it inside the one transaction)`, async () => {
      await check(JSON.stringify(edit(good())), /constraint/i);
    });
  }
});

describe('the role changing under a pull', () => {
  it('a node that became head while the bytes came applies nothing', async () => {
    const head = registry('head');
    fillRegistry(head, 0, 4);
    const follower = registry('follower');
    fillRegistry(follower, 1, 4);
    const before = follower.replica.snapshot();
    let leads = false;
    const view: Pick<HeadView, 'isHead' | 'head' | 'onChange'> = { isHead: () => leads, head: () => (leads ? undefined : headNode), onChange: () => () => {} };
    const text = wire(head, 3);
    const pull: PullFromHead = async () => {
      leads = true; // elected meanwhile
      return { kind: 'snapshot', text, bytes: text.length };
    };
    const mem = memoryLogger();
    const replica = new RegistryReplica({ store: follower.replica, headView: view, pull, timers: noTimers, now, log: mem.log });
    expect(await replica.pullOnce()).toBe('superseded');
    expect(follower.replica.snapshot()).toEqual(before);
    expect(mem.lines().map((l) => l.msg)).toContain('replica.superseded');
  });
});

describe('the head keeps the text of its last snapshot', () => {
  it('reads the registry again only when its rev or the term moved on', async () => {
    const reg = registry('head');
    fillRegistry(reg, 0, 4);
    let reads = 0;
    const store = { revision: () => reg.replica.revision(), snapshot: () => (reads++, reg.replica.snapshot()) };
    let epoch = 2;
    const view = { isHead: () => true, head: () => undefined, commandEpoch: () => ({ epoch, head: 'self' }) };
    const app = replicaRoutes({ replica: store, headView: view, maxBytes: 1 << 24 });
    const get = (q = '') => app.request(`http://localhost/internal/registry${q}`, {}, { caller: { kind: 'member', nodeId: 'node-f' } });
    const first = await (await get()).text();
    expect(await (await get()).text()).toBe(first);
    expect(reads).toBe(1);
    const rev = reg.replica.revision().rev;
    expect((await get(`?since=${rev}&epoch=2`)).status).toBe(204);
    expect((await get(`?since=${rev}&epoch=1`)).status).toBe(200); // another term: everything
    expect((await get(`?since=${rev}`)).status).toBe(200);
    expect(reads).toBe(1);
    reg.tasks.put(fullTask(99));
    const moved = JSON.parse(await (await get(`?since=${rev}&epoch=2`)).text()) as { rev: number; tables: { tasks: unknown[] } };
    expect(moved.rev).toBe(reg.replica.revision().rev);
    expect(moved.tables.tasks).toHaveLength(5);
    expect(reads).toBe(2);
    epoch = 3;
    expect(JSON.parse(await (await get()).text()).epoch).toBe(3);
    expect(reads).toBe(3);
  });
});
