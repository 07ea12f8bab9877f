// PEP between real hosts: five network namespaces on one bridge, each running its own discovery
// (and provisioner, on libvirt's test driver), talking UDP multicast over the bridge.
//   a, b, c  capable hosts (4 vCPUs, 4 GiB: 3 vCPUs and 3 GiB lendable)
//   d        lends only 64 MiB of memory
//   e        an intruder: its discovery has the wrong cluster key, and it replays packets
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHosts, type Host, type Hosts } from '../helpers/hosts.ts';
import { metricValue, metrics, peers, stateOf, taskId, until } from './pep-test-kit.ts';

let cluster: Hosts;
let a: Host, b: Host, c: Host, d: Host, e: Host;

const tiny = { vcpus: 1, memoryMiB: 256, diskMiB: 16, arch: 'x86_64', needsKvm: false };

beforeAll(async () => {
  cluster = await createHosts(5);
  [a, b, c, d, e] = cluster.hosts as [Host, Host, Host, Host, Host];
  await Promise.all([
    a.startServices(),
    b.startServices(),
    c.startServices(),
    d.startServices({ env: { CPS_SHARE_MEMORY_MIB: '64' } }),
    e.startServices({ services: ['discovery'], env: { CPS_CLUSTER_KEY: 'not-the-cluster-key-0123456789' } }),
  ]);
  // Everyone honest hears everyone honest before the first PUBLISH.
  for (const h of [a, b, c, d]) {
    const others = [a, b, c, d].filter((o) => o !== h).map((o) => o.nodeId);
    await until(`${h.nodeId} sees its peers`, () => peers(h), (ps) => others.every((id) => stateOf(ps, id) === 'alive'));
  }
});

afterAll(async () => {
  await cluster?.destroy();
});

const sentAcks = async (h: Host) => metricValue(await metrics(h), 'pep_packets_sent_total', { type: 'ACK' });

describe('PEP between five hosts on a bridge', () => {
  it('a task published on A is answered by B and C; D, short of memory, stays silent', async () => {
    const before = { b: await sentAcks(b), c: await sentAcks(c), d: await sentAcks(d) };
    const declinedBefore = metricValue(await metrics(d), 'pep_publish_declined_total', { reason: 'memory' });

    const { data, error } = await a.discovery.POST('/publish', { body: { taskId: taskId(), requirements: tiny, timeoutMs: 5_000 } });
    expect(error).toBeUndefined();
    const placed = [data!.chosen, ...data!.backups].map((n) => n.nodeId);
    expect(placed).not.toContain(d.nodeId);
    expect(placed).not.toContain(e.nodeId);
    expect(['host-a', 'host-b', 'host-c']).toContain(data!.chosen.nodeId);
    expect(data!.chosen.address).toBe(cluster.hosts.find((h) => h.nodeId === data!.chosen.nodeId)!.address);

    // Every capable host answered, whether or not its ACK made the collection window.
    await until('B and C sent an ACK', async () => [await sentAcks(b), await sentAcks(c)], ([nb, nc]) => nb! > before.b && nc! > before.c, 10_000);
    await until('D declined for memory', async () => metricValue(await metrics(d), 'pep_publish_declined_total', { reason: 'memory' }), (n) => n > declinedBefore, 10_000);
    expect(await sentAcks(d)).toBe(before.d);
  });

  it('two tasks raced for the last slot of B and of C end on two different hosts', async () => {
    // 2000 MiB fits once into each of B's and C's 3 GiB; A, D and E are left out of the race.
    const req = { ...tiny, memoryMiB: 2000 };
    const exclude = [a.nodeId, d.nodeId, e.nodeId];
    const publish = (from: Host) => from.discovery.POST('/publish', { body: { taskId: taskId(), requirements: req, exclude, timeoutMs: 8_000 } });
    const [one, two] = await Promise.all([publish(a), publish(b)]);
    expect(one.error).toBeUndefined();
    expect(two.error).toBeUndefined();
    const hosts = [one.data!.chosen.nodeId, two.data!.chosen.nodeId].sort();
    expect(hosts).toEqual(['host-b', 'host-c']);
  });

  it('replayed, stale and forged packets are dropped and counted; a node with the wrong key never becomes a peer', async () => {
    const dropped = async (h: Host) => {
      const text = await metrics(h);
      return { replay: metricValue(text, 'pep_packets_dropped_total', { reason: 'replay' }), stale: metricValue(text, 'pep_packets_dropped_total', { reason: 'stale' }), mac: metricValue(text, 'pep_packets_dropped_total', { reason: 'mac' }) };
    };
    const before = await dropped(a);
    // E captures a HELLO of B off the wire and sends it back three ways.
    const out = await e.exec(process.execPath, ['--import', 'tsx', 'tests/hosts/fixtures/pep-intruder.ts', '239.192.77.1', String(cluster.ports.pep), e.address, b.nodeId], {
      env: { ...process.env, PEP_KEY: cluster.clusterKey },
      timeoutMs: 30_000,
    });
    expect(JSON.parse(out).sent).toEqual(['replay', 'stale', 'forged']);
    const after = await until('A counted the replay, the stale and the forged packet', () => dropped(a), (n) => n.replay > before.replay && n.stale > before.stale && n.mac > before.mac, 10_000);
    expect(after.replay).toBeGreaterThan(before.replay);

    // E's own discovery speaks with the wrong key: it hears nobody, and nobody lists it.
    expect(await peers(e)).toEqual([]);
    expect(metricValue(await metrics(e), 'pep_packets_dropped_total', { reason: 'mac' })).toBeGreaterThan(0);
    for (const h of [a, b, c]) expect((await peers(h)).map((p) => p.nodeId)).not.toContain(e.nodeId);
    // Nor does a packet that was dropped refresh anything: B is still listed from its own HELLOs only.
    expect(stateOf(await peers(a), b.nodeId)).toBe('alive');
  });

  it('a host cut off the network stops being alive for the others, and is alive again when the link returns', async () => {
    b.cutLink();
    try {
      await until('A stops seeing B alive', () => peers(a), (ps) => stateOf(ps, b.nodeId) !== 'alive', 30_000);
    } finally {
      b.restoreLink();
    }
    await until('A sees B alive again', () => peers(a), (ps) => stateOf(ps, b.nodeId) === 'alive', 30_000);
  });

  it('a killed host is marked dead by the others', async () => {
    await d.kill();
    for (const h of [a, b, c]) await until(`${h.nodeId} marks host-d dead`, () => peers(h), (ps) => stateOf(ps, d.nodeId) === 'dead', 30_000);
    // The living stay alive meanwhile.
    expect(stateOf(await peers(a), b.nodeId)).toBe('alive');
  });

  it('a host that stops gracefully says LEAVE and is gone from the others at once', async () => {
    expect(stateOf(await peers(a), c.nodeId)).toBe('alive');
    await c.stopService('discovery');
    // Without LEAVE, C would stay listed (suspect, then dead) for a minute; with it, C goes now.
    for (const h of [a, b]) await until(`${h.nodeId} forgets host-c`, () => peers(h), (ps) => stateOf(ps, c.nodeId) === undefined, 5_000);
  });
});
