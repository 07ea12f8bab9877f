import { Contract } from '@cps/common';
import { provisionerClient, specFiles, viaApp, type DiscoverySchemas } from '@cps/openapi';
import { getRequestListener } from '@hono/node-server';
import { Hono } from 'hono';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp } from '../src/app.ts';
import { MemoryBus } from '../src/pep/socket.ts';
import { provisionerView } from '../src/provisioner.ts';
import { encode } from '../src/pep/codec.ts';
import { capacity, makeNode, silent, type Capacity, type TestNode } from './cluster.ts';
import { key, otherKey } from './fixtures.ts';

const contract = Contract.fromFile(specFiles.discovery);

/** Reads server-sent events off a response body, one at a time. */
function sseReader(body: ReadableStream<Uint8Array>) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  return {
    async next(): Promise<{ event: string; data: any }> {
      for (;;) {
        const end = buf.indexOf('\n\n');
        if (end >= 0) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data) return { event, data: JSON.parse(data) };
          continue; // retry lines and heartbeats
        }
        const { value, done } = await reader.read();
        if (done) throw new Error('stream ended');
        buf += decoder.decode(value, { stream: true });
      }
    },
    cancel: () => reader.cancel(),
  };
}

/** A stand-in provisioner: its capacity is whatever the test says; `down` makes it fail. */
function fakeProvisioner(cap: Capacity) {
  const state = { cap, down: false, guests: [] as string[] };
  const app = new Hono();
  app.get('/capacity', (c) => (state.down ? c.json({ type: 'urn:cps:problem:internal', title: 'x', status: 500 }, 500) : c.json(state.cap)));
  app.get('/vms', (c) => c.json({ items: state.guests.map((taskId) => ({ taskId })) }));
  return { app, state };
}

let nodes: TestNode[] = [];
afterEach(async () => {
  await Promise.all(nodes.map((n) => n.close()));
  nodes = [];
});

function discovery(bus: MemoryBus, id: string, cap = capacity()) {
  const prov = fakeProvisioner(cap);
  const view = provisionerView(provisionerClient(viaApp(prov.app)));
  const node = makeNode(id, bus.transport(id), { capacity: view.capacity, hello: true });
  nodes.push(node);
  const app = createApp({ self: node.self, membership: node.membership, publisher: node.publisher, metrics: node.metrics, log: silent });
  return { app, node, prov, http: request(getRequestListener(app.fetch)) };
}

const publishBody = (over: Record<string, unknown> = {}) => ({
  taskId: 't-api1',
  requirements: { vcpus: 1, memoryMiB: 256, diskMiB: 64 },
  timeoutMs: 1000,
  ...over,
});

