import { Hono, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { ProblemError } from '@cps/common';
import type { CoordinatorSchemas } from '@cps/openapi';
import type { ClientsFor, NodeAddress } from '../clients.ts';
import type { Placer } from '../placement.ts';
import type { Tasks } from '../tasks/tasks.ts';
import { call, UpstreamError } from '../upstream.ts';
import type { AuthEnv } from '../accounts/authenticate.ts';
import { checkQuota } from '../accounts/quota.ts';
import { withGuestAddresses } from '../tasks/guest-addresses.ts';
import { ownerView, usageOf, visibleTasks } from '../tasks/ownership.ts';
import { contractBody } from './body.ts';
import type { CoordinatorContract } from './contract.ts';
import { ownedTaskOf } from './owned-task.ts';
import { fingerprintOf, idempotencyKey, replayOf, type IdempotencyKeys } from './idempotency.ts';

type TaskRequest = CoordinatorSchemas['TaskRequest'];
type Task = CoordinatorSchemas['Task'];

export interface TaskRoutesDeps {
  contract: CoordinatorContract;
  tasks: Tasks;
  placer: Placer;
  clientsFor: ClientsFor;
  /** Idempotency-Key memory (the registry's); without it the header is checked and otherwise ignored. */
  idempotency?: IdempotencyKeys;
  /** Who may call the task routes (requireUser() in a node with accounts); absent: anyone. */
  signedIn?: MiddlewareHandler<AuthEnv>;
}

/** Big enough for any valid request (64 KiB of cloud-init user-data, JSON-escaped, and the rest); anything larger is refused unread. */
const maxBodyBytes = 192 * 1024;

/** How far ahead a run may be reserved (TaskRequest.notBefore). */
const maxReserveAheadMs = 366 * 24 * 3600 * 1000;

/** A start time the contract's format accepts but the queue cannot honour is refused, naming it. */
function checkNotBefore(notBefore: string | undefined, now: Date): void {
  if (notBefore === undefined) return;
  if (Date.parse(notBefore) - now.getTime() > maxReserveAheadMs) {
    throw new ProblemError('validation-failed', `notBefore is more than a year ahead (${notBefore}); reserve at most 366 days in advance`, {
      errors: [{ location: 'body/notBefore', message: 'must be at most 366 days from now' }],
    });
  }
}

export function taskRoutes({ contract, tasks, placer, clientsFor, idempotency, signedIn }: TaskRoutesDeps) {
  const app = new Hono<AuthEnv>();
  if (signedIn) app.use('/api/tasks', signedIn).use('/api/tasks/*', signedIn);
  const ownedTask = ownedTaskOf(contract, tasks);

  app.get('/api/tasks', (c) => c.json({ items: placer.listWithQueue(visibleTasks(c.var.user, tasks.list())) }));

  app.post(
    '/api/tasks',
    bodyLimit({
      maxSize: maxBodyBytes,
      onError: () => {
        throw new ProblemError('payload-too-large', `the body exceeds ${maxBodyBytes} bytes`);
      },
    }),
    async (c) => {
      const key = idempotencyKey(c.req.header('idempotency-key'));
      const req = await contractBody<TaskRequest>(c, contract, 'TaskRequest');
      checkNotBefore(req.notBefore, placer.now());
      if (req.bootstrap !== undefined && !placer.hasBootstrap(req.bootstrap)) {
        throw new ProblemError('unknown-bootstrap', `there are no bootstrap files ${req.bootstrap} on this coordinator: upload them first (POST /api/bootstraps) and use the id it answers`, {
          errors: [{ location: 'body/bootstrap', message: 'must be the id of an uploaded bootstrap' }],
        });
      }
      const request: Task['request'] = {
        vcpus: req.vcpus ?? 1,
        memoryMiB: req.memoryMiB ?? 256,
        diskMiB: req.diskMiB ?? 64,
        image: req.image ?? 'tiny',
        // Kept as one instant in UTC, whatever offset the request wrote it with.
        ...(req.notBefore === undefined ? {} : { notBefore: new Date(req.notBefore).toISOString() }),
        ...(req.network === undefined ? {} : { network: req.network }),
        ...(req.checkpointEveryMin === undefined ? {} : { checkpointEveryMin: req.checkpointEveryMin }),
        ...(req.keepCopy ? { keepCopy: true } : {}),
        ...(req.userData === undefined ? {} : { userData: req.userData }),
        ...(req.bootstrap === undefined ? {} : { bootstrap: req.bootstrap }),
      };
      // Keys are per user: a key needs a caller who signed in (token or session).
      const user = c.var.user;
      if (key && idempotency && !user) {
        throw new ProblemError('authentication-required', 'an Idempotency-Key is remembered per user: sign in (a session) or send an API token (Authorization: Bearer cps_...)');
      }
      const fingerprint = fingerprintOf({ name: req.name, ...request });
      if (key && idempotency && user) {
        const earlier = replayOf(idempotency, user.id, key, fingerprint);
        if (earlier) return c.json(placer.withQueue(tasks.require(earlier)), 200, { Location: `/api/tasks/${earlier}` });
      }
      if (user) {
        // What the user holds counts only tasks that have not ended; a replay above is never refused.
        const over = checkQuota(user.quota, usageOf(user.id, tasks.list()), request);
        if (over) throw over;
      }
      const task = tasks.create(req.name, request, user ? ownerView(user) : undefined);
      if (key && idempotency && user) idempotency.record(user.id, key, fingerprint, task.id);
      void placer.place(task.id);
      return c.json(placer.withQueue(tasks.require(task.id)), 202, { Location: `/api/tasks/${task.id}` });
    },
  );

  // A running task's guest addresses are asked of its peer on each read (tasks/guest-addresses.ts).
  app.get('/api/tasks/:taskId', async (c) => c.json(await withGuestAddresses(placer.withQueue(ownedTask(c)), clientsFor, () => AbortSignal.timeout(3_000))));

  // A stop of a task that waits cancels it: it leaves the queue. With purge=true, an ended task's
  // record goes (a live one must be stopped first, so no guest is left that no record knows).
  app.delete('/api/tasks/:taskId', (c) => {
    const purge = c.req.query('purge');
    if (purge !== undefined && purge !== 'true' && purge !== 'false') {
      throw new ProblemError('validation-failed', `purge must be true or false (got ${JSON.stringify(purge.slice(0, 40))})`, { errors: [{ location: 'query/purge', message: 'must be true or false' }] });
    }
    const owned = ownedTask(c);
    if (purge === 'true') {
      if (owned.state !== 'stopped' && owned.state !== 'failed') {
        throw new ProblemError('conflict', `task ${owned.id} is ${owned.state}: stop it first, then delete its record`, { state: owned.state });
      }
      tasks.remove(owned.id);
      return c.body(null, 204);
    }
    const { task } = placer.stop(owned.id);
    return c.json(task, 202);
  });

  app.get('/api/tasks/:taskId/serial', async (c) => {
    const task = ownedTask(c);
    if (!task.node?.ports) throw new ProblemError('conflict', `task ${task.id} has no guest yet (it is ${task.state})`);
    const node = task.node as NodeAddress;
    try {
      const text = await call({ service: 'provisioner', nodeId: node.nodeId }, () =>
        clientsFor(node).provisioner.GET('/vms/{taskId}/serial', {
          params: { path: { taskId: task.id } },
          parseAs: 'text',
          signal: AbortSignal.timeout(10_000),
        }),
      );
      return c.text(text ?? '');
    } catch (err) {
      if (!(err instanceof UpstreamError)) throw err;
      if (err.failure.status === 404) throw new ProblemError('not-found', `no serial log for task ${task.id}: ${err.failure.detail}`);
      throw new ProblemError('upstream-failed', err.message);
    }
  });

  return app;
}
