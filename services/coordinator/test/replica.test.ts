import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Hono } from 'hono';
import { createLogger, memberFetch, problemErrorHandler, publicRoutesOfFile, serveApp, type ClusterTls, type Served } from '@cps/common';
import { discoveryClient, specFiles, storageClient, viaApp } from '@cps/openapi';
import { createCa } from '@cps/trust';
import { issueMember } from '../../../tests/helpers/hosts-identity.ts';
import { Accounts } from '../src/accounts/accounts.ts';
import { createApp } from '../src/app.ts';
import type { NodeAddress } from '../src/clients.ts';
import type { HeadView } from '../src/head/head-view.ts';
import { Placer } from '../src/placement.ts';
import type { Timers } from '../src/queue/dispatcher.ts';
import { openRegistry, type Registry } from '../src/registry/db.ts';
import { headClient, readBounded } from '../src/replica/head-client.ts';
import { replicaRoutes } from '../src/api/replica.ts';
import { RegistryReplica } from '../src/replica/registry-replica.ts';
import { Tasks } from '../src/tasks/tasks.ts';
import { memoryLogger } from '../../vnc-gateway/test/fakes.ts';
import { fakeDiscovery } from './fakes.ts';
import { tempDir } from './fixtures/registry-sample.ts';

// Two coordinators over real sockets and the cluster's mutual TLS, each on its own SQLite
// registry: node-a leads, node-b follows and pulls a's registry; then a dies and b leads.
const log = createLogger('replica-test', 'silent');
const maxBytes = 8 * 1024 * 1024;
const request = { vcpus: 1, memoryMiB: 256, diskMiB: 1024, image: 'tiny' };

/** A HeadView a test moves by hand. */
class FakeHeadView implements HeadView {
  leads = false;
  headAt: NodeAddress | undefined;
  epoch = 1;
  private readonly listeners = new Set<() => void>();
  isHead = () => this.leads;
  head = () => (this.leads ? undefined : this.headAt);
  commandEpoch = () => (this.leads ? { epoch: this.epoch, head: 'self' } : undefined);
  onChange(l: () => void) {
    this.listeners.add(l);
    return () => void this.listeners.delete(l);
  }
  set(change: Partial<Pick<FakeHeadView, 'leads' | 'headAt' | 'epoch'>>) {
    Object.assign(this, change);
    for (const l of this.listeners) l();
  }
}

/** Timers a test fires by hand; nothing runs on its own. */
function manualTimers() {
  const due: Array<{ fn: () => void; ms: number; cancelled: boolean }> = [];
  let waiters: Array<() => void> = [];
  const timers: Timers = {
    setTimeout: (fn, ms) => {
      const t = { fn, ms, cancelled: false };
      due.push(t);
      const w = waiters;
      waiters = [];
      w.forEach((r) => r());
      return t;
    },
    clearTimeout: (h) => void ((h as { cancelled: boolean }).cancelled = true),
  };
  const pending = () => due.filter((t) => !t.cancelled).map((t) => t.ms);
  return {
    timers,
    pending,
    fire: () => due.splice(0).filter((t) => !t.cancelled).forEach((t) => t.fn()),
    /** Resolves once something is scheduled (at once if something is). */
    scheduled: () => (pending().length > 0 ? Promise.resolve() : new Promise<void>((r) => waiters.push(r))),
  };
}

/** One coordinator as main.ts builds it, minus the hosts: its registry, accounts, tasks, the snapshot route. */
function coordinator(reg: Registry, view: FakeHeadView) {
  const now = () => new Date();
  const tasks = new Tasks({ store: reg.tasks, now });
  const accounts = new Accounts({ store: reg.accounts, now });
  const clientsFor = () => {
    throw new Error('no hosts in this test');
  };
  const placer = new Placer({ tasks, discovery: discoveryClient(viaApp(fakeDiscovery([]).app)), clientsFor, log });
  const app = createApp({ log, tasks, placer, localStorage: storageClient(viaApp(new Hono())), clientsFor, accounts, idempotency: reg.idempotency, registryReplica: { replica: reg.replica, headView: view, maxBytes } });
  return { tasks, accounts, app };
}

let tmp: ReturnType<typeof tempDir>;
let tlsB: ClusterTls;
let regA: Registry, regB: Registry;
const viewA = new FakeHeadView();
const viewB = new FakeHeadView();
let a: ReturnType<typeof coordinator>, b: ReturnType<typeof coordinator>;
let servedA: Served, servedB: Served;
let aliveA = true;
let adminPassword: string;
let aliceToken: string;
const ports = (coordinator: number) => ({ coordinator, discovery: 1, provisioner: 1, storage: 1, vncGateway: 1 });
const b2 = memoryLogger();
const timersB = manualTimers();
let replicaB: RegistryReplica;

