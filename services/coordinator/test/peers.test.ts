import { afterEach, describe, expect, it } from 'vitest';
import type { CoordinatorSchemas } from '@cps/openapi';
import { ownerActivity } from '../src/peers/owner-activity.ts';
import { peersHarness } from './peers-harness.ts';

type ClusterPeer = CoordinatorSchemas['ClusterPeer'];

let close: (() => void) | undefined;
afterEach(() => close?.());
const harness = async (o?: Parameters<typeof peersHarness>[0]) => {
  const h = await peersHarness(o);
  close = h.close;
  return h;
};

describe('GET /api/peers', () => {
  it('needs a signed-in user: 401 with WWW-Authenticate, as problem+json', async () => {
    const h = await harness();
    const res = await h.request(undefined, 'GET', '/api/peers');
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect((await res.json()).type).toBe('urn:cps:problem:authentication-required');
    const forged = await h.request(undefined, 'GET', '/api/peers', undefined, { authorization: 'Bearer cps_0000000000000000_' + 'x'.repeat(43) });
    expect(forged.status).toBe(401);
  });

  it('lists this node first, then every peer, with what each lends, its load, its owner, uptime and its tasks', async () => {
    const h = await harness({ load: 0.2, guestsVcpus: 1 });
    const mine = h.runningTask('alice', 'alice-on-a', 'node-a');
    h.runningTask('bob', 'bob-on-a', 'node-a');
    h.runningTask('bob', 'bob-on-b', 'node-b');
    // A task that ended holds nothing on its node and is not counted.
    const ended = h.runningTask('alice', 'alice-ended', 'node-b');
    h.tasks.transition(ended.id, 'stopping', 'stop');
    h.tasks.transition(ended.id, 'stopped', 'stopped');

    const res = await h.request('alice', 'GET', '/api/peers');
    expect(res.status).toBe(200);
    const { items } = (await res.json()) as { items: ClusterPeer[] };
    expect(items.map((p) => p.nodeId)).toEqual(['node-a', 'node-b']);
    const [a, b] = items as [ClusterPeer, ClusterPeer];
    expect(a).toMatchObject({
      self: true, state: 'alive', address: '10.0.0.1', load: 0.2, accelerator: 'tcg', owner: 'idle',
      lends: { vcpus: 4, memoryMiB: 8192, diskMiB: 100_000 }, free: { vcpus: 3, diskMiB: 90_000 },
    });
    expect(a.uptimeSec).toBeGreaterThanOrEqual(0);
    // alice sees that node-a runs two tasks, and which one is hers; not bob's.
    expect(a.tasks).toEqual({ count: 2, items: [{ id: mine.id, name: 'alice-on-a', state: 'running', owner: 'alice' }] });
    // node-b: load 2.5 with one vCPU lent out: its owner works on it.
    expect(b).toMatchObject({ self: false, state: 'alive', head: true, address: '10.0.0.2', uptimeSec: 3600, owner: 'busy', lends: { vcpus: 2 }, free: { vcpus: 1 } });
    expect(b.tasks).toEqual({ count: 1, items: [] });
    expect(typeof b.lastSeenMs).toBe('number');
  });

  it('shows an admin every task on every peer', async () => {
    const h = await harness();
    h.runningTask('alice', 'alice-on-a', 'node-a');
    h.runningTask('bob', 'bob-on-b', 'node-b');
    const { items } = (await (await h.request('admin', 'GET', '/api/peers')).json()) as { items: ClusterPeer[] };
    expect(items.map((p) => p.tasks.items.map((t) => `${t.owner}:${t.name}`))).toEqual([['alice:alice-on-a'], ['bob:bob-on-b']]);
  });

  it('answers 502 upstream-failed, naming discovery, when discovery does not answer', async () => {
    const h = await harness();
    h.setDiscoveryUp(false);
    const res = await h.request('alice', 'GET', '/api/peers');
    expect(res.status).toBe(502);
    const p = await res.json();
    expect(p.type).toBe('urn:cps:problem:upstream-failed');
    expect(p.detail).toMatch(/^discovery: unreachable/);
  });
});

