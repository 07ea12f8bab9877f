import { storageClient, viaApp, type StorageClient } from '@cps/openapi';
import { Hono } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import { decode, encode, FLAG_FETCHES_IMAGE } from '../src/pep/codec.ts';
import { ackNodeSchema } from '../src/pep/messages.ts';
import { key } from './fixtures.ts';
import { peerImages, type ImagePeer } from '../src/peer-images.ts';
import { MemoryBus } from '../src/pep/socket.ts';
import { capacity, makeNode, req, silent, type TestNode } from './cluster.ts';

const digest = (c: string) => c.repeat(64);
const uploaded = (sha: string) => `img-${sha.slice(0, 24)}`;
let nodes: TestNode[] = [];
afterEach(async () => {
  await Promise.all(nodes.map((n) => n.close()));
  nodes = [];
});
const onBus = (bus: MemoryBus, id: string, o: Parameters<typeof makeNode>[2] = {}) => {
  const n = makeNode(id, bus.transport(id), o);
  nodes.push(n);
  return n;
};

describe('a node that lacks the image answers "fetchable"; the publisher prefers a holder', () => {
  it('the fetcher ACKs first, yet the holder is chosen and the fetcher is its backup', async () => {
    const bus = new MemoryBus();
    const sha = digest('a');
    const pub = onBus(bus, 'pub', { cap: capacity({ vcpus: 0 }) });
    let fetcherAcked!: () => void;
    const gate = new Promise<void>((r) => (fetcherAcked = r));
    const acks: Array<{ from: string; image?: string }> = [];
    pub.endpoint.on((m) => {
      if (m.type !== 'ACK') return;
      acks.push({ from: m.sender, ...(m.flags & FLAG_FETCHES_IMAGE ? { image: 'fetchable' } : {}) });
      if (m.sender === 'fetcher') fetcherAcked();
    });
    onBus(bus, 'fetcher', { provisioner: async () => ({ capacity: capacity(), images: new Set() }), canFetchImage: async (s) => s === sha });
    // The holder reads its view only once the fetcher's ACK is out, so it answers second.
    onBus(bus, 'holder', { provisioner: async () => (await gate, { capacity: capacity(), images: new Set([sha]) }) });
    const p = await pub.publisher.publish({ taskId: 't-pref', requirements: { ...req(), image: uploaded(sha), imageSha256: sha }, timeoutMs: 1500 });
    expect(acks[0]).toEqual({ from: 'fetcher', image: 'fetchable' });
    expect(acks).toContainEqual({ from: 'holder' });
    expect(p.chosen.nodeId).toBe('holder');
    expect(p.backups.map((b) => b.nodeId)).toEqual(['fetcher']);
    // The HTTP placement carries no PEP-only field.
    expect(p.chosen).not.toHaveProperty('image');
    expect(p.backups[0]).not.toHaveProperty('image');
  });

  it('a holder whose cached view predates the upload looks at its storage again and answers as a holder', async () => {
    const bus = new MemoryBus();
    const sha = digest('e');
    const pub = onBus(bus, 'pub', { cap: capacity({ vcpus: 0 }) });
    const flags: Record<string, number> = {};
    pub.endpoint.on((m) => {
      if (m.type === 'ACK') flags[m.sender] = m.flags & FLAG_FETCHES_IMAGE;
    });
    const looked: string[] = [];
    // Stale cache (no image yet), fresh storage has it; the fetcher answers at once.
    onBus(bus, 'uploader', { provisioner: async () => ({ capacity: capacity(), images: new Set() }), imageHere: async (s) => (looked.push(s), s === sha), canFetchImage: async () => false });
    onBus(bus, 'fetcher', { provisioner: async () => ({ capacity: capacity(), images: new Set() }), imageHere: async () => false, canFetchImage: async (s) => s === sha });
    const p = await pub.publisher.publish({ taskId: 't-fresh', requirements: { ...req(), imageSha256: sha }, timeoutMs: 1500 });
    expect(p.chosen.nodeId).toBe('uploader');
    expect(flags).toEqual({ uploader: 0, fetcher: FLAG_FETCHES_IMAGE });
    expect(looked).toEqual([sha]);
  });

  it('only a fetcher: it hosts; canFetchImage false or failing: silent (reason image)', async () => {
    const bus = new MemoryBus();
    const sha = digest('b');
    const pub = onBus(bus, 'pub', { cap: capacity({ vcpus: 0 }) });
    const no = onBus(bus, 'no', { provisioner: async () => ({ capacity: capacity(), images: new Set() }), canFetchImage: async () => false });
    const broken = onBus(bus, 'broken', { provisioner: async () => ({ capacity: capacity(), images: new Set() }), canFetchImage: async () => Promise.reject(new Error('discovery lost its peers')) });
    onBus(bus, 'fetcher', { provisioner: async () => ({ capacity: capacity(), images: new Set() }), canFetchImage: (s) => s === sha });
    const p = await pub.publisher.publish({ taskId: 't-only', requirements: { ...req(), imageSha256: sha }, timeoutMs: 1500 });
    expect(p.chosen.nodeId).toBe('fetcher');
    expect(p.backups).toEqual([]);
    expect(no.metrics.get('pep_publish_declined_total', { reason: 'image' })).toBe(1);
    expect(broken.metrics.get('pep_publish_declined_total', { reason: 'image' })).toBe(1);
  });

  it('the wire: "fetchable" is header flag bit 2, covered by the MAC; the ACK body is unchanged', () => {
    const node = { nodeId: 'n', address: '10.0.0.1', ports: { coordinator: 1, discovery: 2, provisioner: 3, storage: 4, vncGateway: 5 }, uptimeSec: 1, free: { vcpus: 1, memoryMiB: 1, diskMiB: 1 }, accelerator: 'tcg' as const };
    const msg = { type: 'ACK' as const, sender: 'n', taskId: 't-1', seq: 7, flags: FLAG_FETCHES_IMAGE, timestampMs: 1, nonce: Buffer.alloc(8, 1), body: { node } };
    const buf = encode(msg, key);
    expect(buf[5]! & 0x04).toBe(0x04);
    expect(decode(buf, key).flags & FLAG_FETCHES_IMAGE).toBe(FLAG_FETCHES_IMAGE);
    const tampered = Buffer.from(buf);
    tampered[5] = tampered[5]! & ~0x04; // a holder's ACK forged from a fetcher's: the MAC no longer matches
    expect(() => decode(tampered, key)).toThrow();
    // The body stays strict: no image field rides in it.
    expect(ackNodeSchema.safeParse({ ...node, image: 'fetchable' }).success).toBe(false);
  });
});

