import type { DiscoveryClient, DiscoverySchemas, StorageClient, StorageSchemas } from '@cps/openapi';
import { ProblemError, problemTypeUri, type Logger } from '@cps/common';
import { consoleUrl, type ClientsFor, type NodeAddress, type NodeClients } from './clients.ts';
import type { Problem, TaskPatch, Tasks } from './tasks/tasks.ts';
import type { Task } from './tasks/store.ts';
import { call, UpstreamError, upstreamProblem, type UpstreamFailure } from './upstream.ts';
import { Dispatcher, realTimers, type Timers, type TryOutcome } from './queue/dispatcher.ts';
import { TaskQueue, type Waiting } from './queue/queue.ts';
import type { PeerCapacity } from './queue/reason.ts';
import { Readable } from 'node:stream';
import { disksRequest, vmSpec } from './tasks/guest-spec.ts';
import { untilRunning } from './tasks/until-running.ts';
import type { BootstrapArchives } from './uploads/bootstraps.ts';
import type { ImageDigest } from './uploads/image-digests.ts';

type NodeInfo = DiscoverySchemas['NodeInfo'];

/** Whose a task is, for fairness, when it has no owner (made before accounts): one shared user. */
export const sharedOwner = 'everyone';

export interface PlacementOptions {
  /** Nodes tried per task: the first choice and then, once, another (best-effort re-deploy). */
  attempts: number;
  /** How long discovery waits for a first ACK. */
  publishTimeoutMs: number;
  /** Upper bound on any one call to another service. */
  callTimeoutMs: number;
  pollIntervalMs: number;
  /** How long a created guest may take to report `running`. */
  startTimeoutMs: number;
  sleep: (ms: number) => Promise<void>;
  /** While tasks wait, how often the queue looks again at the peers' free capacity. */
  retryMs: number;
  now: () => Date;
  timers: Timers;
}

export interface PlacementDeps extends Partial<PlacementOptions> {
  tasks: Tasks;
  /** This node's discovery: it publishes the task to every peer. */
  discovery: DiscoveryClient;
  clientsFor: ClientsFor;
  log: Logger;
  /** The task's owner, for fairness between users (queue/fairness.ts); default: Task.owner's id. */
  ownerOf?: (task: Task) => string;
  /** This coordinator's node id, written on each guest (placedBy) so a restart can tell its own (reconcile/). */
  coordinatorId?: string;
  /** The bootstrap archives users uploaded (POST /api/bootstraps); a task naming one sends it to its host. */
  bootstraps?: BootstrapArchives;
  /** The SHA-256 PUBLISH names for a task's image (uploads/image-digests.ts); absent: none is named. */
  imageDigest?: ImageDigest;
  /** Whether this coordinator leads the LAN (head/): only the head dispatches the queue. Default: always. */
  isHead?: () => boolean;
}

export const defaultPlacementOptions: PlacementOptions = {
  attempts: 2,
  publishTimeoutMs: 2000,
  callTimeoutMs: 60_000,
  pollIntervalMs: 250,
  startTimeoutMs: 60_000,
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  retryMs: 2000,
  now: () => new Date(),
  timers: realTimers,
};

/** Thrown inside a placement when the user stopped the task meanwhile. */
class Cancelled extends Error {}

/**
 * Turns a pending task into a running guest: publish through discovery, then disks on the chosen
 * node's storage, then the guest on its provisioner, then wait until libvirt says it runs. A failure
 * on a node is cleaned up there and the task is re-deployed once elsewhere (a backup of the first
 * round, else a new publish). A task no peer can take waits in the queue (queued) and is offered a
 * peer again, fairly between users, when capacity may have freed. Stopping tears down the guest,
 * then its disks, and tells discovery to release the host's hold.
 */
export class Placer {
  private readonly o: PlacementOptions;
  /** Placements under way, so a stop can wait for the placement to notice it and clean up. */
  private readonly placing = new Map<string, Promise<void>>();
  private readonly stopping = new Map<string, Promise<void>>();
  /** What each `place()` call waits for: the task runs, waits, or ended. */
  private readonly settles = new Map<string, () => void>();
  private readonly queue = new TaskQueue();
  private readonly dispatcher: Dispatcher;
  private readonly ownerOf: (task: Task) => string;

