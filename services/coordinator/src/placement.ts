import type { DiscoveryClient, DiscoverySchemas } from '@cps/openapi';
import { ProblemError, problemTypeUri, type Logger } from '@cps/common';
import { consoleUrl, type ClientsFor, type NodeAddress, type NodeClients } from './clients.ts';
import type { Problem, Tasks } from './tasks/tasks.ts';
import type { Task } from './tasks/store.ts';
import { call, UpstreamError, upstreamProblem, type UpstreamFailure } from './upstream.ts';

type NodeInfo = DiscoverySchemas['NodeInfo'];

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
}

export interface PlacementDeps extends Partial<PlacementOptions> {
  tasks: Tasks;
  /** This node's discovery: it publishes the task to every peer. */
  discovery: DiscoveryClient;
  clientsFor: ClientsFor;
  log: Logger;
}

export const defaultPlacementOptions: PlacementOptions = {
  attempts: 2,
  publishTimeoutMs: 2000,
  callTimeoutMs: 60_000,
  pollIntervalMs: 250,
  startTimeoutMs: 60_000,
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
};

/** Thrown inside a placement when the user stopped the task meanwhile. */
class Cancelled extends Error {}

const guestDead = new Set(['crashed', 'shutoff', 'shutdown']);

/**
 * Turns a pending task into a running guest: publish through discovery, then disks on the chosen
 * node's storage, then the guest on its provisioner, then wait until libvirt says it runs. A failure
 * on a node is cleaned up there and the task is re-deployed once elsewhere. Stopping tears down the
 * guest and then its disks.
 */
export class Placer {
  private readonly o: PlacementOptions;
  /** Placements under way, so a stop can wait for the placement to notice it and clean up. */
  private readonly placing = new Map<string, Promise<void>>();
  private readonly stopping = new Map<string, Promise<void>>();

  constructor(private readonly deps: PlacementDeps) {
    this.o = { ...defaultPlacementOptions, ...definedOnly(deps) };
  }

  /** Places a pending task; never rejects (the outcome is the task's state). */
  place(id: string): Promise<void> {
    const run = this.run(id)
      .catch((err) => this.crashed(id, err))
      .finally(() => this.placing.delete(id));
    this.placing.set(id, run);
    return run;
  }

  /**
   * Asks a task to stop and answers at once with the task; `done` settles when it is stopped (or
   * failed to stop). Idempotent: a stopped task stays stopped, a stopping one keeps stopping.
   */
  stop(id: string): { task: Task; done: Promise<void> } {
    const t = this.deps.tasks.require(id);
    if (t.state === 'stopped') return { task: t, done: Promise.resolve() };
    if (t.state === 'stopping') {
      return { task: t, done: this.stopping.get(id) ?? this.placing.get(id) ?? Promise.resolve() };
    }
    const task = this.deps.tasks.transition(id, 'stopping', 'stop requested');
    const inPlacement = this.placing.get(id);
    if (inPlacement) return { task, done: inPlacement };
    const done = this.teardown(task)
      .catch((err) => this.crashed(id, err))
      .finally(() => this.stopping.delete(id));
    this.stopping.set(id, done);
    return { task, done };
  }

  private async run(id: string): Promise<void> {
    const { tasks, log } = this.deps;
    const exclude: string[] = [];
    let lastFailure: UpstreamFailure | undefined;
    for (let attempt = 1; attempt <= this.o.attempts; attempt++) {
      if (this.cancelled(id)) return this.stopped(id, 'stopped before it was placed');
      const task = tasks.transition(
        id,
        'placing',
        attempt === 1 ? 'publishing to the peers' : `re-deploying away from ${exclude.join(', ')}`,
      );
      let chosen: NodeAddress;
      let backups: NodeAddress[];
      try {
        ({ chosen, backups } = await this.publish(task, exclude));
      } catch (err) {
        if (!(err instanceof UpstreamError)) throw err;
        if (this.cancelled(id)) return this.stopped(id, 'stopped before it was placed');
        return this.fail(id, this.publishProblem(err.failure, lastFailure));
      }
      if (this.cancelled(id)) return this.stopped(id, 'stopped before it was placed');
      tasks.transition(id, 'starting', `placed on ${chosen.nodeId} (${chosen.address})`, { node: chosen, backups });

      const clients = this.deps.clientsFor(chosen);
      try {
        await this.startOn(task, chosen, clients);
        tasks.transition(id, 'running', `guest running on ${chosen.nodeId}`, { console: { vncUrl: consoleUrl(chosen, id) } });
        return;
      } catch (err) {
        await this.cleanup(id, chosen, clients);
        if (err instanceof Cancelled || this.cancelled(id)) return this.stopped(id, 'stopped while starting');
        if (!(err instanceof UpstreamError)) throw err;
        lastFailure = err.failure;
        exclude.push(chosen.nodeId);
        log.warn({ taskId: id, node: chosen.nodeId, attempt, failure: err.failure }, 'start failed on node');
      }
    }
    this.fail(id, upstreamProblem(lastFailure!));
  }