beforeAll(async () => {
  tmp = tempDir();
  const ca = await createCa({ now: new Date() });
  const tlsA = await issueMember(ca, 'node-a', ['127.0.0.1']);
  tlsB = await issueMember(ca, 'node-b', ['127.0.0.1']);
  regA = openRegistry(`${tmp.dir}/a.db`, { now: () => new Date() });
  regB = openRegistry(`${tmp.dir}/b.db`, { now: () => new Date() });
  viewA.set({ leads: true, epoch: 7 });
  a = coordinator(regA, viewA);
  b = coordinator(regB, viewB);
  const publicRoutes = publicRoutesOfFile(specFiles.coordinator);
  servedA = await serveApp(a.app, { port: 0, hostname: '127.0.0.1', log, tls: tlsA, publicRoutes });
  servedB = await serveApp(b.app, { port: 0, hostname: '127.0.0.1', log, tls: tlsB, publicRoutes });
  viewB.set({ headAt: { nodeId: 'node-a', address: '127.0.0.1', ports: ports(servedA.port) } });
  replicaB = new RegistryReplica({ store: regB.replica, headView: viewB, pull: headClient({ fetch: memberFetch(tlsB), maxBytes }), timers: timersB.timers, now: () => new Date(), log: b2.log });

  // What users did on the head: the first admin, alice with a password and a token, tasks, a queue.
  adminPassword = (await a.accounts.ensureFirstAdmin())!.password;
  const alice = await a.accounts.createUser({ name: 'alice', password: 'alice-password-1' });
  aliceToken = (await a.accounts.createToken(alice.id, 'cli')).value;
  for (let i = 0; i < 5; i++) {
    const t = a.tasks.create(`job-${i}`, request, { id: alice.id, name: alice.name });
    if (i >= 3) {
      a.tasks.transition(t.id, 'queued', 'no peer has room');
      regA.queue.enqueue({ taskId: t.id, userId: alice.id, reason: 'no peer has room', tag: 10 - i });
    }
  }
});

afterAll(async () => {
  replicaB.close();
  if (aliveA) await servedA.close();
  await servedB.close();
  regA.close();
  regB.close();
  tmp.remove();
});

const problemType = async (res: Response) => ((await res.json()) as { type: string }).type;
const userApi = (port: number, path: string, init: RequestInit = {}) => fetch(`http://127.0.0.1:${port}${path}`, init);

describe('GET /internal/registry is for members only', () => {
  it('a stranger over plain HTTP is refused at the door', async () => {
    const res = await userApi(servedA.port, '/internal/registry');
    expect(res.status).toBe(401);
    expect(await problemType(res)).toBe('urn:cps:problem:member-certificate-required');
  });

  it('a signed-in user (a valid API token), over HTTP or TLS without a member certificate, is refused', async () => {
    const auth = { authorization: `Bearer ${aliceToken}` };
    const me = await userApi(servedA.port, '/api/me', { headers: auth });
    expect(me.status).toBe(200); // the token is good...
    const plain = await userApi(servedA.port, '/internal/registry', { headers: auth });
    expect(plain.status).toBe(401); // ...and opens nothing here
    const anonymous = memberFetch(tlsB, { anonymous: true });
    const tls = await anonymous(new Request(`https://127.0.0.1:${servedA.port}/internal/registry`, { headers: auth }));
    expect(tls.status).toBe(401);
    expect(await problemType(tls)).toBe('urn:cps:problem:member-certificate-required');
    // Without the door (the app alone), the route itself still wants a member.
    const inApp = await a.app.request('http://localhost/internal/registry', { headers: { host: 'localhost', ...auth } });
    expect(inApp.status).toBe(401);
    const body = await inApp.text();
    expect(body).not.toContain('password_hash');
  });

  it('a follower answers a member 409 not-head', async () => {
    const res = await memberFetch(tlsB)(new Request(`https://127.0.0.1:${servedB.port}/internal/registry`));
    expect(res.status).toBe(409);
    expect(await res.json()).toMatchObject({ type: 'urn:cps:problem:not-head', head: 'node-a' });
  });

  it('a follower pointed at another follower fails the pull, naming the refusal', async () => {
    const mem = memoryLogger();
    const toFollower = new FakeHeadView();
    toFollower.set({ headAt: { nodeId: 'node-b', address: '127.0.0.1', ports: ports(servedB.port) } });
    const lost = new RegistryReplica({ store: regB.replica, headView: toFollower, pull: headClient({ fetch: memberFetch(tlsB), maxBytes }), timers: manualTimers().timers, now: () => new Date(), log: mem.log });
    expect(await lost.pullOnce()).toBe('failed');
    const failed = mem.lines().find((l) => l.msg === 'replica.pull-failed');
    expect(String(failed!.err)).toMatch(/node-b answered 409 .*not-head/);
  });

  it('the head answers a malformed since with a problem', async () => {
    const res = await memberFetch(tlsB)(new Request(`https://127.0.0.1:${servedA.port}/internal/registry?since=-1`));
    expect(res.status).toBe(400);
  });
});