  constructor(private readonly deps: PlacementDeps) {
    this.o = { ...defaultPlacementOptions, ...definedOnly(deps) };
    this.ownerOf = deps.ownerOf ?? ((t) => t.owner?.id ?? sharedOwner);
    this.dispatcher = new Dispatcher({
      queue: this.queue,
      peers: () => this.peers(),
      place: (w) => this.tryPlace(w),
      waiting: (w, reason) => this.waiting(w.id, reason),
      now: this.o.now,
      timers: this.o.timers,
      retryMs: this.o.retryMs,
      ...(deps.isHead ? { active: deps.isHead } : {}),
    });
  }

  /**
   * Queues a pending task for placement; never rejects (the outcome is the task's state). Resolves
   * when the task runs, waits in the queue (queued), or ended (failed, stopped). A task already
   * `queued` (one a restarted coordinator found in its registry) joins the queue again and it
   * resolves at once; its turn starts anew.
   */
  place(id: string): Promise<void> {
    const t = this.deps.tasks.require(id);
    if ((t.state !== 'pending' && t.state !== 'queued') || this.queue.has(id)) return Promise.resolve();
    const done = t.state === 'queued' ? Promise.resolve() : new Promise<void>((resolve) => this.settles.set(id, resolve));
    const notBefore = t.request.notBefore === undefined ? undefined : Date.parse(t.request.notBefore);
    this.queue.add({
      id,
      owner: this.ownerOf(t),
      need: { vcpus: t.request.vcpus, memoryMiB: t.request.memoryMiB, diskMiB: t.request.diskMiB },
      ...(notBefore === undefined ? {} : { notBefore }),
      since: this.o.now(),
      reason: 'waiting for its turn',
    });
    this.dispatcher.kick();
    return done;
  }

  /** The task as the API shows it: with its place in the queue while it waits. */
  withQueue(task: Task, positions = this.queue.positions()): Task {
    const q = positions.get(task.id);
    return q ? { ...task, queue: q } : task;
  }

  /** Every task as `withQueue` shows it, the queue read once. */
  listWithQueue(list: Task[]): Task[] {
    const positions = this.queue.positions();
    return list.map((t) => this.withQueue(t, positions));
  }

  /** This coordinator's clock, for checking requests (a start time too far ahead). */
  now(): Date {
    return this.o.now();
  }

  /** A peer's capacity changed (discovery's events, queue/peer-events.ts): offer waiting tasks a peer now. */
  retryQueue(): void {
    this.dispatcher.kick();
  }

  /** Stops the queue's retries (on shutdown). */
  close(): void {
    this.dispatcher.close();
  }

  /**
   * Asks a task to stop and answers at once with the task; `done` settles when it is stopped (or
   * failed to stop). Idempotent: a stopped task stays stopped, a stopping one keeps stopping. A task
   * that waits is cancelled: it leaves the queue and is stopped at once.
   */
  stop(id: string): { task: Task; done: Promise<void> } {
    const t = this.deps.tasks.require(id);
    if (t.state === 'stopped') return { task: t, done: Promise.resolve() };
    if (t.state === 'stopping') {
      return { task: t, done: this.stopping.get(id) ?? this.placing.get(id) ?? Promise.resolve() };
    }
    const waited = this.queue.remove(id) !== undefined;
    const task = this.deps.tasks.transition(id, 'stopping', waited ? 'cancel requested' : 'stop requested');
    const inPlacement = this.placing.get(id);
    if (inPlacement) return { task, done: inPlacement };
    if (waited) {
      this.stopped(id, 'cancelled while it waited in the queue');
      return { task, done: Promise.resolve() };
    }
    const done = this.teardown(task)
      .catch((err) => this.crashed(id, err))
      .finally(() => this.stopping.delete(id));
    this.stopping.set(id, done);
    return { task, done };
  }

