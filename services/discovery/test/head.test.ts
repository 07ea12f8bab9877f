import { request as httpsRequest } from 'node:https';
import { Contract, memberFetch, publicRoutesOfFile, serveApp, type ClusterTls, type Served } from '@cps/common';
import { specFiles, type DiscoverySchemas } from '@cps/openapi';
import { certInfo, clusterTlsOf, createCa, createCsr, fingerprintOf, issueNodeCertificate, Removals, type CaFiles } from '@cps/trust';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp } from '../src/app.ts';
import { HeadClaim } from '../src/head-claim.ts';
import type { IntervalTimers } from '../src/hello.ts';
import { Membership as MembershipClass, type Membership, type PeerEvent } from '../src/membership.ts';
import { MemoryBus, udpMulticastTransport, type Transport } from '../src/pep/socket.ts';
import { makeNode, silent, type TestNode } from './cluster.ts';

const contract = Contract.fromFile(specFiles.discovery);
type Self = DiscoverySchemas['Self'];
type Peer = DiscoverySchemas['Peer'];

/** A clock the test moves by hand. */
function virtualClock(start = 1_790_000_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

/** Interval timers that fire only when the test says so. */
function manualIntervals() {
  const live = new Map<number, { fn: () => void; ms: number }>();
  let next = 1;
  const timers: IntervalTimers = {
    setInterval: (fn, ms) => {
      live.set(next, { fn, ms });
      return next++;
    },
    clearInterval: (h) => void live.delete(h as number),
  };
  /** Fires every interval of this period once (the HELLO sender's, not the membership tick's). */
  const fire = (ms: number) => {
    for (const t of [...live.values()]) if (t.ms === ms) t.fn();
  };
  return { timers, fire };
}

/** The next event of `m` that `pred` accepts (the test's own timeout bounds the wait). */
const nextEvent = (m: Membership, pred: (e: PeerEvent) => boolean) =>
  new Promise<PeerEvent>((resolve) => {
    const off = m.subscribe((e) => {
      if (!pred(e)) return;
      off();
      resolve(e);
    });
  });

/** The next HELLO `node` takes in from `sender` (its membership has seen it by then). */
const nextHello = (node: TestNode, sender: string) =>
  new Promise<void>((resolve) => {
    const off = node.endpoint.on((m) => {
      if (m.type !== 'HELLO' || m.sender !== sender) return;
      off();
      resolve();
    });
  });

const peerOf = (node: TestNode, id: string) => node.membership.list().find((p) => p.nodeId === id);

let nodes: TestNode[] = [];
let served: Served[] = [];
afterEach(async () => {
  await Promise.all(nodes.map((n) => n.close()));
  await Promise.all(served.map((s) => s.close()));
  nodes = [];
  served = [];
});

function discovery(transport: Transport, id: string, o: { head?: HeadClaim; helloIntervalMs?: number; helloTimers?: IntervalTimers } = {}) {
  const node = makeNode(id, transport, { hello: true, ...o });
  nodes.push(node);
  const app = createApp({ self: node.self, membership: node.membership, publisher: node.publisher, metrics: node.metrics, log: silent, ...(o.head ? { head: o.head } : {}) });
  return { node, app };
}

const put = (app: ReturnType<typeof createApp>, body: unknown, type = 'application/json') =>
  app.request('/head', { method: 'PUT', body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': type } });

describe('HeadClaim (the claim HELLO carries)', () => {
  it('lasts the TTL from the last PUT on the virtual clock, and lapses by itself without one', () => {
    const clock = virtualClock();
    const claim = new HeadClaim({ now: clock.now, ttlMs: 20_000 });
    const changes: Array<number | undefined> = [];
    claim.subscribe(() => changes.push(claim.current()?.epoch));
    expect(claim.current()).toBeUndefined();
    claim.put(4);
    clock.advance(19_999);
    expect(claim.current()).toEqual({ epoch: 4 });
    claim.put(4); // a renewal: the TTL runs from here, and no one is told
    clock.advance(19_999);
    expect(claim.current()).toEqual({ epoch: 4 });
    clock.advance(1);
    expect(claim.current()).toBeUndefined(); // killed -9: no DELETE came, the claim ended anyway
    claim.put(5);
    claim.put(6); // another epoch is a change
    claim.drop();
    claim.drop(); // idempotent
    expect(changes).toEqual([4, 5, 6, undefined]);
  });

  it('defaults to 20 s', () => {
    const clock = virtualClock();
    const claim = new HeadClaim({ now: clock.now });
    claim.put(1);
    clock.advance(19_999);
    expect(claim.current()).toEqual({ epoch: 1 });
    clock.advance(1);
    expect(claim.current()).toBeUndefined();
  });
});

describe('Membership keeps each peer\'s claim', () => {
  const info = (nodeId: string) => ({ nodeId, address: '10.0.0.9', ports: { coordinator: 1, discovery: 2, provisioner: 3, storage: 4, vncGateway: 5 }, uptimeSec: 1 });

  it.each<[string, Array<{ head?: boolean; headEpoch?: number }>, string[], { head: boolean; headEpoch?: number }]>([
    ['joins claiming: joined, then head', [{ head: true, headEpoch: 3 }], ['joined:false', 'head:true@3'], { head: true, headEpoch: 3 }],
    ['joins without a claim: joined only', [{ head: false }], ['joined:false'], { head: false }],
    ['claims later', [{ head: false }, { head: true, headEpoch: 1 }], ['joined:false', 'head:true@1'], { head: true, headEpoch: 1 }],
    ['the same claim again: nothing', [{ head: true, headEpoch: 2 }, { head: true, headEpoch: 2 }], ['joined:false', 'head:true@2'], { head: true, headEpoch: 2 }],
    ['another epoch: head', [{ head: true, headEpoch: 2 }, { head: true, headEpoch: 5 }], ['joined:false', 'head:true@2', 'head:true@5'], { head: true, headEpoch: 5 }],
    ['drops the claim: head without an epoch', [{ head: true, headEpoch: 2 }, { head: false }], ['joined:false', 'head:true@2', 'head:false'], { head: false }],
    ['an ACK (no claim) keeps the last HELLO\'s', [{ head: true, headEpoch: 4 }, {}], ['joined:false', 'head:true@4'], { head: true, headEpoch: 4 }],
    ['an ACK first: no claim', [{}], ['joined:false'], { head: false }],
  ])('%s', (_name, heard, expected, last) => {
    let t = 0;
    const m = new MembershipClass('self', () => t);
    const events: string[] = [];
    m.subscribe((e) => {
      contract.check('PeerEvent', e);
      events.push(`${e.type}:${e.peer.head}${e.peer.headEpoch === undefined ? '' : `@${e.peer.headEpoch}`}`);
    });
    for (const h of heard) {
      t += 1_000;
      m.observe(info('p'), { ...h, sentAt: t });
    }
    expect(events.map((e) => (e.startsWith('joined') ? 'joined:false' : e))).toEqual(expected);
    const p = m.list()[0]!;
    expect({ head: p.head, ...(p.headEpoch === undefined ? {} : { headEpoch: p.headEpoch }) }).toEqual(last);
  });

  it('a claimant heard again after being dead: alive, then head if its claim changed meanwhile', () => {
    let t = 0;
    const m = new MembershipClass('self', () => t);
    m.observe(info('p'), { head: true, headEpoch: 1, sentAt: t });
    const events: string[] = [];
    m.subscribe((e) => events.push(`${e.type}:${e.peer.headEpoch ?? '-'}`));
    t += 10_000;
    m.tick();
    m.observe(info('p'), { head: true, headEpoch: 2, sentAt: t });
    expect(events).toEqual(['dead:1', 'alive:2', 'head:2']);
  });
});

describe('PUT /head, DELETE /head, GET /self', () => {
  it('a claim shows on /self with its epoch until DELETE; /self is contract-shaped either way', async () => {
    const clock = virtualClock();
    const { app } = discovery(new MemoryBus().transport('s1'), 's1', { head: new HeadClaim({ now: clock.now }) });
    const self = async () => contract.check<Self>('Self', await (await app.request('/self')).json());
    expect(await self()).toMatchObject({ nodeId: 's1', head: false });
    expect((await self()).headEpoch).toBeUndefined();
    const r = await put(app, { epoch: 12 });
    expect(r.status).toBe(204);
    expect(await r.text()).toBe('');
    expect(await self()).toMatchObject({ nodeId: 's1', head: true, headEpoch: 12 });
    expect((await app.request('/head', { method: 'DELETE' })).status).toBe(204);
    expect((await app.request('/head', { method: 'DELETE' })).status).toBe(204);
    const after = await self();
    expect(after.head).toBe(false);
    expect('headEpoch' in after).toBe(false);
  });

  it('a claim not renewed within the TTL is gone from /self', async () => {
    const clock = virtualClock();
    const { app } = discovery(new MemoryBus().transport('s2'), 's2', { head: new HeadClaim({ now: clock.now, ttlMs: 5_000 }) });
    expect((await put(app, { epoch: 3 })).status).toBe(204);
    clock.advance(4_999);
    expect((await (await app.request('/self')).json()).headEpoch).toBe(3);
    clock.advance(1);
    expect((await (await app.request('/self')).json()).head).toBe(false);
  });

  it('refuses hostile or malformed bodies with 400 problem+json and keeps the claim it had', async () => {
    const clock = virtualClock();
    const head = new HeadClaim({ now: clock.now });
    const { app } = discovery(new MemoryBus().transport('v1'), 'v1', { head });
    head.put(9);
    const bad: unknown[] = ['{', '', 'null', '[]', '7', {}, { epoch: 0 }, { epoch: -1 }, { epoch: 1.5 }, { epoch: '2' }, { epoch: null }, { epoch: 2 ** 53 }, { epoch: 1e300 }, { epoch: 2, head: true }, { epochs: [2] }, '{"epoch":2,"__proto__":{"x":1}}'];
    for (const b of bad) {
      const res = await put(app, b);
      expect(res.status, JSON.stringify(b)).toBe(400);
      expect(res.headers.get('content-type'), JSON.stringify(b)).toMatch(/application\/problem\+json/);
      expect((await res.json()).type, JSON.stringify(b)).toMatch(/^urn:cps:problem:(validation-failed|bad-request)$/);
    }
    const notJson = await put(app, '{"epoch":2}', 'text/plain');
    expect(notJson.status).toBe(400);
    expect(notJson.headers.get('content-type')).toMatch(/application\/problem\+json/);
    const big = await put(app, JSON.stringify({ epoch: 2, pad: 'x'.repeat(4096) }));
    expect(big.status).toBe(413);
    expect((await big.json()).type).toBe('urn:cps:problem:payload-too-large');
    expect(head.current()).toEqual({ epoch: 9 });
  });
});

describe('the claim in HELLO (PEP v4)', () => {
  it('a PUT reaches a peer with one HELLO at once, not at the next interval; the peer emits head, and DELETE ends it the same way', async () => {
    const bus = new MemoryBus();
    const clock = virtualClock();
    const intervals = manualIntervals(); // the periodic HELLO never fires in this test
    const a = discovery(bus.transport('a'), 'a', { head: new HeadClaim({ now: clock.now }), helloIntervalMs: 1_000, helloTimers: intervals.timers });
    const b = discovery(bus.transport('b'), 'b');
    await nextEvent(b.node.membership, (e) => e.type === 'joined' && e.peer.nodeId === 'a');
    expect(peerOf(b.node, 'a')).toMatchObject({ head: false });

    const claimed = nextEvent(b.node.membership, (e) => e.type === 'head');
    expect((await put(a.app, { epoch: 7 })).status).toBe(204);
    const e = await claimed;
    contract.check('PeerEvent', e);
    expect(e).toMatchObject({ type: 'head', peer: { nodeId: 'a', head: true, headEpoch: 7, state: 'alive' } });
    const listed = contract.check<{ items: Peer[] }>('Peer', (await (await b.app.request('/peers')).json()).items[0]);
    expect(listed).toMatchObject({ nodeId: 'a', head: true, headEpoch: 7 });

    const moved = nextEvent(b.node.membership, (ev) => ev.type === 'head');
    expect((await put(a.app, { epoch: 8 })).status).toBe(204);
    expect((await moved).peer).toMatchObject({ head: true, headEpoch: 8 });

    const dropped = nextEvent(b.node.membership, (ev) => ev.type === 'head');
    expect((await a.app.request('/head', { method: 'DELETE' })).status).toBe(204);
    const d = (await dropped).peer;
    expect(d.head).toBe(false);
    expect('headEpoch' in d).toBe(false);
  });

  it('a coordinator that stops renewing (killed -9): the first HELLO after the TTL says no head', async () => {
    const bus = new MemoryBus();
    const clock = virtualClock();
    const intervals = manualIntervals();
    const claim = new HeadClaim({ now: clock.now, ttlMs: 20_000 });
    const a = discovery(bus.transport('a'), 'a', { head: claim, helloIntervalMs: 1_000, helloTimers: intervals.timers });
    const b = discovery(bus.transport('b'), 'b');
    const claimed = nextEvent(b.node.membership, (e) => e.type === 'head' && e.peer.head);
    expect((await put(a.app, { epoch: 2 })).status).toBe(204);
    await claimed;

    clock.advance(19_999);
    let heard = nextHello(b.node, 'a');
    intervals.fire(1_000);
    await heard;
    expect(peerOf(b.node, 'a')).toMatchObject({ head: true, headEpoch: 2 });

    clock.advance(1);
    const lapsed = nextEvent(b.node.membership, (e) => e.type === 'head');
    heard = nextHello(b.node, 'a');
    intervals.fire(1_000);
    await heard;
    expect((await lapsed).peer.head).toBe(false);
    expect(peerOf(b.node, 'a')).toMatchObject({ head: false });
    expect(peerOf(b.node, 'a')?.headEpoch).toBeUndefined();
  });

  it('an ACK carries no claim: the peer keeps the epoch of its last HELLO', async () => {
    const bus = new MemoryBus();
    const claim = new HeadClaim({ now: virtualClock().now });
    claim.put(11);
    const a = discovery(bus.transport('a'), 'a', { head: claim });
    const b = discovery(bus.transport('b'), 'b');
    await nextEvent(b.node.membership, (e) => e.type === 'head' && e.peer.nodeId === 'a');
    const events: string[] = [];
    b.node.membership.subscribe((e) => events.push(`${e.type}:${e.peer.nodeId}`));
    // b publishes; a answers with an ACK, which b's membership observes before the placement returns.
    const placement = await b.node.publisher.publish({ taskId: 't-head1', requirements: { vcpus: 1, memoryMiB: 256, diskMiB: 64, arch: 'x86_64', needsKvm: false }, timeoutMs: 1000, exclude: ['b'] });
    expect(placement.chosen.nodeId).toBe('a');
    expect(a.node.metrics.get('pep_packets_sent_total', { type: 'ACK' })).toBe(1);
    expect(peerOf(b.node, 'a')).toMatchObject({ head: true, headEpoch: 11 });
    expect(events.filter((e) => e.startsWith('head:'))).toEqual([]);
  });

  it('reaches a second discovery through real UDP multicast on loopback', async () => {
    // A group and port of this test's own, apart from udp.test.ts and a CPS running here.
    const group = '239.192.77.185';
    const port = 18577;
    const clock = virtualClock();
    const a = discovery(await udpMulticastTransport({ group, port, interfaceAddress: '127.0.0.1', log: silent }), 'udp-head-a', { head: new HeadClaim({ now: clock.now }) });
    const b = discovery(await udpMulticastTransport({ group, port, interfaceAddress: '127.0.0.1', log: silent }), 'udp-head-b');
    const claimed = nextEvent(b.node.membership, (e) => e.type === 'head' && e.peer.nodeId === 'udp-head-a');
    expect((await put(a.app, { epoch: 42 })).status).toBe(204);
    expect((await claimed).peer).toMatchObject({ head: true, headEpoch: 42 });
    const items = (await (await b.app.request('/peers')).json()).items as Peer[];
    expect(items.find((p) => p.nodeId === 'udp-head-a')).toMatchObject({ head: true, headEpoch: 42 });
    expect(a.node.metrics.get('pep_packets_sent_total', { type: 'HELLO' })).toBeGreaterThanOrEqual(2);
    const dropped = nextEvent(b.node.membership, (e) => e.type === 'head' && e.peer.nodeId === 'udp-head-a');
    expect((await a.app.request('/head', { method: 'DELETE' })).status).toBe(204);
    expect((await dropped).peer.head).toBe(false);
  });
});

describe('the routes behind the cluster door (mutual TLS)', () => {
  async function member(ca: CaFiles, nodeId: string): Promise<ClusterTls> {
    const { csrPem, keyPem } = await createCsr(nodeId);
    const certPem = await issueNodeCertificate({ ca, csrPem, nodeId, addresses: ['127.0.0.1'], now: new Date() });
    const removals = new Removals();
    return clusterTlsOf({ nodeId, caPem: ca.certPem, certPem, keyPem, caSha256: fingerprintOf(ca.certPem), cert: certInfo(certPem) }, () => removals);
  }

  /** A TLS request with whatever the caller holds (maybe nothing), trusting the server blindly. */
  const rawTls = (url: string, method: string, body: string | undefined, client: { cert?: string; key?: string } = {}) =>
    new Promise<{ status: number; type?: string; body: string }>((resolve, reject) => {
      const req = httpsRequest(url, { method, rejectUnauthorized: false, headers: body ? { 'content-type': 'application/json' } : {}, ...client }, (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body: text }));
      });
      req.on('error', reject);
      req.end(body);
    });

  it('a member (its own coordinator) claims; a caller without a member certificate is refused and changes nothing', async () => {
    const ca = await createCa({ now: new Date() });
    const other = await createCa({ now: new Date() });
    const tls = await member(ca, 'door-a');
    const foreign = await member(other, 'door-x');
    const head = new HeadClaim({ now: virtualClock().now });
    const { app } = discovery(new MemoryBus().transport('door-a'), 'door-a', { head });
    const s = await serveApp(app, { port: 0, hostname: '127.0.0.1', log: silent, tls, publicRoutes: publicRoutesOfFile(specFiles.discovery) });
    served.push(s);
    const url = `https://127.0.0.1:${s.port}/head`;
    const body = JSON.stringify({ epoch: 5 });

    for (const [method, b] of [['PUT', body], ['DELETE', undefined]] as const) {
      const plain = await fetch(`http://127.0.0.1:${s.port}/head`, { method, ...(b ? { body: b, headers: { 'content-type': 'application/json' } } : {}) });
      expect(plain.status, `${method} over plain HTTP`).toBe(401);
      expect(plain.headers.get('content-type')).toBe('application/problem+json');
      expect((await plain.json()).type).toBe('urn:cps:problem:member-certificate-required');
      const noCert = await rawTls(url, method, b);
      expect(noCert.status, `${method} over TLS without a certificate`).toBe(401);
      expect(noCert.type).toBe('application/problem+json');
      const otherCluster = await rawTls(url, method, b, { cert: foreign.cert, key: foreign.key });
      expect(otherCluster.status, `${method} with another cluster's certificate`).not.toBeLessThan(400);
    }
    expect(head.current()).toBeUndefined();

    const f = memberFetch(tls);
    const ok = await f(new Request(url, { method: 'PUT', body, headers: { 'content-type': 'application/json' } }));
    expect(ok.status).toBe(204);
    expect(head.current()).toEqual({ epoch: 5 });
    const self = await (await f(new Request(`https://127.0.0.1:${s.port}/self`))).json();
    expect(self).toMatchObject({ nodeId: 'door-a', head: true, headEpoch: 5 });
    expect((await f(new Request(url, { method: 'DELETE' }))).status).toBe(204);
    expect(head.current()).toBeUndefined();
  });
});
