import { describe, expect, it } from 'vitest';
import { createLogger, doorLists, type ServicePorts } from '@cps/common';
import { discoveryClient, provisionerClient, storageClient, viaApp } from '@cps/openapi';
import { createApp } from '../src/app.ts';
import { Accounts } from '../src/accounts/accounts.ts';
import { MemoryAccountStore } from '../src/accounts/memory-store.ts';
import { SignInLimiter } from '../src/accounts/sign-in-limiter.ts';
import type { ClientsFor, NodeAddress } from '../src/clients.ts';
import { forwardToHead } from '../src/head/forward.ts';
import { answeredLocally } from '../src/head/head-routes.ts';
import type { HeadInfo } from '../src/head/head-role.ts';
import { Placer } from '../src/placement.ts';
import { Tasks } from '../src/tasks/tasks.ts';
import { fakeDiscovery, fakeNode, fastPolling, reach } from './fakes.ts';
import { readSse } from './sse.ts';

const log = createLogger('head-forward-test', 'silent');
const ports: ServicePorts = { coordinator: 8080, discovery: 7070, provisioner: 7071, storage: 7072, vncGateway: 6080 };
const headAddress: NodeAddress = { nodeId: 'ws-h', address: '10.0.0.1', ports };

/** A HeadView set by hand: who leads, as the follower's or the head's role would say after a step. */
function fakeHeadView(o: { isHead: boolean; head?: NodeAddress }) {
  const v = { ...o };
  return {
    set: (n: { isHead: boolean; head?: NodeAddress }) => Object.assign(v, { head: undefined }, n),
    isHead: () => v.isHead,
    head: () => (v.isHead ? undefined : v.head),
    commandEpoch: () => (v.isHead ? { epoch: 4, head: 'ws-h' } : undefined),
    onChange: () => () => {},
    ready: () => Promise.resolve(),
    info: (): HeadInfo => ({ role: v.isHead ? 'head' : 'follower', head: v.isHead ? { nodeId: 'ws-h', address: '10.0.0.1' } : v.head ? { nodeId: v.head.nodeId, address: v.head.address } : null, epoch: v.isHead || v.head ? 4 : null, since: '2026-12-01T10:00:00.000Z', mode: 'discovery' }),
  };
}

/** The timers the forwarding waits on at start; the fake view is ready at once, so never fired. */
const noTimers = { setTimeout: () => 0, clearTimeout: () => {} };

/**
 * Two coordinators in one process, no socket: the head `ws-h` (placing on a fake node, its own
 * accounts) and the follower `ws-f`, whose memberFetch is the head's app called as the door would
 * after a mutual-TLS handshake with ws-f's certificate (`caller` member ws-f, from 10.0.0.2).
 */
