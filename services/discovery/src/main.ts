import { resolve } from 'node:path';
import { createLogger, dataDirVar, loadConfig, memberFetch, onShutdown, portsFrom, portsSchema, ProblemError, publicRoutesOfFile, serveApp, serviceUrl } from '@cps/common';
import { discoveryClient, provisionerClient, specFiles, storageClient } from '@cps/openapi';
import { JoinTokens, loadCa, loadTrust, trustLayout } from '@cps/trust';
import { z } from 'zod';
import { createApp } from './app.ts';
import { DEFAULT_HEAD_CLAIM_TTL_MS, HeadClaim } from './head-claim.ts';
import { startMembership } from './hello.ts';
import { Membership } from './membership.ts';
import { Metrics } from './metrics.ts';
import type { PepAuth } from './pep/codec.ts';
import { PepEndpoint } from './pep/endpoint.ts';
import { nodeIdSchema } from './pep/messages.ts';
import { fanoutTransport, parseSeeds } from './pep/fanout.ts';
import { udpMulticastTransport, udpUnicastTransport } from './pep/socket.ts';
import { peerImages } from './peer-images.ts';
import { provisionerView } from './provisioner.ts';
import { provisionerCache } from './provisioner-cache.ts';
import { createPublisher } from './publisher.ts';
import { createResponder } from './responder.ts';
import { createSelf } from './self.ts';
import { storageView } from './storage-view.ts';
import type { AdmitDeps } from './trust/admit.ts';
import { RemovalSync } from './trust/removal-sync.ts';
import { membershipTiming } from './timing.ts';

const log = createLogger('discovery');

const envSchema = portsSchema.extend({
  CPS_PEP_GROUP: z.ipv4().default('239.192.77.1'),
  CPS_PEP_PORT: z.coerce.number().int().min(1).max(65535).default(47777),
  // Loopback by default: one node. On a LAN, the host's LAN address.
  CPS_PEP_INTERFACE: z.ipv4().default('127.0.0.1'),
  CPS_DATA_DIR: dataDirVar,
  // Default: the node id this node's certificate names (cps up made it from the host name).
  CPS_NODE_ID: nodeIdSchema.optional(),
  CPS_ADVERTISE_ADDRESS: z.string().regex(/^[A-Za-z0-9.:-]{1,64}$/).default('127.0.0.1'),
  CPS_CLUSTER_KEY: z.string().min(16, 'use at least 16 characters (e.g. `openssl rand -hex 32`)').optional(),
  CPS_PEP_INSECURE: z.enum(['0', '1']).default('0'),
  CPS_PEP_ACK_DELAY_MAX_MS: z.coerce.number().int().min(0).max(1000).default(50),
  CPS_PEP_HOLD_MS: z.coerce.number().int().min(100).max(600_000).default(5_000),
  CPS_PEP_HELLO_MS: z.coerce.number().int().min(0).max(60_000).default(1_000),
  // Clock skew tolerated between peers (and how long nonces are remembered); keep clocks in NTP sync.
  // Seed mode for networks that block multicast (docs/pep.md §1): "10.0.0.2:47777,10.0.0.3".
  CPS_PEP_SEEDS: z.string().max(4096).default(''),
  // Default: on, unless seeds are given. Seeds and multicast together are refused (pick one).
  CPS_PEP_MULTICAST: z.enum(['0', '1']).optional(),
  // How often the provisioner's capacity is re-read in the background (PEP answers from the cache).
  CPS_PEP_CAPACITY_REFRESH_MS: z.coerce.number().int().min(50).max(10_000).default(500),
  CPS_PEP_REPLAY_WINDOW_MS: z.coerce.number().int().min(1_000).max(600_000).default(30_000),
  // SO_RCVBUF of the PEP socket; Linux caps it at net.core.rmem_max (logged, and on /metrics).
  CPS_PEP_RECV_BUFFER_KIB: z.coerce.number().int().min(16).max(1_048_576).default(4096),
  // How long a head claim (PUT /head) lasts unless the coordinator PUTs it again: a coordinator
  // killed without a DELETE stops being announced after this.
  CPS_HEAD_CLAIM_TTL_MS: z.coerce.number().int().min(1_000).max(600_000).default(DEFAULT_HEAD_CLAIM_TTL_MS),
});

function authFrom(c: z.infer<typeof envSchema>): PepAuth {
  if (c.CPS_CLUSTER_KEY) return { kind: 'hmac', key: Buffer.from(c.CPS_CLUSTER_KEY, 'utf8') };
  if (c.CPS_PEP_INSECURE === '1') {
    log.warn('PEP runs WITHOUT authentication (CPS_PEP_INSECURE=1): any host on the segment can place or hijack tasks');
    return { kind: 'insecure' };
  }
  throw new Error('invalid configuration:\n  CPS_CLUSTER_KEY: required (the shared PEP key of the cluster); for a dev node without one, set CPS_PEP_INSECURE=1');
}