describe('the owner of a workstation, busy or idle', () => {
  it.each([
    // load, vCPUs lent out of 4, expected
    [0, 0, 'idle'],
    [0.49, 0, 'idle'],
    [0.5, 0, 'busy'],
    [2, 2, 'idle'], // the guests' own work
    [2.6, 2, 'busy'],
    [0.1, 4, 'idle'],
  ] as const)('load %s with %s vCPUs in guests: %s', (load, used, expected) => {
    expect(ownerActivity(load, { vcpus: 4, memoryMiB: 1, diskMiB: 1 }, { vcpus: 4 - used, memoryMiB: 1, diskMiB: 1 })).toBe(expected);
  });

  it('cannot tell without a load or a capacity', () => {
    expect(ownerActivity(undefined, { vcpus: 1, memoryMiB: 1, diskMiB: 1 }, { vcpus: 1, memoryMiB: 1, diskMiB: 1 })).toBe('unknown');
    expect(ownerActivity(1, undefined, undefined)).toBe('unknown');
  });
});

describe('/api/join-tokens (admin)', () => {
  it('refuses no one signed in (401) and a user who is not an admin (403), for every method', async () => {
    const h = await harness();
    for (const [method, path, body] of [['GET', '/api/join-tokens'], ['POST', '/api/join-tokens', {}], ['DELETE', '/api/join-tokens/0123abcd']] as const) {
      const none = await h.request(undefined, method, path, body);
      expect(none.status, `${method} ${path}`).toBe(401);
      const user = await h.request('alice', method, path, body);
      expect(user.status, `${method} ${path}`).toBe(403);
      expect((await user.json()).type).toBe('urn:cps:problem:forbidden');
    }
    expect(h.tokens.list()).toEqual([]);
  });

  it('makes a token and the cps up --join command, lists it, and revokes it', async () => {
    const h = await harness();
    const made = await h.request('admin', 'POST', '/api/join-tokens', { ttlSec: 600 });
    expect(made.status).toBe(201);
    const body = (await made.json()) as CoordinatorSchemas['NewJoinToken'];
    expect(body.command).toBe(`cps up --join 10.0.0.1:18181 --token ${body.token}`);
    expect(body.info.state).toBe('valid');
    expect(Date.parse(body.info.expiresAt) - Date.parse(body.info.createdAt)).toBe(600_000);

    const list = (await (await h.request('admin', 'GET', '/api/join-tokens')).json()) as { items: CoordinatorSchemas['JoinToken'][] };
    expect(list.items).toEqual([body.info]);

    const revoked = await h.request('admin', 'DELETE', `/api/join-tokens/${body.info.id}`);
    expect(revoked.status).toBe(200);
    expect((await revoked.json()).state).toBe('revoked');
    expect(h.tokens.list()[0]!.state).toBe('revoked');
  });

  it('answers not-found for a token this node never issued', async () => {
    const h = await harness();
    const res = await h.request('admin', 'DELETE', '/api/join-tokens/0123abcd');
    expect(res.status).toBe(404);
    expect((await res.json()).type).toBe('urn:cps:problem:not-found');
  });

  it('refuses hostile input with validation-failed before discovery is asked', async () => {
    const h = await harness();
    h.setDiscoveryUp(false);
    const bad = [
      ['DELETE', '/api/join-tokens/..%2F..%2Ftrust', undefined],
      ['DELETE', '/api/join-tokens/0123ABCD', undefined],
      ['POST', '/api/join-tokens', { ttlSec: 5 }],
      ['POST', '/api/join-tokens', { ttlSec: 3600, admin: true }],
      ['POST', '/api/join-tokens', '{"ttlSec": '],
      ['POST', '/api/join-tokens', []],
    ] as const;
    for (const [method, path, body] of bad) {
      const res = await h.request('admin', method, path, body);
      expect(res.status, `${method} ${path} ${JSON.stringify(body)}`).toBe(400);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect((await res.json()).type).toBe('urn:cps:problem:validation-failed');
    }
    // A CORS-simple form post cannot make a token: the door refuses it before the route.
    const form = await h.request('admin', 'POST', '/api/join-tokens', 'ttlSec=3600', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(form.status).toBe(403);
    expect((await form.json()).type).toBe('urn:cps:problem:cross-site-request');
    const huge = await h.request('admin', 'POST', '/api/join-tokens', JSON.stringify({ pad: 'x'.repeat(10_000) }));
    expect(huge.status).toBe(413);
    expect(h.tokens.list()).toEqual([]);
  });

  it('answers 502 upstream-failed when discovery does not answer', async () => {
    const h = await harness();
    h.setDiscoveryUp(false);
    const res = await h.request('admin', 'POST', '/api/join-tokens', {});
    expect(res.status).toBe(502);
    expect((await res.json()).detail).toMatch(/^discovery: unreachable/);
  });
});