  /** One try for a task of the queue, picked by the dispatcher. */
  private tryPlace(w: Waiting): TryOutcome | Promise<TryOutcome> {
    const t = this.deps.tasks.get(w.id);
    if (!t || (t.state !== 'pending' && t.state !== 'queued')) return { outcome: 'gone' };
    let decided!: (o: TryOutcome) => void;
    const decision = new Promise<TryOutcome>((resolve) => (decided = resolve));
    let finished!: () => void;
    const tracked = new Promise<void>((resolve) => (finished = resolve));
    this.placing.set(w.id, tracked);
    // run()'s first step (to placing) happens now, before this returns.
    void this.run(w, decided)
      .catch((err) => this.crashed(w.id, err))
      .finally(() => {
        if (this.placing.get(w.id) === tracked) this.placing.delete(w.id);
        decided({ outcome: 'gone' });
        this.settle(w.id);
        finished();
      });
    return decision;
  }

  /** The dispatcher found no room (or it is not time yet): a pending task becomes queued. */
  private waiting(id: string, reason: string): void {
    if (this.deps.tasks.get(id)?.state !== 'pending') return; // already queued: the reason is the queue's
    this.deps.tasks.transition(id, 'queued', reason);
    this.settle(id);
  }

  /** A try found no peer: the task waits on with its turn (a first try makes it queued). */
  private backToQueue(w: Waiting, reason: string, decided: (o: TryOutcome) => void): void {
    this.queue.requeue(w, reason);
    if (this.deps.tasks.get(w.id)?.state === 'placing') this.deps.tasks.transition(w.id, 'queued', reason);
    this.done(w.id);
    decided({ outcome: 'wait' });
  }

  /**
   * A placement's work is over (the task runs, waits or ended): a stop from now on must not wait
   * for it, and `place()` resolves. Called in the same step as the last transition.
   */
  private done(id: string): void {
    this.placing.delete(id);
    this.settle(id);
  }

  private settle(id: string): void {
    this.settles.get(id)?.();
    this.settles.delete(id);
  }

  private async run(w: Waiting, decided: (o: TryOutcome) => void): Promise<void> {
    const { tasks, log } = this.deps;
    const id = w.id;
    const exclude: string[] = [];
    let lastFailure: UpstreamFailure | undefined;
    let spare: NodeAddress[] = [];
    for (let attempt = 1; attempt <= this.o.attempts; attempt++) {
      if (this.cancelled(id)) return this.stopped(id, 'stopped before it was placed');
      let chosen: NodeAddress;
      let backups: NodeAddress[];
      const backup = spare.shift();
      if (backup) {
        // A backup of the first round ACKed this task already: try it before asking everyone again.
        tasks.transition(id, 'placing', `re-deploying on ${backup.nodeId}, a backup, away from ${exclude.join(', ')}`);
        chosen = backup;
        backups = spare;
      } else {
        // A task that waits is published again quietly: a try that finds no room adds no history.
        const queued = tasks.require(id).state === 'queued';
        const task = queued
          ? tasks.require(id)
          : tasks.transition(id, 'placing', attempt === 1 ? 'publishing to the peers' : `re-deploying away from ${exclude.join(', ')}`);
        try {
          ({ chosen, backups } = await this.publish(task, exclude));
        } catch (err) {
          if (!(err instanceof UpstreamError)) throw err;
          if (this.cancelled(id)) return this.stopped(id, 'stopped before it was placed');
          if (!lastFailure && err.failure.type === problemTypeUri('no-capable-node')) {
            return this.backToQueue(w, `no peer took it at the last try (${err.failure.detail})`, decided);
          }
          // A task that already waits keeps waiting through a discovery that is away for a moment.
          if (queued) return this.backToQueue(w, `discovery could not be asked at the last try (${err.failure.detail})`, decided);
          return this.fail(id, this.publishProblem(err.failure, lastFailure));
        }
        if (queued && !this.cancelled(id)) tasks.transition(id, 'placing', `a peer has room: ${chosen.nodeId} answered`);
        spare = backups.filter((b) => !exclude.includes(b.nodeId));
      }
      if (this.cancelled(id)) {
        await this.release(id); // the chosen node holds capacity for a task that will not come
        return this.stopped(id, 'stopped before it was placed');
      }
      const task = tasks.transition(id, 'starting', `placed on ${chosen.nodeId} (${chosen.address})`, { node: chosen, backups });
      decided({ outcome: 'placed', nodeId: chosen.nodeId });

      const clients = this.deps.clientsFor(chosen);
      try {
        await this.startOn(task, chosen, clients);
        tasks.transition(id, 'running', `guest running on ${chosen.nodeId}`, { console: { vncUrl: consoleUrl(chosen, id) } });
        return this.done(id);
      } catch (err) {
        await this.cleanup(id, chosen, clients);
        if (err instanceof Cancelled || this.cancelled(id)) return this.stopped(id, 'stopped while starting');
        if (!(err instanceof UpstreamError)) throw err;
        lastFailure = err.failure;
        exclude.push(chosen.nodeId);
        spare = spare.filter((b) => b.nodeId !== chosen.nodeId);
        log.warn({ taskId: id, node: chosen.nodeId, attempt, failure: err.failure }, 'start failed on node');
      }
    }
    this.fail(id, upstreamProblem(lastFailure!));
  }

