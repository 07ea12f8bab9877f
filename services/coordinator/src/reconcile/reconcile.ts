import type { DiscoveryClient } from '@cps/openapi';
import { ProblemError, type Logger } from '@cps/common';
import { consoleUrl, type ClientsFor } from '../clients.ts';
import type { Placer } from '../placement.ts';
import type { Timers } from '../queue/dispatcher.ts';
import type { Problem, Tasks } from '../tasks/tasks.ts';
import type { Task } from '../tasks/store.ts';
import { call, UpstreamError } from '../upstream.ts';
import type { Orphans } from './orphans.ts';
import { onAHost, planReconcile, type Decision } from './plan.ts';
import { surveyHosts } from './survey.ts';

export interface ReconcileDeps {
  tasks: Tasks;
  placer: Placer;
  discovery: DiscoveryClient;
  clientsFor: ClientsFor;
  /** This coordinator's node id: the guests whose placedBy it is are its own. */
  coordinatorId: string;
  orphans: Orphans;
  log: Logger;
  timers: Timers;
  /**
   * How long to wait before asking again while a host has not answered: `firstRetryMs`, doubled at
   * each try up to `retryMs` (at a `cps up` the node's own discovery may not listen yet).
   */
  retryMs?: number;
  firstRetryMs?: number;
  /** Upper bound on one call to discovery or a provisioner. */
  callTimeoutMs?: number;
}

export interface PassOutcome {
  adopted: number;
  lost: number;
  requeued: number;
  waiting: number;
  orphans: number;
}

/**
 * After a restart, settles the tasks the registry says are on a host against what the hosts run
 * (plan.ts says how), and finds the orphans. The tasks to settle are those on a host when the
 * coordinator started; one the user stopped meanwhile is the placer's again. While some host has
 * not answered, it asks again on the injected timers (backing off up to `retryMs`); a pass that
 * hears from every host ends it.
 */
export class Reconciler {
  private readonly leftover: Map<string, Task['state']>;
  private timer: unknown;
  private closed = false;
  private current: Promise<PassOutcome> | undefined;
  private readonly retryMs: number;
  private nextDelayMs: number;
  private readonly callTimeoutMs: number;

  constructor(private readonly d: ReconcileDeps) {
    this.leftover = new Map(d.tasks.list().filter((t) => onAHost.has(t.state)).map((t) => [t.id, t.state]));
    this.retryMs = d.retryMs ?? 30_000;
    this.nextDelayMs = Math.min(d.firstRetryMs ?? 1000, this.retryMs);
    this.callTimeoutMs = d.callTimeoutMs ?? 10_000;
  }

  /** The tasks still waiting for their host to answer. */
  get unsettled(): number {
    return this.leftover.size;
  }

  /** One pass now (or the one under way); schedules the next while something is unsettled. Never rejects. */
  pass(): Promise<PassOutcome> {
    this.current ??= this.passNow().finally(() => (this.current = undefined));
    return this.current;
  }

  private async passNow(): Promise<PassOutcome> {
    const outcome: PassOutcome = { adopted: 0, lost: 0, requeued: 0, waiting: 0, orphans: 0 };
    try {
      const surveys = await surveyHosts(this.d.discovery, this.d.clientsFor, this.callTimeoutMs);
      const all = this.d.tasks.list();
      const known = new Set(all.map((t) => t.id));
      // A task the user acted on since the start (stopped it) is no longer a leftover.
      const leftovers = all.filter((t) => this.leftover.get(t.id) === t.state);
      for (const id of this.leftover.keys()) if (!leftovers.some((t) => t.id === id)) this.leftover.delete(id);
      const plan = planReconcile(leftovers, known, surveys, this.d.coordinatorId);
      for (const decision of plan.decisions) {
        try {
          await this.apply(decision, outcome);
        } catch (err) {
          // A bug, not a host's answer: the task stays as it is, the others are still settled.
          this.leftover.delete(decision.task.id);
          this.d.log.error({ err, taskId: decision.task.id, decision: decision.kind }, 'reconcile: could not settle a task');
        }
      }
      for (const { node, vms } of plan.orphans) this.d.orphans.foundOn(node, vms);
      outcome.orphans = this.d.orphans.list().length;
      const unanswered = surveys.filter((s) => 'unanswered' in s).length;
      this.d.log.info({ ...outcome, unanswered }, 'reconciled the registry with the hosts');
      if (unanswered > 0) this.schedule(); // their tasks, and their orphans, are still to be found
    } catch (err) {
      if (!(err instanceof UpstreamError)) {
        this.d.log.error({ err }, 'reconcile: the pass failed');
        return outcome;
      }
      outcome.waiting = this.leftover.size;
      this.d.log.warn({ err: err.message, waiting: outcome.waiting }, 'reconcile: discovery could not say who the peers are; asking again later');
    }
    if (outcome.waiting > 0) this.schedule();
    return outcome;
  }

  close(): void {
    this.closed = true;
    if (this.timer !== undefined) this.d.timers.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    if (this.closed || this.timer !== undefined) return;
    const delay = this.nextDelayMs;
    this.nextDelayMs = Math.min(delay * 2, this.retryMs);
    this.timer = this.d.timers.setTimeout(() => {
      this.timer = undefined;
      void this.pass();
    }, delay);
  }

  private async apply(decision: Decision, outcome: PassOutcome): Promise<void> {
    const { tasks, log } = this.d;
    const { task } = decision;
    // The user may have acted on it while the hosts were asked (a stop): then it is not ours to settle.
    if (tasks.get(task.id)?.state !== task.state) {
      this.leftover.delete(task.id);
      return;
    }
    if (decision.kind === 'wait') {
      outcome.waiting++;
      log.info({ taskId: task.id, why: decision.why }, 'reconcile: waiting for the host');
      return;
    }
    this.leftover.delete(task.id);
    if (decision.kind === 'adopt') {
      const where = decision.node.nodeId;
      if (task.state === 'starting') {
        tasks.transition(task.id, 'running', `adopted after restart: guest running on ${where}`, { node: decision.node, console: { vncUrl: consoleUrl(decision.node, task.id) } });
      } else {
        // The console's address as this coordinator gives it now (an older one may have made it otherwise).
        tasks.note(task.id, `adopted after restart: the guest is ${decision.vm.state} on ${where}`, { console: { vncUrl: consoleUrl(decision.node, task.id) } });
      }
      outcome.adopted++;
    } else if (decision.kind === 'lost') {
      const detail = `lost: the guest was not found on ${decision.nodeId} after the coordinator restarted`;
      tasks.transition(task.id, 'failed', detail, { error: new ProblemError('guest-lost', detail).toBody() as Problem });
      outcome.lost++;
    } else {
      // Disks may be there without a guest; they are the task's and a new placement makes them anew.
      const where = { service: 'storage' as const, nodeId: decision.node.nodeId };
      await call(where, () => this.d.clientsFor(decision.node).storage.DELETE('/disks/{taskId}', { params: { path: { taskId: task.id } }, signal: AbortSignal.timeout(this.callTimeoutMs) })).catch((err) =>
        log.warn({ taskId: task.id, node: decision.node.nodeId, err: (err as Error).message }, 'reconcile: could not discard the disks of a guest that never came'),
      );
      if (tasks.get(task.id)?.state !== 'starting') return; // stopped while its disks were discarded
      tasks.transition(task.id, 'placing', `the coordinator restarted while it was being started on ${decision.node.nodeId}, and no guest is there`);
      tasks.transition(task.id, 'queued', 'back to the queue after the restart');
      void this.d.placer.place(task.id);
      outcome.requeued++;
    }
  }
}