async function twoCoordinators() {
  const node = fakeNode('node-a', '127.0.0.1');
  const byId = new Map([[node.info.nodeId, node]]);
  const clientsFor: ClientsFor = (n) => {
    const x = byId.get(n.nodeId)!;
    return { storage: storageClient(viaApp(x.storage)), provisioner: provisionerClient(viaApp(x.provisioner)) };
  };
  const accounts = new Accounts({ store: new MemoryAccountStore(), now: () => new Date() });
  const first = (await accounts.ensureFirstAdmin())!;
  const alice = await accounts.createUser({ name: 'alice', password: 'alice-password-1' });
  const token = (await accounts.createToken(alice.id, 'test')).value;

  const headTasks = new Tasks();
  const headView = fakeHeadView({ isHead: true });
  const placer = new Placer({ tasks: headTasks, discovery: discoveryClient(viaApp(fakeDiscovery([node]).app)), clientsFor, log, ...fastPolling });
  const head = createApp({
    log,
    tasks: headTasks,
    placer,
    localStorage: storageClient(viaApp(node.storage)),
    clientsFor,
    accounts,
    signInLimiter: new SignInLimiter(() => new Date()),
    head: { info: headView.info, forward: forwardToHead({ head: headView, self: 'ws-h', fetch: () => Promise.reject(new Error('the head never forwards')), log, timers: noTimers, local: answeredLocally }) },
    door: doorLists({ port: 8080, advertiseAddress: '10.0.0.1', nodeId: 'ws-h' }),
  });

  /** What the head received from the follower, as the head's app saw it. */
  const received: Request[] = [];
  let forwards = 0;
  const memberFetch = (req: Request) => {
    forwards++;
    received.push(req.clone());
    return Promise.resolve(head.fetch(req, { caller: { kind: 'member', nodeId: 'ws-f' }, incoming: { socket: { remoteAddress: '10.0.0.2' } } }));
  };
  // The follower's own registry and placer: never used for the API (everything goes to the head).
  const followerTasks = new Tasks();
  const followerView = fakeHeadView({ isHead: false, head: headAddress });
  const follower = createApp({
    log,
    tasks: followerTasks,
    placer: new Placer({ tasks: followerTasks, discovery: discoveryClient(viaApp(fakeDiscovery([]).app)), clientsFor, log, ...fastPolling, isHead: () => false }),
    localStorage: storageClient(viaApp(node.storage)),
    clientsFor,
    accounts: new Accounts({ store: new MemoryAccountStore(), now: () => new Date() }),
    head: { info: followerView.info, forward: forwardToHead({ head: followerView, self: 'ws-f', fetch: memberFetch, log, timers: noTimers, local: answeredLocally }) },
    door: doorLists({ port: 8080, advertiseAddress: '10.0.0.2', nodeId: 'ws-f' }),
  });

  /** A browser's request to a coordinator over plain HTTP: a stranger at the door, from `from`. */
  const browser = (app: typeof head, host: string, path: string, init: RequestInit & { from?: string } = {}) => {
    const { from = '192.0.2.10', ...rest } = init;
    const headers = new Headers(rest.headers);
    headers.set('host', host);
    return app.request(`http://${host}${path}`, { ...rest, headers }, { incoming: { socket: { remoteAddress: from } } });
  };
  const toFollower = (path: string, init: RequestInit & { from?: string } = {}) => browser(follower, '10.0.0.2:8080', path, init);
  const toHead = (path: string, init: RequestInit & { from?: string } = {}) => browser(head, '10.0.0.1:8080', path, init);
  const json = (body: unknown, headers: Record<string, string> = {}) => ({ method: 'POST', headers: { 'content-type': 'application/json', 'x-cps-request': '1', origin: 'http://10.0.0.2:8080', ...headers }, body: JSON.stringify(body) });
  const auth = { authorization: `Bearer ${token}` };
  return { head, follower, headTasks, followerTasks, headView, followerView, received, forwards: () => forwards, toFollower, toHead, json, auth, admin: first, node };
}