describe('peerImages: which alive peers hold an uploaded image', () => {
  const sha = digest('c');
  let calls: Map<string, number>;
  const storageOf = (items: unknown[] | 'fail') => {
    const app = new Hono();
    app.get('/images', (c) => (items === 'fail' ? c.json({ type: 'x' }, 500) : c.json({ items })));
    return app;
  };
  const setup = (apps: Record<string, Hono>, peers: ImagePeer[], clock = { t: 0 }) => {
    calls = new Map();
    const storage = (p: ImagePeer): StorageClient => {
      const app = apps[p.nodeId];
      if (!app) return storageClient({ baseUrl: 'http://x.invalid', fetch: () => Promise.reject(new Error('refused')) });
      const o = viaApp(app);
      return storageClient({ ...o, fetch: (r: Request) => (calls.set(p.nodeId, (calls.get(p.nodeId) ?? 0) + 1), o.fetch!(r)) });
    };
    return peerImages({ peers: () => peers, storage, now: () => clock.t, ttlMs: 1000, log: silent });
  };
  const peer = (nodeId: string, state = 'alive'): ImagePeer => ({ nodeId, address: `10.0.0.${nodeId.length}`, state, ports: { storage: 8083 } });
  const img = (s: string, o: Record<string, unknown> = {}) => ({ id: uploaded(s), name: 'x', kind: 'disk', format: 'raw', builtin: false, sizeBytes: 1, sha256: s, ...o });

  it('counts alive peers listing it under its uploaded id; dead, failing and unreachable ones hold nothing', async () => {
    const pi = setup(
      {
        a: storageOf([img(sha)]),
        b: storageOf([img(sha, { id: 'debian-12-server' })]), // not an uploaded image: not fetched
        c: storageOf([img(sha)]),
        d: storageOf('fail'),
      },
      [peer('a'), peer('b'), peer('c', 'dead'), peer('d'), peer('e')],
    );
    expect(await pi.holders(sha)).toEqual(['a']);
    expect(await pi.canFetch(sha)).toBe(true);
    expect(await pi.canFetch(digest('d'))).toBe(false);
    expect(calls.get('c')).toBeUndefined();
  });

  it('a peer’s list is kept for ttlMs, then asked again', async () => {
    const clock = { t: 0 };
    let items: unknown[] = [];
    const app = new Hono();
    app.get('/images', (c) => c.json({ items }));
    const pi = setup({ a: app }, [peer('a')], clock);
    expect(await pi.canFetch(sha)).toBe(false);
    items = [img(sha)];
    clock.t = 999;
    expect(await pi.canFetch(sha)).toBe(false);
    expect(calls.get('a')).toBe(1);
    clock.t = 1000;
    expect(await pi.canFetch(sha)).toBe(true);
    expect(calls.get('a')).toBe(2);
  });
});