async function main() {
  const config = loadConfig(envSchema);
  const auth = authFrom(config);
  const ports = portsFrom(config);
  const dataDir = resolve(config.CPS_DATA_DIR);
  const trust = loadTrust(dataDir, { log });
  const nodeId = config.CPS_NODE_ID ?? trust.identity.nodeId;
  if (nodeId !== trust.identity.nodeId) {
    throw new Error(`invalid configuration:\n  CPS_NODE_ID: is ${nodeId}, but this node's certificate (${trustLayout(dataDir).nodeCert}) names ${trust.identity.nodeId}`);
  }
  const fetch = memberFetch(trust.tls);
  const metrics = new Metrics();
  const view = provisionerView(provisionerClient({ baseUrl: serviceUrl('127.0.0.1', ports.provisioner), fetch }));
  // Free disk is storage's (it enforces it on PUT /disks); storage also says which images are here.
  const storage = storageView(storageClient({ baseUrl: serviceUrl('127.0.0.1', ports.storage), fetch }));
  const provisioner = provisionerCache({ ...view, storage, log, refreshMs: config.CPS_PEP_CAPACITY_REFRESH_MS });
  metrics.gauge('pep_provisioner_view_age_ms', 'Age of the cached provisioner view (-1: none yet)', provisioner.ageMs);
  const seeds = parseSeeds(config.CPS_PEP_SEEDS, config.CPS_PEP_PORT);
  const multicast = (config.CPS_PEP_MULTICAST ?? (seeds.length ? '0' : '1')) === '1';
  if (multicast && seeds.length) throw new Error('invalid configuration:\n  CPS_PEP_SEEDS: seeds are for networks without multicast; unset CPS_PEP_MULTICAST or set it to 0');
  const membership = new Membership(nodeId, Date.now, membershipTiming(config.CPS_PEP_HELLO_MS));
  const pep = { port: config.CPS_PEP_PORT, interfaceAddress: config.CPS_PEP_INTERFACE, log, recvBufferBytes: config.CPS_PEP_RECV_BUFFER_KIB * 1024, metrics };
  const socket = multicast ? await udpMulticastTransport({ ...pep, group: config.CPS_PEP_GROUP }) : await udpUnicastTransport(pep);
  const transport = fanoutTransport(socket, {
    multicast,
    self: { address: config.CPS_PEP_INTERFACE, port: config.CPS_PEP_PORT },
    seeds,
    peers: () => membership.unicastTargets(),
  });
  const endpoint = new PepEndpoint({ transport, auth, nodeId, metrics, log, replayWindowMs: config.CPS_PEP_REPLAY_WINDOW_MS });
  const self = createSelf({ nodeId, address: config.CPS_ADVERTISE_ADDRESS, ports, capacity: provisioner.capacity });
  const layout = trustLayout(dataDir);
  const removals = new RemovalSync({
    trust,
    path: layout.removals,
    nodeId,
    peers: () => membership.list(),
    client: (p) => discoveryClient({ baseUrl: serviceUrl(p.address, p.ports.discovery), fetch }),
    now: () => new Date(),
    log,
  });
  const head = new HeadClaim({ now: Date.now, ttlMs: config.CPS_HEAD_CLAIM_TTL_MS, log });
  const hello = startMembership({
    endpoint,
    membership,
    self,
    log,
    intervalMs: config.CPS_PEP_HELLO_MS,
    head,
    removalsDigest: () => removals.digest(),
    onRemovalsDigest: (node, digest) => removals.heard(node, digest),
  });
  // Which alive peers hold an uploaded image this node lacks (its storage then fetches it first).
  const images = peerImages({ peers: () => membership.list(), storage: (p) => storageClient({ baseUrl: serviceUrl(p.address, p.ports.storage), fetch }), now: Date.now, log });
  const responder = createResponder({
    endpoint,
    metrics,
    log,
    provisioner: provisioner.snapshot,
    onChosen: provisioner.invalidate,
    self: self.base,
    holdMs: config.CPS_PEP_HOLD_MS,
    ackDelayMaxMs: config.CPS_PEP_ACK_DELAY_MAX_MS,
    canFetchImage: images.canFetch,
    imageHere: async (sha) => (await storage.images()).has(sha),
  });
  const publisher = createPublisher({ endpoint, metrics, log, describePeers: () => membership.describe() });

  const tokens = new JoinTokens(layout.joinTokens, () => trust.identity.caSha256, () => new Date());
  const admitDeps: AdmitDeps = {
    tokens,
    ca: () => loadCa(dataDir),
    pepKey: () => {
      // A cluster of several nodes needs the PEP key; a dev node without one admits no one.
      if (!config.CPS_CLUSTER_KEY) throw new ProblemError('join-refused', 'this node runs PEP without a key (CPS_PEP_INSECURE=1): it cannot admit other nodes', { reason: 'insecure' });
      return config.CPS_CLUSTER_KEY;
    },
    pep: { group: config.CPS_PEP_GROUP, port: config.CPS_PEP_PORT, multicast, ...(seeds.length ? { seeds: config.CPS_PEP_SEEDS } : {}) },
    self: () => self.info(),
    taken: (id) => id === nodeId || membership.list().some((p) => p.nodeId === id && p.state === 'alive'),
    removals: () => trust.removals(),
    now: () => new Date(),
    log,
  };
  const trustDeps = { admit: admitDeps, tokens, removals, joinAddress: () => ({ address: config.CPS_ADVERTISE_ADDRESS, port: ports.discovery }) };
  const app = createApp({ self, membership, publisher, metrics, log, head, trust: trustDeps });
  const served = await serveApp(app, { port: ports.discovery, log, tls: trust.tls, publicRoutes: publicRoutesOfFile(specFiles.discovery) });
  log.info(
    { nodeId, address: config.CPS_ADVERTISE_ADDRESS, multicast, group: multicast ? config.CPS_PEP_GROUP : undefined, seeds, pepPort: config.CPS_PEP_PORT },
    'discovery ready',
  );

  onShutdown(log, async () => {
    hello.stop();
    trust.stop();
    responder.close();
    provisioner.close();
    await served.close();
    await transport.close();
  });
}

main().catch((err: Error) => {
  // Configuration and bind errors: one clear line, then a non-zero exit.
  log.fatal({ err: { message: err.message, code: (err as NodeJS.ErrnoException).code } }, `discovery cannot start: ${err.message}`);
  process.exit(1);
});
