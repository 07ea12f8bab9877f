import { z } from 'zod';
import { publicDoorOptions, publicDoorVars } from '@cps/common';
import { hostname } from 'node:os';
import { bootstrapArchiveDir, createLogger, dataDirVar, doorLists, loadConfig, memberFetch, onShutdown, portsFrom, portsSchema, publicHostsVar, publicRoutesOfFile, serveApp, serviceUrl } from '@cps/common';
import { discoveryClient, provisionerClient, specFiles, storageClient } from '@cps/openapi';
import { consoleTicketKey, loadCa, loadTrustOrExit } from '@cps/trust';
import type { Server } from 'node:http';
import { memberClientTls } from '@cps/common';
import { ConsoleTickets } from './console/tickets.ts';
import { attachConsoleUpgrades } from './console/upgrade.ts';
import { createApp } from './app.ts';
import { clientsOverTls } from './clients.ts';
import { Accounts } from './accounts/accounts.ts';
import { SignInLimiter } from './accounts/sign-in-limiter.ts';
import { Placer } from './placement.ts';
import { openRegistry, registryPath } from './registry/db.ts';
import { headClient, replicaMaxBytes } from './replica/head-client.ts';
import { RegistryReplica } from './replica/registry-replica.ts';
import { realTimers } from './queue/dispatcher.ts';
import { Orphans } from './reconcile/orphans.ts';
import { Reconciler } from './reconcile/reconcile.ts';
import { recoverAfterRestart } from './tasks/recover.ts';
import { Tasks } from './tasks/tasks.ts';
import { TaskActions } from './tasks/actions.ts';
import { HostEvents } from './tasks/host-events.ts';
import { BootstrapUploads } from './uploads/bootstrap-upload.ts';
import { BootstrapArchiveStore } from './uploads/bootstraps.ts';
import { imageDigests } from './uploads/image-digests.ts';
import { PeerWatch } from './queue/peer-events.ts';
import { headDnsEnv, headDnsFrom } from '@cps/head';
import { headRoleFor } from './head/assemble.ts';
import { headDiscoveryOf } from './head/discovery-adapter.ts';
import { HeadDuties } from './head/head-duties.ts';
import { forwardToHead } from './head/forward.ts';
import { answeredLocally } from './head/head-routes.ts';
import { announceEpoch } from './head/announce-epoch.ts';
import { call } from './upstream.ts';

const config = loadConfig(
  portsSchema.extend({
    // Plain HTTP from loopback only, and the admin's certificate for the public port (CPS_PUBLIC_TLS_*).
    ...publicDoorVars,
    CPS_DATA_DIR: dataDirVar,
    CPS_ADVERTISE_ADDRESS: z.string().regex(/^[A-Za-z0-9.:-]{1,64}$/).default('127.0.0.1'),
    // More names users reach this node by (the head's DNS name): the Host and Origin allow-lists.
    CPS_PUBLIC_HOSTS: publicHostsVar,
    /** How long discovery waits for the first ACK of a task's PUBLISH. */
    CPS_PUBLISH_TIMEOUT_MS: z.coerce.number().int().min(50).max(60_000).default(5000),
    /** How long a created guest may take to report running (TCG guests are slow). */
    CPS_START_TIMEOUT_MS: z.coerce.number().int().min(1000).max(600_000).default(120_000),
    /** The largest bootstrap archive a user may upload (POST /api/bootstraps), and its most files. */
    CPS_BOOTSTRAP_MAX_MIB: z.coerce.number().int().min(1).max(4096).default(64),
    CPS_BOOTSTRAP_MAX_FILES: z.coerce.number().int().min(1).max(10_000).default(1000),
  }),
);
const ports = portsFrom(config);
const log = createLogger('coordinator');
const trust = loadTrustOrExit(config.CPS_DATA_DIR, { log });
const fetch = memberFetch(trust.tls);
// The head: one coordinator leads the LAN (docs/head.md); a follower forwards /api/* to it.
const head = (() => {
  try {
    return headRoleFor({
      self: { nodeId: trust.identity.nodeId, address: config.CPS_ADVERTISE_ADDRESS, ports },
      discovery: headDiscoveryOf(discoveryClient({ baseUrl: serviceUrl('127.0.0.1', ports.discovery), fetch })),
      dns: headDnsFrom(loadConfig(headDnsEnv)),
      dataDir: config.CPS_DATA_DIR,
      now: () => Date.now(),
      timers: realTimers,
      log,
      hostFence: async () => (await call({ service: 'provisioner' }, () => provisionerClient({ baseUrl: serviceUrl('127.0.0.1', ports.provisioner), fetch }).GET('/fence', { signal: AbortSignal.timeout(3_000) }))).highestEpoch,
    });
  } catch (err) {
    log.fatal({ err }, (err as Error).message);
    process.exit(1);
  }
})();
// Every command to a host carries this head's epoch (CPS-Epoch/CPS-Head), read when it is sent:
// a host that has seen a newer head refuses it.
const clientsFor = clientsOverTls(fetch, () => head.commandEpoch());

