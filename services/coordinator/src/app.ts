import { Hono, type MiddlewareHandler } from 'hono';
import { healthRoutes, loopbackDoor, problemErrorHandler, problemNotFound, publicDoor, type DoorLists, type Logger } from '@cps/common';
import { specFiles, type CoordinatorSchemas, type DiscoveryClient, type StorageClient } from '@cps/openapi';
import type { Accounts } from './accounts/accounts.ts';
import { authenticate, requireAdmin, requireUser } from './accounts/authenticate.ts';
import { requireUserOrMemberRead } from './accounts/member-read.ts';
import { SignInLimiter } from './accounts/sign-in-limiter.ts';
import { accountRoutes } from './api/accounts.ts';
import { coordinatorContract } from './api/contract.ts';
import { eventRoutes } from './api/events.ts';
import type { IdempotencyKeys } from './api/idempotency.ts';
import { imageRoutes } from './api/images.ts';
import { imageBuildRoutes } from './api/image-builds.ts';
import { uploadRoutes } from './api/uploads.ts';
import { docsRoutes } from './api/docs.ts';
import { orphanRoutes } from './api/orphans.ts';
import { joinTokenRoutes } from './api/join-tokens.ts';
import { peerRoutes } from './api/peers.ts';
import type { Orphans } from './reconcile/orphans.ts';
import { taskRoutes } from './api/tasks.ts';
import { taskActionRoutes } from './api/task-actions.ts';
import { downloadRoutes } from './api/download.ts';
import { TaskActions } from './tasks/actions.ts';
import type { ClientsFor } from './clients.ts';
import type { Placer } from './placement.ts';
import { portalRoutes } from './portal/routes.ts';
import type { Tasks } from './tasks/tasks.ts';
import { consoleRoutes } from './api/console.ts';
import { replicaRoutes, type ReplicaRoutesDeps } from './api/replica.ts';
import type { LocalGateway } from './console/local-gateway.ts';
import type { ConsoleTickets } from './console/tickets.ts';
import type { BootstrapUploads } from './uploads/bootstrap-upload.ts';
import { forwardedBy } from './head/forwarded.ts';
import { headRoutes } from './head/head-routes.ts';

export interface AppDeps {
  log: Logger;
  tasks: Tasks;
  placer: Placer;
  /** This node's storage, for the list of images. */
  localStorage: StorageClient;
  /** Clients for the services of the node a task runs on (its serial log). */
  clientsFor: ClientsFor;
  heartbeatMs?: number;
  /**
   * The names and origins this node's coordinator is reached by (`doorLists` with the port,
   * CPS_ADVERTISE_ADDRESS, the node id and CPS_PUBLIC_HOSTS). Default: the loopback names on any port.
   */
  door?: DoorLists;
  /** Users, API tokens and sessions (the registry's store in a node); absent: no account routes. */
  accounts?: Accounts;
  signInLimiter?: SignInLimiter;
  /** Which task each Idempotency-Key made (the registry's). */
  idempotency?: IdempotencyKeys;
  /** The guests the reconcile found that no task knows (reconcile/); absent or without accounts: no orphan routes. */
  orphans?: Orphans;
  /** Users' bootstrap files (POST /api/bootstraps), checked by this node's storage; absent: no such route. */
  bootstraps?: BootstrapUploads;
  /** This node's discovery, for the Peers page and the admin's join tokens; absent: no such routes. */
  discovery?: DiscoveryClient;
  /** Console tickets and this node's vnc-gateway, for the consoles on the portal's origin; absent: no console routes. */
  consoles?: { tickets: ConsoleTickets; gateway: LocalGateway };
  /** Suspend, resume, checkpoint, restart on the task's host (default: made from tasks and clientsFor). */
  actions?: TaskActions;
  /** The head's registry for the followers' replicas (GET /internal/registry, members only); absent: no such route. */
  registryReplica?: ReplicaRoutesDeps;
  /**
   * The head role (head/): GET /api/head, and `forward` (forwardToHead) sends a follower's /api/*
   * to the head. Absent: this coordinator is on its own (tests of one coordinator).
   */
  head?: { info: () => CoordinatorSchemas['HeadInfo']; forward?: MiddlewareHandler };
}