  /** This node and every peer not dead, with the free capacity discovery last heard of. */
  private async peers(): Promise<PeerCapacity[]> {
    const { discovery } = this.deps;
    const signal = () => AbortSignal.timeout(Math.min(this.o.callTimeoutMs, 5_000));
    const [self, peers] = await Promise.all([
      call({ service: 'discovery' }, () => discovery.GET('/self', { signal: signal() })),
      call({ service: 'discovery' }, () => discovery.GET('/peers', { signal: signal() })),
    ]);
    return [self, ...peers.items.filter((p) => p.state !== 'dead')];
  }

  private async publish(task: Task, exclude: string[]): Promise<{ chosen: NodeAddress; backups: NodeAddress[] }> {
    const { vcpus, memoryMiB, diskMiB, image } = task.request;
    // An uploaded image is its bytes: only a peer whose storage holds them can build the disk.
    const imageSha256 = await this.deps.imageDigest?.(image);
    const placement = await call({ service: 'discovery' }, () =>
      this.deps.discovery.POST('/publish', {
        body: {
          taskId: task.id,
          requirements: { vcpus, memoryMiB, diskMiB, image, arch: 'x86_64', needsKvm: false, ...(imageSha256 ? { imageSha256 } : {}) },
          timeoutMs: this.o.publishTimeoutMs,
          ...(exclude.length ? { exclude } : {}),
        },
        signal: AbortSignal.timeout(this.o.publishTimeoutMs + this.o.callTimeoutMs),
      }),
    );
    return { chosen: nodeAddress(placement.chosen), backups: placement.backups.map(nodeAddress) };
  }

  /**
   * The bootstrap archive (if any) to the node's storage, then disks, then the guest, then wait
   * until it runs. Throws UpstreamError or Cancelled.
   */
  private async startOn(task: Task, node: NodeAddress, { storage, provisioner }: NodeClients): Promise<void> {
    const id = task.id;
    const where = { nodeId: node.nodeId };
    const checkpoint = () => {
      if (this.cancelled(id)) throw new Cancelled();
    };
    const bootstrap = task.request.bootstrap === undefined ? undefined : await this.sendBootstrap(task.request.bootstrap, node, storage);
    checkpoint();
    const disks = await call({ service: 'storage', ...where }, () =>
      storage.PUT('/disks/{taskId}', {
        params: { path: { taskId: id } },
        body: disksRequest(task.request, bootstrap),
        signal: this.timeout(),
      }),
    );
    // Storage fetched the uploaded image from a peer first (services/storage image-pulls.ts): say so in the history.
    if (disks.imagePull) this.deps.tasks.note(id, `image ${disks.imagePull.imageId} fetched from ${disks.imagePull.fromNode}: ${(disks.imagePull.sizeBytes / 1048576).toFixed(1)} MiB in ${(disks.imagePull.ms / 1000).toFixed(1)} s, verified by SHA-256`);
    checkpoint();
    const vm = await call({ service: 'provisioner', ...where }, () =>
      provisioner.PUT('/vms/{taskId}', {
        params: { path: { taskId: id } },
        body: vmSpec(task, disks, this.deps.coordinatorId),
        signal: this.timeout(),
      }),
    );
    await untilRunning(
      vm,
      () => call({ service: 'provisioner', ...where }, () => provisioner.GET('/vms/{taskId}', { params: { path: { taskId: id } }, signal: this.timeout() })),
      { ...this.o, nodeId: node.nodeId, checkpoint },
    );
  }