const now = () => new Date();
// Tasks, users, tokens and sessions outlive the process (and a kill -9): SQLite in the data dir.
const registry = (() => {
  try {
    return openRegistry(registryPath(config.CPS_DATA_DIR), { now });
  } catch (err) {
    log.fatal({ err }, (err as Error).message);
    process.exit(1);
  }
})();
const accounts = new Accounts({ store: registry.accounts, now });

// This node's own services are always on loopback; only the chosen peers are reached by address.
const tasks = new Tasks({ store: registry.tasks, now });
tasks.subscribe((t) => {
  const last = t.history.at(-1);
  log.info({ taskId: t.id, state: t.state, node: t.node?.nodeId, detail: last?.message }, 'task');
});
// Users' bootstrap archives, kept here and sent to the storage of the node a task is placed on.
const bootstrapArchives = new BootstrapArchiveStore(bootstrapArchiveDir(config.CPS_DATA_DIR));
const localStorage = storageClient({ baseUrl: serviceUrl('127.0.0.1', ports.storage), fetch });
const placer = new Placer({
  tasks,
  discovery: discoveryClient({ baseUrl: serviceUrl('127.0.0.1', ports.discovery), fetch }),
  clientsFor,
  coordinatorId: trust.identity.nodeId,
  bootstraps: bootstrapArchives,
  imageDigest: imageDigests(localStorage),
  log,
  publishTimeoutMs: config.CPS_PUBLISH_TIMEOUT_MS,
  startTimeoutMs: config.CPS_START_TIMEOUT_MS,
  isHead: () => head.isHead(),
});
const orphans = new Orphans(now);
// Only the head acts: on becoming it, what a restart does (recover, a reconcile pass), then its
// loops; a follower's registry (the head's replica) is never placed or reconciled twice.
const duties = new HeadDuties({
  head,
  log,
  start: () => {
    const epoch = head.commandEpoch();
    if (epoch) void announceEpoch({ nodes: head.liveNodes(), clientsFor, epoch, log });
    recoverAfterRestart(tasks, placer, log);
    // A peer's capacity changed: waiting tasks are offered a peer at once, not at the next retry.
    const peerWatch = new PeerWatch({ discovery: discoveryClient({ baseUrl: serviceUrl('127.0.0.1', ports.discovery), fetch }), onChange: () => placer.retryQueue(), timers: realTimers, log });
    peerWatch.start();
    // What happens on a task's host unasked (the owner-first policy pauses it, the guest crashes or
    // powers off) shows in the task: each host's provisioner events are followed while it runs a task.
    const hostEvents = new HostEvents({ tasks, clientsFor, stop: (id) => void placer.stop(id), timers: realTimers, log });
    hostEvents.start();
    // What the hosts run is the truth: the guests the registry knows are adopted, vanished ones are
    // lost, and this node's guests no task knows are orphans for an admin (reconcile/).
    const reconciler = new Reconciler({ tasks, placer, discovery: discoveryClient({ baseUrl: serviceUrl('127.0.0.1', ports.discovery), fetch }), clientsFor, coordinatorId: trust.identity.nodeId, orphans, log, timers: realTimers });
    void reconciler.pass();
    placer.retryQueue();
    return {
      stop: () => {
        hostEvents.close();
        peerWatch.close();
        reconciler.close();
      },
    };
  },
});
// The registry outlives the head: a follower pulls the head's registry every second into its own
// (replica/), so when it leads nothing is lost; the head answers GET /internal/registry.
const replica = new RegistryReplica({ store: registry.replica, headView: head, pull: headClient({ fetch, maxBytes: replicaMaxBytes }), timers: realTimers, now, log });
replica.start();
duties.start();
head.start();
// The consoles on the portal's origin: tickets signed with the key every member's gateway derives
// from the CA key, pages and sockets carried to this node's gateway over mutual TLS.
const consoleGateway = { base: serviceUrl('127.0.0.1', ports.vncGateway), fetch, tls: memberClientTls(trust.tls) };
const app = createApp({
  log,
  consoles: { tickets: new ConsoleTickets({ key: consoleTicketKey(loadCa(config.CPS_DATA_DIR).keyPem), now }), gateway: consoleGateway },
  tasks,
  placer,
  localStorage,
  // Suspend, resume, checkpoint and restart on the task's host; a restarted guest may boot as slowly as a new one.
  actions: new TaskActions({ tasks, clientsFor, log, coordinatorId: trust.identity.nodeId, startTimeoutMs: config.CPS_START_TIMEOUT_MS }),
  bootstraps: new BootstrapUploads({ archives: bootstrapArchives, storage: localStorage, maxBytes: config.CPS_BOOTSTRAP_MAX_MIB * 1024 * 1024, maxFiles: config.CPS_BOOTSTRAP_MAX_FILES }),
  clientsFor,
  accounts,
  signInLimiter: new SignInLimiter(now),
  idempotency: registry.idempotency,
  registryReplica: { replica: registry.replica, headView: head, maxBytes: replicaMaxBytes },
  orphans,
  discovery: discoveryClient({ baseUrl: serviceUrl('127.0.0.1', ports.discovery), fetch }),
  // /api/head says how fresh this node's copy of the registry is (replica/).
  head: { info: () => ({ ...head.info(), ...(replica.lastApplied() ? { replica: replica.lastApplied()! } : {}) }), forward: forwardToHead({ head, self: trust.identity.nodeId, fetch, log, timers: realTimers, local: answeredLocally }) },
  door: doorLists({ port: ports.coordinator, advertiseAddress: config.CPS_ADVERTISE_ADDRESS, nodeId: trust.identity.nodeId, hostName: hostname(), publicHosts: config.CPS_PUBLIC_HOSTS }),
});

// The public API and portal: plain HTTP or HTTPS with the node certificate on one port; every
// route of the contract says why it is public (users authenticate in the app).
const served = await serveApp(app, { port: ports.coordinator, log, tls: trust.tls, publicRoutes: publicRoutesOfFile(specFiles.coordinator), ...publicDoorOptions(config) }, (server, gated) => {
  // Node cuts any request after 5 minutes (requestTimeout); an image upload over a slow link takes
  // longer. headersTimeout still bounds a client that never finishes its headers.
  server.requestTimeout = 0;
  // Console WebSockets go through the door and the app, then on to this node's gateway.
  attachConsoleUpgrades(server as Server, gated, { gateway: consoleGateway, log });
});
onShutdown(log, async () => {
  // The lease handed back first: the next head claims after the drift margin, not a whole lease.
  await head.stop();
  duties.close();
  replica.close();
  placer.close();
  trust.stop();
  await served.close();
  registry.close();
});