describe('a follower forwards /api/* to the head', () => {
  it('a task submitted on the follower lives on the head and is listed through both', async () => {
    const c = await twoCoordinators();
    const res = await c.toFollower('/api/tasks', c.json({ name: 'demo' }, c.auth));
    expect(res.status).toBe(202);
    const task = (await res.json()) as { id: string };
    expect(res.headers.get('location')).toBe(`/api/tasks/${task.id}`);
    await reach(c.headTasks, task.id, 'running');
    expect(c.followerTasks.list()).toEqual([]);
    const onHead = (await (await c.toHead('/api/tasks', { headers: c.auth })).json()) as { items: { id: string; state: string }[] };
    const onFollower = (await (await c.toFollower('/api/tasks', { headers: c.auth })).json()) as { items: { id: string; state: string }[] };
    expect(onHead.items.map((t) => [t.id, t.state])).toEqual([[task.id, 'running']]);
    expect(onFollower).toEqual(onHead);
    // And stopped through the follower.
    const stop = await c.toFollower(`/api/tasks/${task.id}`, { method: 'DELETE', headers: { ...c.auth, origin: 'http://10.0.0.2:8080' } });
    expect(stop.status).toBeLessThan(300);
    await reach(c.headTasks, task.id, 'stopped');
  });

  it('a sign-in through the follower sets a cookie that works on the follower, and the head sees the user address', async () => {
    const c = await twoCoordinators();
    const res = await c.toFollower('/api/session', { ...c.json({ name: 'alice', password: 'alice-password-1' }), from: '192.0.2.77' });
    expect(res.status).toBe(200);
    const setCookie = res.headers.getSetCookie();
    expect(setCookie.some((l) => l.startsWith('cps_session='))).toBe(true);
    // The user reached the follower over plain HTTP: no Secure flag, or the browser drops it.
    expect(setCookie.find((l) => l.startsWith('cps_session='))).not.toMatch(/Secure/i);
    const cookie = setCookie.find((l) => l.startsWith('cps_session='))!.split(';')[0]!;
    const me = await c.toFollower('/api/me', { headers: { cookie } });
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ user: { name: 'alice' }, via: 'session' });
    const forwarded = c.received.find((r) => r.url.endsWith('/api/session'))!;
    expect(forwarded.headers.get('x-cps-forwarded-for')).toBe('192.0.2.77');
    expect(forwarded.headers.get('x-cps-forwarded-by')).toBe('ws-f');
    expect(forwarded.url).toBe('https://10.0.0.1:8080/api/session');
  });

  it('the sign-in rate limit counts the user address the follower names, not the follower', async () => {
    const c = await twoCoordinators();
    const wrong = (name: string, from: string) => c.toFollower('/api/session', { ...c.json({ name, password: 'wrong-password-1' }), from });
    // 20 failures per address (4 for each of 5 names, under the per-name limit of 5)...
    for (let i = 0; i < 20; i++) expect((await wrong(`n${i % 5}`, '192.0.2.1')).status).toBe(401);
    // ...and that address is full; another user behind the same follower is not.
    expect((await wrong('n6', '192.0.2.1')).status).toBe(429);
    expect((await wrong('n7', '192.0.2.2')).status).toBe(401);
  });

  it('streams SSE through the follower as the head sends it (never buffered)', async () => {
    const c = await twoCoordinators();
    const res = await c.toFollower('/api/events', { headers: c.auth });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = readSse(res.body!);
    // The stream is open and has sent nothing about tasks; a submit on the head shows in it.
    const submitted = await c.toHead('/api/tasks', { ...c.json({ name: 'seen-live' }, { ...c.auth, origin: 'http://10.0.0.1:8080' }) });
    expect(submitted.status).toBe(202);
    for (;;) {
      const e = (await events.next()).value!;
      if (e.event === 'task' && JSON.parse(e.data!).name === 'seen-live') break;
    }
    await events.return(undefined);
  });

  it('no head known: 503 no-head with Retry-After and a plain message; GET /api/head answers locally', async () => {
    const c = await twoCoordinators();
    c.followerView.set({ isHead: false });
    const res = await c.toFollower('/api/tasks', { headers: c.auth });
    expect(res.status).toBe(503);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(res.headers.get('retry-after')).toBe('2');
    const body = (await res.json()) as { type: string; detail: string };
    expect(body.type).toBe('urn:cps:problem:no-head');
    expect(body.detail).toMatch(/no coordinator leads the LAN/);
    expect(c.forwards()).toBe(0);
    const info = await c.toFollower('/api/head');
    expect(info.status).toBe(200);
    expect(await info.json()).toEqual({ role: 'follower', head: null, epoch: null, since: '2026-12-01T10:00:00.000Z', mode: 'discovery' });
  });

  it('the head that does not answer: 503 no-head', async () => {
    const c = await twoCoordinators();
    const app = createApp({
      log,
      tasks: new Tasks(),
      placer: new Placer({ tasks: new Tasks(), discovery: discoveryClient(viaApp(fakeDiscovery([]).app)), clientsFor: () => { throw new Error('unused'); }, log }),
      localStorage: storageClient(viaApp(c.node.storage)),
      clientsFor: () => { throw new Error('unused'); },
      head: { info: c.followerView.info, forward: forwardToHead({ head: c.followerView, self: 'ws-f', fetch: () => Promise.reject(new TypeError('fetch failed: connect ECONNREFUSED 10.0.0.1:8080')), log, timers: noTimers }) },
    });
    const res = await app.request('http://localhost/api/tasks', { headers: { host: 'localhost' } }, { incoming: { socket: { remoteAddress: '127.0.0.1' } } });
    expect(res.status).toBe(503);
    expect(((await res.json()) as { detail: string }).detail).toMatch(/the head ws-h \(10\.0\.0\.1\) did not answer/);
  });

  it('loop guard: a request a member already forwarded is never forwarded again', async () => {
    const c = await twoCoordinators();
    // The head's node forwards to ws-f, which thinks ws-h leads: ws-f must not send it back.
    const res = await c.follower.request('https://10.0.0.2:8080/api/tasks', { headers: { ...c.auth, 'x-cps-forwarded-by': 'ws-h', 'x-cps-forwarded-for': '192.0.2.10' } }, { caller: { kind: 'member', nodeId: 'ws-h' }, incoming: { socket: { remoteAddress: '10.0.0.1' } } });
    expect(res.status).toBe(503);
    expect(((await res.json()) as { type: string; detail: string }).detail).toMatch(/ws-h forwarded this request here as to the head, but ws-f does not lead either/);
    expect(c.forwards()).toBe(0);
  });

  it('a browser sending the forwarding headers is not believed, by the follower or the head', async () => {
    const c = await twoCoordinators();
    const spoof = { 'x-cps-forwarded-by': 'ws-h', 'x-cps-forwarded-for': '203.0.113.9', 'x-cps-forwarded-proto': 'https' };
    // To the follower: no loop guard for a stranger; it forwards, naming itself and the real address.
    const viaFollower = await c.toFollower('/api/tasks', { headers: { ...c.auth, ...spoof }, from: '192.0.2.44' });
    expect(viaFollower.status).toBe(200);
    const got = c.received.at(-1)!;
    expect([got.headers.get('x-cps-forwarded-by'), got.headers.get('x-cps-forwarded-for'), got.headers.get('x-cps-forwarded-proto')]).toEqual(['ws-f', '192.0.2.44', 'http']);
    // To the head: the door still checks the Host (a member-forwarded request would skip it)...
    const rebound = await c.head.request('http://evil.example:8080/api/tasks', { headers: { ...c.auth, ...spoof, 'x-cps-forwarded-by': 'ws-f', host: 'evil.example:8080' } }, { incoming: { socket: { remoteAddress: '192.0.2.45' } } });
    expect(rebound.status).toBe(403);
    expect(((await rebound.json()) as { type: string }).type).toBe('urn:cps:problem:host-not-allowed');
    // ...and a member's header must name the member itself.
    const otherName = await c.head.request('https://10.0.0.1:8080/api/tasks', { headers: { ...c.auth, 'x-cps-forwarded-by': 'ws-x', host: 'evil.example:8080' } }, { caller: { kind: 'member', nodeId: 'ws-f' }, incoming: { socket: { remoteAddress: '10.0.0.2' } } });
    expect(otherName.status).toBe(403);
  });

  it('a sign-in limit by address cannot be dodged with a forged forwarded-for at the head', async () => {
    const c = await twoCoordinators();
    // 20 failures per address: spread over names so the per-name limit is not what stops it.
    const names = ['n1', 'n2', 'n3', 'n4', 'n5'];
    let last = 0;
    for (let i = 0; i < 21; i++) {
      const res = await c.toHead('/api/session', { ...c.json({ name: names[i % 5], password: 'wrong-password-1' }, { origin: 'http://10.0.0.1:8080', 'x-cps-forwarded-for': `198.51.100.${i}`, 'x-cps-forwarded-by': 'ws-f' }), from: '192.0.2.99' });
      last = res.status;
    }
    expect(last).toBe(429);
  });
});