const contract = coordinatorContract;

export function createApp(deps: AppDeps) {
  const app = new Hono();
  app.onError(problemErrorHandler(deps.log));
  app.notFound(problemNotFound);
  // Before every route: the portal and the API are what a browser on the LAN reaches.
  // A request a member forwarded was checked at the follower's door, by the name the user reached.
  const door = publicDoor(deps.door ?? loopbackDoor);
  app.use('*', (c, next) => (forwardedBy(c) ? next() : door(c, next)));
  if (deps.head) {
    app.route('/', headRoutes(deps.head.info));
    // Before authentication: the head authenticates a follower's user.
    if (deps.head.forward) app.use('/api/*', deps.head.forward);
  }
  if (deps.accounts) {
    // Who calls, from a bearer token or the session cookie; the routes decide what that allows.
    app.use('/api/*', authenticate({ accounts: deps.accounts }));
    app.route('/', accountRoutes({ contract, accounts: deps.accounts, limiter: deps.signInLimiter ?? new SignInLimiter(() => new Date()) }));
  }
  if (deps.registryReplica) app.route('/', replicaRoutes(deps.registryReplica));
  app.route('/', healthRoutes('coordinator', async () => ({ tasks: deps.tasks.list().length })));
  app.route('/', portalRoutes());
  app.route('/', docsRoutes());
  // With accounts (every node), the task routes and events need a signed-in user (a member of
  // the cluster may read: the gateway locates tasks); without (placement-only tests), no users.
  const signedIn = deps.accounts ? requireUserOrMemberRead() : undefined;
  // Uploads are writes: a signed-in user, as for a submit.
  app.route('/', imageRoutes({ contract, storage: deps.localStorage, ...(signedIn ? { signedIn } : {}), ...(deps.discovery ? { discovery: deps.discovery, clientsFor: deps.clientsFor } : {}) }));
  // Building an image costs the node minutes of CPU and a download: admins only.
  if (deps.accounts) app.route('/', imageBuildRoutes({ contract, storage: deps.localStorage, admin: requireAdmin() }));
  if (deps.bootstraps) app.route('/', uploadRoutes({ bootstraps: deps.bootstraps, ...(signedIn ? { signedIn } : {}) }));
  app.route('/', taskRoutes({ contract, tasks: deps.tasks, placer: deps.placer, clientsFor: deps.clientsFor, ...(deps.idempotency ? { idempotency: deps.idempotency } : {}), ...(signedIn ? { signedIn } : {}) }));
  app.route('/', eventRoutes(deps.tasks, deps.placer, deps.heartbeatMs, signedIn, contract));
  if (deps.consoles) {
    // The pages and tickets are a signed-in user's; the console sockets need a ticket instead.
    const user = deps.accounts ? [authenticate({ accounts: deps.accounts }), requireUser()] : [];
    app.route('/', consoleRoutes({ contract, tasks: deps.tasks, ...deps.consoles, signedIn: user }));
  }
  const actions = deps.actions ?? new TaskActions({ tasks: deps.tasks, clientsFor: deps.clientsFor, log: deps.log });
  app.route('/', taskActionRoutes({ contract, tasks: deps.tasks, actions, placer: deps.placer, ...(signedIn ? { signedIn } : {}) }));
  app.route('/', downloadRoutes({ contract, tasks: deps.tasks, clientsFor: deps.clientsFor, now: () => deps.placer.now(), ...(signedIn ? { signedIn } : {}) }));
  if (deps.orphans && deps.accounts) app.route('/', orphanRoutes({ contract, orphans: deps.orphans, tasks: deps.tasks, accounts: deps.accounts, clientsFor: deps.clientsFor }));
  if (deps.discovery) {
    // The Peers page is for signed-in users; join tokens admit machines, so admins only.
    app.route('/', peerRoutes({ discovery: deps.discovery, tasks: deps.tasks, ...(deps.accounts ? { signedIn: requireUser() } : {}) }));
    if (deps.accounts) app.route('/', joinTokenRoutes({ contract, discovery: deps.discovery, admin: requireAdmin() }));
  }
  return app;
}
