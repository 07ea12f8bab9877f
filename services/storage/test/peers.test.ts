import { readdir } from 'node:fs/promises';
import { discoveryClient, storageClient, viaApp, type DiscoverySchemas } from '@cps/openapi';
import { Hono } from 'hono';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseAllowList, PeerPolicy, storageUrl } from '../src/peers.ts';
import { makeFixture, memoryLogger, taskId, type Fixture } from './fixture.ts';

const problem = (t: string) => `urn:cps:problem:${t}`;
type Peer = DiscoverySchemas['Peer'];

const peerAt = (address: string, storage: number, state: Peer['state'] = 'alive'): Peer => ({
  nodeId: `n-${address}`,
  address,
  ports: { coordinator: 8080, discovery: 8081, provisioner: 8082, storage, vncGateway: 8084 },
  uptimeSec: 100,
  lastSeenMs: 10,
  state,
  head: false,
});

/** A discovery that lists `peers` (or fails), and counts how often it was asked. */
function fakeDiscovery(peers: Peer[] | 'down') {
  const asked = { n: 0 };
  const app = new Hono();
  app.get('/peers', (c) => {
    asked.n++;
    return peers === 'down' ? c.json({ type: 'urn:cps:problem:internal', title: 'x', status: 500 }, 500) : c.json({ items: peers });
  });
  return { client: discoveryClient(viaApp(app)), asked };
}

describe('PeerPolicy', () => {
  const { log } = memoryLogger();
  const known = fakeDiscovery([peerAt('10.0.0.5', 8083), peerAt('10.0.0.6', 18083, 'suspect'), peerAt('10.0.0.7', 8083, 'dead'), peerAt('fd00::5', 8083)]);
  const policy = new PeerPolicy({ allow: parseAllowList('10.1.1.1:9000'), discovery: known.client, log });

  it('allows a peer discovery lists alive or suspect, at the storage port it announced', async () => {
    expect(await policy.check({ address: '10.0.0.5', port: 8083 })).toBe('https://10.0.0.5:8083');
    expect(await policy.check({ address: '10.0.0.6', port: 18083 })).toBe('https://10.0.0.6:18083');
    expect(await policy.check({ address: 'FD00::5', port: 8083 })).toBe('https://[fd00::5]:8083');
  });

  it('allows the allow-list: address:port at that port only; loopback is no exception', async () => {
    expect(await policy.check({ address: '10.1.1.1', port: 9000 })).toBe('https://10.1.1.1:9000');
    await expect(policy.check({ address: '127.0.0.1', port: 18999 })).rejects.toMatchObject({ problemType: 'peer-not-allowed' });
    await expect(policy.check({ address: '10.1.1.1', port: 9001 })).rejects.toMatchObject({ problemType: 'peer-not-allowed' });
  });

  it.each([
    ['an unknown address', '192.168.1.1', 8083, 'is not a peer discovery knows'],
    ['another port of a known peer (its provisioner)', '10.0.0.5', 8082, 'not the storage port that peer announced (8083)'],
    ['a peer held dead', '10.0.0.7', 8083, 'dead'],
    ['loopback written another way', '127.1', 8083, 'is not a peer discovery knows'],
    ['a host name', 'localhost', 8083, 'is not a peer discovery knows'],
    ['the metadata address of clouds', '169.254.169.254', 80, 'is not a peer discovery knows'],
  ])('refuses %s', async (_what, address, port, why) => {
    const err = await policy.check({ address, port }).catch((e: unknown) => e);
    expect(err).toMatchObject({ problemType: 'peer-not-allowed', status: 403 });
    expect((err as Error).message).toContain(why);
  });

  it('without discovery, only the allow-list; with discovery down, upstream-failed', async () => {
    const alone = new PeerPolicy({ allow: [], log });
    await expect(alone.check({ address: '10.0.0.5', port: 8083 })).rejects.toMatchObject({ problemType: 'peer-not-allowed' });
    const down = new PeerPolicy({ allow: [], discovery: fakeDiscovery('down').client, log });
    await expect(down.check({ address: '10.0.0.5', port: 8083 })).rejects.toMatchObject({ problemType: 'upstream-failed' });
  });

  it('parses CPS_STORAGE_PEER_ALLOW', () => {
    expect(parseAllowList('')).toEqual([]);
    expect(parseAllowList(' 127.0.0.1:8083,10.0.0.5:8083  [FD00::1]:8083 ,')).toEqual(['127.0.0.1:8083', '10.0.0.5:8083', '[fd00::1]:8083']);
    // A bare address would open every port of that host to a pull.
    expect(() => parseAllowList('127.0.0.1')).toThrow(/not address:port/);
    expect(() => parseAllowList('10.0.0.5:8083, 10.0.0.6')).toThrow(/10.0.0.6/);
    expect(storageUrl({ address: '::1', port: 1 })).toBe('https://[::1]:1');
  });
});

describe('POST /disks/{task}/pull asks only known peers', () => {
  let src: Fixture;
  let dst: Fixture | undefined;
  beforeEach(async () => {
    src = await makeFixture();
  });
  afterEach(async () => {
    await dst?.cleanup();
    await src.cleanup();
  });

  /** A destination whose peers are those of `discovery`, and which records every base URL it would fetch from. */
  async function destination(peers: Peer[]) {
    const fetched: string[] = [];
    const disc = fakeDiscovery(peers);
    dst = await makeFixture({
      peer: (baseUrl) => {
        fetched.push(baseUrl);
        return storageClient(viaApp(src.app));
      },
      peers: (log) => new PeerPolicy({ allow: [], discovery: disc.client, log }),
    });
    const pull = (t: string, sourceNode: unknown) =>
      dst!.app.request(`/disks/${t}/pull`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ sourceNode }) });
    return { fetched, pull, asked: disc.asked };
  }

  it('pulls from a peer discovery lists', async () => {
    const t = taskId();
    await src.store.create(t, { image: 'tiny', diskMiB: 8 });
    const d = await destination([peerAt('10.0.0.5', 8083)]);
    const res = await d.pull(t, { address: '10.0.0.5', port: 8083 });
    expect(res.status).toBe(201);
    expect(d.fetched).toEqual(['https://10.0.0.5:8083']);
    expect(await readdir(dst!.layout.disksDir)).toEqual([t]);
  });

  it('refuses any other node before fetching a byte, and leaves nothing', async () => {
    const t = taskId();
    await src.store.create(t, { image: 'tiny', diskMiB: 8 });
    const d = await destination([peerAt('10.0.0.5', 8083)]);
    for (const node of [
      { address: '127.0.0.1', port: 8083 }, // loopback is not allowed when the allow-list is empty
      { address: '10.0.0.5', port: 8082 },
      { address: '10.0.0.99', port: 8083 },
    ]) {
      const res = await d.pull(t, node);
      const body = await res.json();
      expect({ status: res.status, type: body.type }).toEqual({ status: 403, type: problem('peer-not-allowed') });
      expect(body.detail).toContain(`${node.address}:${node.port}`);
    }
    expect(d.asked.n).toBe(3);
    expect(d.fetched).toEqual([]);
    expect(await readdir(dst!.layout.disksDir)).toEqual([]);
    expect(await readdir(dst!.layout.tmpDir)).toEqual([]);
  });
});