  /**
   * Uploads the user's bootstrap archive (kept by this coordinator) to the chosen node's storage,
   * which builds the disk and names it by content: that id, not the coordinator's, goes into the
   * disks request. The archive is streamed, never read whole.
   */
  private async sendBootstrap(id: string, node: NodeAddress, storage: NodeClients['storage']): Promise<string> {
    const archives = this.deps.bootstraps;
    if (!archives?.has(id)) {
      throw new UpstreamError({ service: 'storage', nodeId: node.nodeId, type: problemTypeUri('not-found'), status: 404, detail: `the bootstrap files ${id} are no longer kept by this coordinator` });
    }
    const made = await call<StorageSchemas['Bootstrap']>({ service: 'storage', nodeId: node.nodeId }, () =>
      storage.POST('/bootstraps', {
        body: Readable.toWeb(archives.open(id)) as unknown as string,
        bodySerializer: (b: unknown) => b as BodyInit,
        headers: { 'content-type': 'application/x-tar' },
        // A streamed request body needs half duplex in Node's fetch.
        duplex: 'half',
        signal: this.timeout(),
      } as Parameters<StorageClient['POST']>[1] & { duplex: 'half' }),
    );
    return made.id;
  }

  /** Whether this coordinator keeps the bootstrap archive `id` (a submit naming another is refused). */
  hasBootstrap(id: string): boolean {
    return this.deps.bootstraps?.has(id) ?? false;
  }

  /** Best effort: both deletes are idempotent, so they are sent whatever got created. */
  private async cleanup(id: string, node: NodeAddress, { storage, provisioner }: NodeClients): Promise<void> {
    const where = { nodeId: node.nodeId };
    const path = { params: { path: { taskId: id } }, signal: this.timeout() };
    for (const [service, del] of [
      ['provisioner', () => provisioner.DELETE('/vms/{taskId}', path)],
      ['storage', () => storage.DELETE('/disks/{taskId}', path)],
    ] as const) {
      try {
        await call({ service, ...where }, del);
      } catch (err) {
        this.deps.log.warn({ taskId: id, node: node.nodeId, err: (err as Error).message }, `cleanup: ${service} delete failed`);
      }
    }
    await this.release(id);
  }

  /**
   * The guest is gone: discovery RELEASEs the hold its host keeps for the task, so the slot is
   * free for the next task at once rather than when the hold lapses. Best effort: the host also
   * drops the hold once its provisioner has listed the guest (docs/pep.md).
   */
  private async release(id: string): Promise<void> {
    try {
      await call({ service: 'discovery' }, () =>
        this.deps.discovery.POST('/release/{taskId}', { params: { path: { taskId: id } }, signal: AbortSignal.timeout(Math.min(this.o.callTimeoutMs, 5_000)) }),
      );
    } catch (err) {
      this.deps.log.warn({ taskId: id, err: (err as Error).message }, 'discovery could not release the hold');
    }
  }