  private async publish(task: Task, exclude: string[]): Promise<{ chosen: NodeAddress; backups: NodeAddress[] }> {
    const { vcpus, memoryMiB, diskMiB, image } = task.request;
    const placement = await call({ service: 'discovery' }, () =>
      this.deps.discovery.POST('/publish', {
        body: {
          taskId: task.id,
          requirements: { vcpus, memoryMiB, diskMiB, image, arch: 'x86_64', needsKvm: false },
          timeoutMs: this.o.publishTimeoutMs,
          ...(exclude.length ? { exclude } : {}),
        },
        signal: AbortSignal.timeout(this.o.publishTimeoutMs + this.o.callTimeoutMs),
      }),
    );
    return { chosen: nodeAddress(placement.chosen), backups: placement.backups.map(nodeAddress) };
  }

  /** Disks, then the guest, then wait until it runs. Throws UpstreamError or Cancelled. */
  private async startOn(task: Task, node: NodeAddress, { storage, provisioner }: NodeClients): Promise<void> {
    const id = task.id;
    const where = { nodeId: node.nodeId };
    const checkpoint = () => {
      if (this.cancelled(id)) throw new Cancelled();
    };
    const disks = await call({ service: 'storage', ...where }, () =>
      storage.PUT('/disks/{taskId}', {
        params: { path: { taskId: id } },
        body: { image: task.request.image, diskMiB: task.request.diskMiB },
        signal: this.timeout(),
      }),
    );
    checkpoint();
    let vm = await call({ service: 'provisioner', ...where }, () =>
      provisioner.PUT('/vms/{taskId}', {
        params: { path: { taskId: id } },
        body: {
          name: task.name,
          vcpus: task.request.vcpus,
          memoryMiB: task.request.memoryMiB,
          // Copied field by field: the provisioner refuses properties it does not know.
          disks: disks.disks.map((d) => ({ path: d.path, format: d.format, device: d.device, ...(d.readonly === undefined ? {} : { readonly: d.readonly }) })),
          boot: disks.boot.kind === 'kernel'
            ? { kind: 'kernel', kernel: disks.boot.kernel, initrd: disks.boot.initrd, ...(disks.boot.cmdline === undefined ? {} : { cmdline: disks.boot.cmdline }) }
            : { kind: disks.boot.kind },
        },
        signal: this.timeout(),
      }),
    );
    const deadline = Date.now() + this.o.startTimeoutMs;
    for (;;) {
      checkpoint();
      if (vm.state === 'running') return;
      if (guestDead.has(vm.state)) {
        throw new UpstreamError({ service: 'provisioner', ...where, type: problemTypeUri('upstream-failed'), status: 502, detail: `the guest is ${vm.state}` });
      }
      if (Date.now() >= deadline) {
        throw new UpstreamError({
          service: 'provisioner', ...where, type: problemTypeUri('upstream-failed'), status: 504,
          detail: `the guest did not reach running within ${Math.round(this.o.startTimeoutMs / 1000)} s (last state: ${vm.state})`,
        });
      }
      await this.o.sleep(this.o.pollIntervalMs);
      vm = await call({ service: 'provisioner', ...where }, () =>
        provisioner.GET('/vms/{taskId}', { params: { path: { taskId: id } }, signal: this.timeout() }),
      );
    }
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
        await call({ service: 'storage', ...where }, () => storage.DELETE('/disks/{taskId}', path));
      } catch (err) {
        if (!(err instanceof UpstreamError)) throw err;
        return this.fail(id, upstreamProblem(err.failure, ' (stop again to retry)'));
      }
    }
    this.stopped(id, node ? `guest destroyed and disks discarded on ${node.nodeId}` : 'nothing was running');
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

  private stopped(id: string, message: string): void {
    this.deps.tasks.transition(id, 'stopped', message);
  }

  private fail(id: string, error: Problem): void {
    this.deps.tasks.transition(id, 'failed', error.detail ?? error.title, { error });
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
