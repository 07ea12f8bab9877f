import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@cps/common';
import { discoveryClient, provisionerClient, storageClient, viaApp } from '@cps/openapi';
import { createApp as discoveryApp } from '@cps/discovery/app.ts';
import { Membership } from '@cps/discovery/membership.ts';
import { Metrics } from '@cps/discovery/metrics.ts';
import { PepEndpoint } from '@cps/discovery/pep/endpoint.ts';
import { MemoryBus } from '@cps/discovery/pep/socket.ts';
import { createPublisher } from '@cps/discovery/publisher.ts';
import { createSelf } from '@cps/discovery/self.ts';
import type { AdmitDeps } from '@cps/discovery/trust/admit.ts';
import type { RemovalSync } from '@cps/discovery/trust/removal-sync.ts';
import { JoinTokens } from '@cps/trust';
import { Accounts } from '../src/accounts/accounts.ts';
import { MemoryAccountStore } from '../src/accounts/memory-store.ts';
import { createApp } from '../src/app.ts';
import type { ClientsFor } from '../src/clients.ts';
import { Placer } from '../src/placement.ts';
import { Tasks } from '../src/tasks/tasks.ts';
import { fakeNode, type Who } from './fakes.ts';

const log = createLogger('peers-test', 'silent');
const ports = { coordinator: 18180, discovery: 18181, provisioner: 18182, storage: 18183, vncGateway: 18184 };

/**
 * A coordinator whose discovery is the real discovery app (its /self, /peers and join-token
 * routes, with real JoinTokens in a temporary folder), this node `node-a` with a provisioner that
 * reports its capacity, and one peer `node-b` heard by HELLO. Users: the first admin, alice, bob.
 */
export async function peersHarness(o: { load?: number; guestsVcpus?: number } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'cps-peers-'));
  const node = fakeNode('node-a', '10.0.0.1');
  const used = o.guestsVcpus ?? 0;
  const capacity = async () => ({
    total: { vcpus: 4, memoryMiB: 8192, diskMiB: 100_000 },
    free: { vcpus: 4 - used, memoryMiB: 8192 - used * 256, diskMiB: 90_000 },
    accelerator: 'tcg' as const,
    arch: 'x86_64',
  });
  const self = createSelf({ nodeId: 'node-a', address: '10.0.0.1', ports, capacity, load: () => o.load ?? 0.1 });
  const membership = new Membership('node-a');
  membership.observe(
    {
      nodeId: 'node-b', address: '10.0.0.2', ports, uptimeSec: 3600, load: 2.5,
      total: { vcpus: 2, memoryMiB: 2048, diskMiB: 20_000 }, free: { vcpus: 1, memoryMiB: 1792, diskMiB: 19_000 }, accelerator: 'tcg',
    },
    { head: true },
  );
  const metrics = new Metrics();
  const transport = new MemoryBus().transport('node-a');
  const endpoint = new PepEndpoint({ transport, auth: { kind: 'insecure' }, nodeId: 'node-a', metrics, log });
  const publisher = createPublisher({ endpoint, metrics, log, describePeers: () => membership.describe() });
  const tokens = new JoinTokens(join(dir, 'join-tokens.json'), () => 'a'.repeat(64), () => new Date());
  let discoveryUp = true;
  const realDiscovery = discoveryApp({
    self,
    membership,
    publisher,
    metrics,
    log,
    trust: {
      tokens,
      joinAddress: () => ({ address: '10.0.0.1', port: ports.discovery }),
      // Joining and removals are discovery's own tests; these tests never reach them.
      admit: {} as AdmitDeps,
      removals: {} as RemovalSync,
    },
  });
  // Discovery can be switched off, to see what the portal is told then.
  const discovery = discoveryClient({
    baseUrl: 'http://discovery.invalid',
    fetch: (req: Request) => (discoveryUp ? Promise.resolve(realDiscovery.fetch(req)) : Promise.reject(new TypeError('fetch failed'))),
  });

  const clientsFor: ClientsFor = () => ({ storage: storageClient(viaApp(node.storage)), provisioner: provisionerClient(viaApp(node.provisioner)) });
  const tasks = new Tasks();
  const placer = new Placer({ tasks, discovery, clientsFor, log });
  const accounts = new Accounts({ store: new MemoryAccountStore(), now: () => new Date() });
  const first = (await accounts.ensureFirstAdmin())!;
  const alice = await accounts.createUser({ name: 'alice', password: 'alice-password-1' });
  const bob = await accounts.createUser({ name: 'bob', password: 'bob-password-12' });
  const users = { admin: first.user, alice, bob };
  const tokensOf: Record<Who, string> = {
    admin: (await accounts.createToken(first.user.id, 'test')).value,
    alice: (await accounts.createToken(alice.id, 'test')).value,
    bob: (await accounts.createToken(bob.id, 'test')).value,
  };
  const app = createApp({ log, tasks, placer, localStorage: storageClient(viaApp(node.storage)), clientsFor, accounts, discovery });

  /** A task of `who`'s, made running on `nodeId` as placement would leave it. */
  const runningTask = (who: Who, name: string, nodeId: string) => {
    const u = users[who];
    const t = tasks.create(name, { vcpus: 1, memoryMiB: 256, diskMiB: 64, image: 'tiny' }, { id: u.id, name: u.name });
    tasks.transition(t.id, 'placing', 'placing');
    tasks.transition(t.id, 'starting', 'starting', { node: { nodeId, address: nodeId === 'node-a' ? '10.0.0.1' : '10.0.0.2', ports } });
    return tasks.transition(t.id, 'running', 'running');
  };

  const request = (who: Who | undefined, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    app.request(`http://localhost${path}`, {
      method,
      headers: {
        host: 'localhost',
        ...(who ? { authorization: `Bearer ${tokensOf[who]}` } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });

  const close = () => {
    placer.close();
    transport.close();
    rmSync(dir, { recursive: true, force: true });
  };
  return { app, tasks, tokens, users, adminPassword: first.password, request, runningTask, close, setDiscoveryUp: (up: boolean) => void (discoveryUp = up) };
}