  /** A deliberate stop: the guest goes first, then its disks; a refusal leaves the task failed. */
  private async teardown(task: Task): Promise<void> {
    const id = task.id;
    const node = task.node?.ports ? (task.node as NodeAddress) : undefined;
    if (node) {
      const { storage, provisioner } = this.deps.clientsFor(node);
      const where = { nodeId: node.nodeId };
      const path = { params: { path: { taskId: id } }, signal: this.timeout() };
      try {
        await call({ service: 'provisioner', ...where }, () => provisioner.DELETE('/vms/{taskId}', path));
        // With keepCopy, storage makes the compressed copy before it answers.
        await call({ service: 'storage', ...where }, () => storage.DELETE('/disks/{taskId}', path));
      } catch (err) {
        if (!(err instanceof UpstreamError)) throw err;
        return this.fail(id, upstreamProblem(err.failure, ' (stop again to retry)'));
      }
      await this.release(id);
      if (task.request.keepCopy) {
        const download = await this.keptCopy(id, node, storage);
        return this.stopped(id, download ? `guest destroyed on ${node.nodeId}; a compressed copy of its disks is kept there until ${download.expiresAt}` : `guest destroyed and disks discarded on ${node.nodeId}; no copy was kept (see the coordinator's log)`, download ? { download } : {});
      }
    }
    this.stopped(id, node ? `guest destroyed and disks discarded on ${node.nodeId}` : 'nothing was running');
  }

  /** Where storage kept the copy of a task's disks, or undefined (logged) when it did not say. */
  private async keptCopy(id: string, node: NodeAddress, storage: NodeClients['storage']): Promise<NonNullable<Task['download']> | undefined> {
    try {
      const exp = await call({ service: 'storage', nodeId: node.nodeId }, () =>
        storage.GET('/exports/{taskId}', { params: { path: { taskId: id } }, signal: this.timeout() }),
      );
      return { nodeId: node.nodeId, files: exp.files.map((f) => ({ name: f.name, sizeBytes: f.sizeBytes, sha256: f.sha256 })), expiresAt: exp.expiresAt };
    } catch (err) {
      this.deps.log.warn({ taskId: id, node: node.nodeId, err: (err as Error).message }, 'the kept copy of the disks is not listed');
      return undefined;
    }
  }

  private publishProblem(f: UpstreamFailure, earlier: UpstreamFailure | undefined): Problem {
    if (f.type !== problemTypeUri('no-capable-node')) return upstreamProblem(f);
    if (earlier) return upstreamProblem(earlier, '; no other node could take the task');
    return new ProblemError('no-capable-node', `no peer can host this task: ${f.detail}`).toBody() as Problem;
  }

  private cancelled(id: string): boolean {
    return this.deps.tasks.get(id)?.state === 'stopping';
  }

  private timeout(): AbortSignal {
    return AbortSignal.timeout(this.o.callTimeoutMs);
  }

  /** The task ended: a waiting one may have its capacity now. */
  private stopped(id: string, message: string, patch: TaskPatch = {}): void {
    this.deps.tasks.transition(id, 'stopped', message, patch);
    this.done(id);
    this.dispatcher.kick();
  }

  private fail(id: string, error: Problem): void {
    this.queue.remove(id);
    this.deps.tasks.transition(id, 'failed', error.detail ?? error.title, { error });
    this.done(id);
    this.dispatcher.kick();
  }

  /** A bug (an illegal transition, a throw we did not expect): log it and leave the task failed. */
  private crashed(id: string, err: unknown): void {
    this.deps.log.error({ err, taskId: id }, 'placement crashed');
    try {
      const t = this.deps.tasks.get(id);
      if (t && t.state !== 'failed' && t.state !== 'stopped') {
        this.fail(id, new ProblemError('internal', 'the coordinator hit an unexpected error; see its log').toBody() as Problem);
      }
    } catch (e) {
      this.deps.log.error({ err: e, taskId: id }, 'could not mark the task failed');
    }
  }
}

function nodeAddress(n: NodeInfo): NodeAddress {
  return { nodeId: n.nodeId, address: n.address, ports: { ...n.ports } };
}

function definedOnly(o: Partial<PlacementOptions>): Partial<PlacementOptions> {
  const keys = Object.keys(defaultPlacementOptions) as (keyof PlacementOptions)[];
  return Object.fromEntries(keys.filter((k) => o[k] !== undefined).map((k) => [k, o[k]]));
}