describe('how big a snapshot may be', () => {
  it('the head refuses to send more than its limit, the follower to read more than its own', async () => {
    const small = new Hono();
    small.onError(problemErrorHandler());
    small.route('/', replicaRoutes({ replica: regA.replica, headView: viewA, maxBytes: 200 }));
    const res = await small.request('http://localhost/internal/registry', {}, { caller: { kind: 'member', nodeId: 'node-b' } });
    expect(res.status).toBe(500);
    expect(((await res.json()) as { detail: string }).detail).toMatch(/more than the 200 this node sends/);
    const big = new Response('x'.repeat(10_000)).body;
    await expect(readBounded(big, 4096)).rejects.toThrow(/larger than 4096 bytes/);
    const notUtf8 = new Response(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])).body;
    await expect(readBounded(notUtf8, 4096)).rejects.toThrow();
  });
});

describe('the follower replicates the head, and leads when it dies', () => {
  it('pulls the whole registry once, then 204s until the head changes something', async () => {
    expect(await replicaB.pullOnce()).toBe('applied');
    expect(regB.replica.snapshot()).toEqual(regA.replica.snapshot());
    expect(replicaB.lastApplied()).toMatchObject({ rev: regA.replica.revision().rev, epoch: 7, from: 'node-a' });
    expect(await replicaB.pullOnce()).toBe('unchanged');
    // One pull at a time: a second asked meanwhile does nothing.
    expect((await Promise.all([replicaB.pullOnce(), replicaB.pullOnce()])).sort()).toEqual(['busy', 'unchanged']);

    a.tasks.create('job-late', request, { id: a.accounts.byName('alice')!.id, name: 'alice' });
    expect(await replicaB.pullOnce()).toBe('applied');
    expect(b.tasks.list().map((t) => t.name)).toContain('job-late');
    expect(b2.lines().filter((l) => l.msg === 'replica.applied')).toHaveLength(2);
  });

  it('the loop pulls every interval, one at a time, and backs off while the head is away', async () => {
    a.tasks.create('job-loop', request);
    replicaB.start();
    expect(timersB.pending()).toEqual([0]);
    const settled = async (n: number) => {
      // The pull runs on the event loop; wait (by events, not by time) until it scheduled the next.
      await timersB.scheduled();
      expect(timersB.pending()).toHaveLength(n);
    };
    timersB.fire();
    await settled(1);
    expect(timersB.pending()).toEqual([1000]);
    expect(b.tasks.list().map((t) => t.name)).toContain('job-loop');

    // The head dies (stops serving): the follower's pulls fail, each wait twice the one before.
    await servedA.close();
    aliveA = false;
    const waits: number[] = [];
    for (let i = 0; i < 4; i++) {
      timersB.fire();
      await settled(1);
      waits.push(...timersB.pending());
    }
    expect(waits).toEqual([2000, 4000, 8000, 16000]);
    expect(b2.lines().filter((l) => l.msg === 'replica.pull-failed')).toHaveLength(4);
    // What it had of the head is still all there.
    expect(regB.replica.snapshot().tables).toEqual(regA.replica.snapshot().tables);
  });

  it('once it leads, every task is listed once, users sign in with their passwords and tokens', async () => {
    viewB.set({ leads: true, epoch: 8 });
    // Leading: no pull (the change asked for one at once; it finds itself head and stays idle).
    timersB.fire();
    expect(await replicaB.pullOnce()).toBe('idle');
    replicaB.close();

    const signIn = await userApi(servedB.port, '/api/session', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'admin', password: adminPassword }) });
    expect(signIn.status).toBe(200);
    const cookie = signIn.headers.get('set-cookie')!.split(';')[0]!;
    const list = await userApi(servedB.port, '/api/tasks', { headers: { cookie } });
    expect(list.status).toBe(200);
    const items = ((await list.json()) as { items: Array<{ id: string; name: string }> }).items;
    const want = regA.tasks.list().map((t) => t.id);
    expect(items.map((t) => t.id).sort()).toEqual([...want].sort());
    expect(new Set(items.map((t) => t.id)).size).toBe(items.length);
    expect(items).toHaveLength(7);

    const alice = await userApi(servedB.port, '/api/session', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'alice', password: 'alice-password-1' }) });
    expect(alice.status).toBe(200);
    const wrong = await userApi(servedB.port, '/api/session', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'alice', password: 'not-her-password' }) });
    expect(wrong.status).toBe(401);
    const me = await userApi(servedB.port, '/api/me', { headers: { authorization: `Bearer ${aliceToken}` } });
    expect(me.status).toBe(200);
    expect(((await me.json()) as { user: { name: string } }).user.name).toBe('alice');
    // The queue kept its fair-order tags.
    expect(regB.queue.list().map((e) => e.tag)).toEqual([7, 6]);

    // And it serves its registry now, in its own term: the others follow it.
    const res = await memberFetch(tlsB)(new Request(`https://127.0.0.1:${servedB.port}/internal/registry?since=${replicaB.lastApplied()!.rev}&epoch=7`));
    expect(res.status).toBe(200);
    expect(((await res.json()) as { epoch: number }).epoch).toBe(8);
  });
});