const post = (app: Hono, path: string, body: unknown, type = 'application/json') =>
  app.request(path, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': type } });

describe('discovery API', () => {
  it('GET /healthz', async () => {
    const { app } = discovery(new MemoryBus(), 'h1');
    const res = await app.request('/healthz');
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ok', service: 'discovery' });
  });

  it('GET /self is this node with uptime and the provisioner’s free capacity, or without it when the provisioner is down', async () => {
    const { app, prov } = discovery(new MemoryBus(), 'self1', capacity({ memoryMiB: 1234 }));
    const res = await app.request('/self');
    const body = contract.check<DiscoverySchemas['Self']>('Self', await res.json());
    expect(body).toMatchObject({ nodeId: 'self1', address: '10.9.0.5', free: { memoryMiB: 1234 }, accelerator: 'tcg', head: false });
    expect(typeof body.uptimeSec).toBe('number');
    prov.state.down = true;
    const down = await (await app.request('/self')).json();
    expect(down.free).toBeUndefined();
    expect(down.nodeId).toBe('self1');
  });

  it('POST /publish places the task and returns a contract-shaped Placement', async () => {
    const bus = new MemoryBus();
    const a = discovery(bus, 'a');
    discovery(bus, 'b');
    const res = await post(a.app, '/publish', publishBody());
    expect(res.status).toBe(200);
    const p = contract.check<{ chosen: { nodeId: string }; backups: { nodeId: string }[] }>('Placement', await res.json());
    expect([p.chosen.nodeId, ...p.backups.map((b) => b.nodeId)].sort()).toEqual(['a', 'b']);
  });

  it('POST /publish answers 503 no-capable-node with a detail naming the peers', async () => {
    const bus = new MemoryBus();
    const a = discovery(bus, 'a', capacity({ memoryMiB: 10 }));
    discovery(bus, 'b', capacity({ memoryMiB: 10 }));
    await new Promise((r) => setTimeout(r, 20)); // let the HELLOs arrive
    const res = await post(a.app, '/publish', publishBody({ timeoutMs: 200 }));
    expect(res.status).toBe(503);
    expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
    const body = await res.json();
    expect(body.type).toBe('urn:cps:problem:no-capable-node');
    expect(body.detail).toMatch(/no peer answered within 200 ms.*peers known: b \(alive\)/);
  });

  it('POST /publish rejects hostile or malformed bodies with 400 problem+json', async () => {
    const { app, http } = discovery(new MemoryBus(), 'v1');
    const bad: unknown[] = [
      '{',
      'null',
      '[]',
      {},
      publishBody({ taskId: 'Bad Id' }),
      publishBody({ taskId: 'x'.repeat(80) }),
      publishBody({ requirements: { vcpus: 0, memoryMiB: 256, diskMiB: 1 } }),
      publishBody({ requirements: { vcpus: 1, memoryMiB: 256, diskMiB: 1, extra: true } }),
      publishBody({ requirements: { vcpus: 1, memoryMiB: 256, diskMiB: 1, image: '../etc/passwd' } }),
      publishBody({ requirements: { vcpus: 1, memoryMiB: 256, diskMiB: 1, arch: 'x86 64' } }),
      publishBody({ timeoutMs: 1 }),
      publishBody({ exclude: ['x'.repeat(100)] }),
      publishBody({ surprise: 1 }),
    ];
    for (const b of bad) {
      const res = await post(app, '/publish', b);
      expect(res.status, JSON.stringify(b)).toBe(400);
      expect((await res.json()).type).toMatch(/^urn:cps:problem:(validation-failed|bad-request)$/);
    }
    const big = await http.post('/publish').set('content-type', 'application/json').send(JSON.stringify({ pad: 'x'.repeat(20_000) }));
    expect(big.status).toBe(413);
    expect(big.body.type).toBe('urn:cps:problem:payload-too-large');
  });

  it('GET /peers lists nodes heard by HELLO, and LEAVE removes them', async () => {
    const bus = new MemoryBus();
    const a = discovery(bus, 'a');
    const b = discovery(bus, 'b');
    await new Promise((r) => setTimeout(r, 20));
    const body = contract.check<{ items: Array<{ nodeId: string; state: string }> }>('Peer', (await (await a.app.request('/peers')).json()).items[0]);
    expect(body).toMatchObject({ nodeId: 'b', state: 'alive', free: { memoryMiB: 4096 } });
    await b.node.close();
    nodes = nodes.filter((n) => n !== b.node);
    await new Promise((r) => setTimeout(r, 20));
    expect((await (await a.app.request('/peers')).json()).items).toEqual([]);
  });

  it('GET /peers/events streams a snapshot, then joined and left as peers come and go', async () => {
    const bus = new MemoryBus();
    const a = discovery(bus, 'a');
    discovery(bus, 'c');
    await new Promise((r) => setTimeout(r, 20));
    const res = await a.app.request('/peers/events');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const events = sseReader(res.body!);
    const snap = await events.next();
    expect(snap.event).toBe('snapshot');
    expect(snap.data.items.map((p: { nodeId: string }) => p.nodeId)).toEqual(['c']);
    const b = discovery(bus, 'b');
    const joined = await events.next();
    expect(joined.event).toBe('joined');
    contract.check('PeerEvent', joined.data);
    expect(joined.data).toMatchObject({ type: 'joined', peer: { nodeId: 'b', state: 'alive', head: false, total: { vcpus: 4 } } });
    await b.node.close();
    nodes = nodes.filter((n) => n !== b.node);
    const left = await events.next();
    expect(left.data).toMatchObject({ type: 'left', reason: 'leave', peer: { nodeId: 'b' } });
    await events.cancel();
  });

  it('GET /metrics counts replayed, stale, future and forged packets by reason', async () => {
    const bus = new MemoryBus();
    const a = discovery(bus, 'a');
    const wire = bus.transport('evil');
    const now = Date.now();
    const leave = (timestampMs: number, nonce: string, auth = key) =>
      encode({ type: 'LEAVE', sender: 'm', taskId: '', seq: 1, flags: 0, timestampMs, nonce: Buffer.from(nonce, 'hex'), body: { nodeId: 'm' } }, auth);
    const fresh = leave(now, '0000000000000001');
    wire.send(fresh);
    wire.send(fresh);
    wire.send(leave(now - 120_000, '0000000000000002'));
    wire.send(leave(now + 120_000, '0000000000000003'));
    wire.send(leave(now, '0000000000000004', otherKey));
    await new Promise((r) => setTimeout(r, 20));
    const text = await (await a.app.request('/metrics')).text();
    for (const reason of ['replay', 'stale', 'future', 'mac']) expect(text).toMatch(new RegExp(`^pep_packets_dropped_total\\{reason="${reason}"\\} 1$`, 'm'));
    expect(text).toMatch(/^pep_packets_received_total\{type="LEAVE"\} 1$/m);
  });

  it('GET /metrics counts packets by type and drops by reason', async () => {
    const bus = new MemoryBus();
    const a = discovery(bus, 'a');
    const junk = bus.transport('junk');
    junk.send(Buffer.from('hello'));
    junk.send(Buffer.concat([Buffer.from('PEP'), Buffer.alloc(100)]));
    await post(a.app, '/publish', publishBody());
    const res = await a.app.request('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/plain/);
    const text = await res.text();
    expect(text).toMatch(/^pep_packets_sent_total\{type="PUBLISH"\} 1$/m);
    expect(text).toMatch(/^pep_packets_received_total\{type="ACK"\} 1$/m);
    expect(text).toMatch(/^pep_packets_dropped_total\{reason="truncated"\} 1$/m);
    expect(text).toMatch(/^pep_packets_dropped_total\{reason="version"\} 1$/m);
    expect(text).toMatch(/^pep_publish_total\{outcome="placed"\} 1$/m);
    expect(text).toMatch(/^pep_holds \d+$/m);
  });

  it('unknown routes are problem+json 404', async () => {
    const { http } = discovery(new MemoryBus(), 'r1');
    const res = await http.get('/nope');
    expect(res.status).toBe(404);
    expect(res.body.type).toBe('urn:cps:problem:route-not-found');
  });
});
