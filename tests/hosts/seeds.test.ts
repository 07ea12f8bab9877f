// PEP on a network that drops multicast (the paper's own worry): with the multicast route removed
// and every multicast datagram dropped by each host's firewall, seed peers still find each other
// and place a task by unicast (CPS_PEP_SEEDS; docs/pep.md §1).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHosts, type Host, type Hosts } from '../helpers/hosts.ts';
import { peers, stateOf, taskId, until } from './pep-test-kit.ts';

let cluster: Hosts;
let a: Host, b: Host, c: Host;

describe('PEP with multicast blocked: seed peers by unicast', () => {
  beforeAll(async () => {
    cluster = await createHosts(3);
    [a, b, c] = cluster.hosts as [Host, Host, Host];
    for (const h of cluster.hosts) {
      h.removeMulticastRoute();
      // Removing the route alone is not enough: a socket with IP_MULTICAST_IF still sends multicast.
      h.blockMulticast();
    }
    const seeds = [b, c].map((h) => h.address).join(',');
    // Only A is configured with seeds; B and C run unicast-only with none, and must learn A from its HELLOs.
    const unicastOnly = { CPS_PEP_MULTICAST: '0' };
    await Promise.all([a.startServices({ env: { CPS_PEP_SEEDS: seeds } }), b.startServices({ env: unicastOnly }), c.startServices({ env: unicastOnly })]);
  });

  afterAll(async () => {
    await cluster?.destroy();
  });

  it('peers find each other through the seeds, and HELLO adds the peers that were not seeds', async () => {
    await until('A sees B and C', () => peers(a), (ps) => stateOf(ps, b.nodeId) === 'alive' && stateOf(ps, c.nodeId) === 'alive');
    for (const h of [b, c]) await until(`${h.nodeId} sees A`, () => peers(h), (ps) => stateOf(ps, a.nodeId) === 'alive');
  });

  it('a task published on A is placed on B or C by unicast', async () => {
    const { data, error } = await a.discovery.POST('/publish', {
      body: { taskId: taskId(), requirements: { vcpus: 1, memoryMiB: 256, diskMiB: 16, arch: 'x86_64', needsKvm: false }, exclude: [a.nodeId], timeoutMs: 5_000 },
    });
    expect(error).toBeUndefined();
    expect([b.nodeId, c.nodeId]).toContain(data!.chosen.nodeId);
  });

  it('a task published on B (which learned A from its HELLO) reaches A', async () => {
    const { data, error } = await b.discovery.POST('/publish', {
      body: { taskId: taskId(), requirements: { vcpus: 1, memoryMiB: 256, diskMiB: 16, arch: 'x86_64', needsKvm: false }, exclude: [b.nodeId, c.nodeId], timeoutMs: 5_000 },
    });
    expect(error).toBeUndefined();
    expect(data!.chosen.nodeId).toBe(a.nodeId);
  });
});
