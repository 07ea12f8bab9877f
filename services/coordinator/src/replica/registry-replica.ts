import type { Logger } from '@cps/common';
import type { HeadView } from '../head/head-view.ts';
import type { Timers } from '../queue/dispatcher.ts';
import type { Revision, SqliteReplicaStore } from '../registry/replica-store.ts';
import type { PullFromHead } from './head-client.ts';
import { parseSnapshot } from './snapshot-schema.ts';

export interface RegistryReplicaDeps {
  store: Pick<SqliteReplicaStore, 'revision' | 'apply'>;
  headView: Pick<HeadView, 'isHead' | 'head' | 'onChange'>;
  pull: PullFromHead;
  timers: Timers;
  now: () => Date;
  log: Logger;
  /** Between two pulls while the head answers (1 s). */
  intervalMs?: number;
  /** The longest wait after failed pulls (the interval doubles per failure up to this; 30 s). */
  maxBackoffMs?: number;
}

/** The last head snapshot this node applied, for GET /api/head. */
export type LastApplied = NonNullable<Revision['applied']>;

/**
 * A follower's copy of the head's registry: every second it asks the head for anything newer
 * than what it applied last, and replaces its replicated tables with the head's rows in one
 * transaction. So this node's own registry *is* the replica: when it becomes head, the loops that
 * start then (recover, reconcile against the hosts) find every task the old head had told it of.
 * While this node leads, it only answers (api/replica.ts) and pulls nothing.
 */
export class RegistryReplica {
  private readonly intervalMs: number;
  private readonly maxBackoffMs: number;
  private timer: unknown;
  private running = false;
  private closed = true;
  private failures = 0;
  private offChange: (() => void) | undefined;

  constructor(private readonly deps: RegistryReplicaDeps) {
    this.intervalMs = deps.intervalMs ?? 1000;
    this.maxBackoffMs = deps.maxBackoffMs ?? 30_000;
  }

  start(): void {
    if (!this.closed) return;
    this.closed = false;
    // A new head (or this node no longer leading): ask at once, not after the backoff.
    this.offChange = this.deps.headView.onChange(() => {
      this.failures = 0;
      if (!this.running) this.schedule(0);
    });
    this.schedule(0);
  }

  close(): void {
    this.closed = true;
    this.offChange?.();
    this.offChange = undefined;
    if (this.timer !== undefined) this.deps.timers.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** The head snapshot this registry holds: its rev and epoch, the head it came from, when it was applied. */
  lastApplied(): LastApplied | undefined {
    return this.deps.store.revision().applied;
  }

  /**
   * One pull (the timer's, or a test's): never two at once; resolves when it is done, having
   * logged whatever went wrong. Returns what it did.
   */
  async pullOnce(): Promise<'idle' | 'no-head' | 'unchanged' | 'applied' | 'stale' | 'superseded' | 'failed' | 'busy'> {
    if (this.running) return 'busy';
    if (this.deps.headView.isHead()) return 'idle';
    const head = this.deps.headView.head();
    if (!head) return 'no-head';
    this.running = true;
    const started = this.deps.now().getTime();
    try {
      const applied = this.deps.store.revision().applied;
      // Only a snapshot from this head counts as "what we have of it": after a change of head
      // the first pull takes everything.
      const since = applied && applied.from === head.nodeId ? { rev: applied.rev, ...(applied.epoch !== undefined ? { epoch: applied.epoch } : {}) } : undefined;
      let got;
      try {
        got = await this.deps.pull(head, since);
      } catch (err) {
        this.failures++;
        this.deps.log.warn({ head: head.nodeId, err: (err as Error).message, failures: this.failures }, 'replica.pull-failed');
        return 'failed';
      }
      this.failures = 0;
      if (got.kind === 'unchanged') return 'unchanged';
      let snap;
      try {
        snap = parseSnapshot(got.text);
      } catch (err) {
        // A head that sends what this code cannot check is a bug or an attack: loud, and nothing changes.
        this.deps.log.error({ head: head.nodeId, bytes: got.bytes, err: (err as Error).message }, 'replica.rejected');
        return 'failed';
      }
      // The role may have changed while the bytes came: a node that leads now owns its registry
      // (its duties may be writing already), and a snapshot of a node no longer the head is no
      // one's to take. Checked right before the apply, which is synchronous: nothing runs between.
      if (this.deps.headView.isHead() || this.deps.headView.head()?.nodeId !== head.nodeId) {
        this.deps.log.info({ head: head.nodeId, rev: snap.rev }, 'replica.superseded');
        return 'superseded';
      }
      const at = this.deps.now();
      let took: boolean;
      try {
        took = this.deps.store.apply({ ...snap, from: head.nodeId, at: at.toISOString() });
      } catch (err) {
        this.deps.log.error({ head: head.nodeId, rev: snap.rev, bytes: got.bytes, err: (err as Error).message }, 'replica.rejected');
        return 'failed';
      }
      if (!took) {
        this.deps.log.info({ head: head.nodeId, rev: snap.rev, epoch: snap.epoch, have: this.deps.store.revision().applied }, 'replica.stale');
        return 'stale';
      }
      this.deps.log.info(
        { rev: snap.rev, epoch: snap.epoch, from: head.nodeId, tasks: snap.tables.tasks.length, users: snap.tables.users.length, bytes: got.bytes, ms: this.deps.now().getTime() - started },
        'replica.applied',
      );
      return 'applied';
    } finally {
      this.running = false;
    }
  }

  private schedule(ms: number): void {
    if (this.closed) return;
    if (this.timer !== undefined) this.deps.timers.clearTimeout(this.timer);
    this.timer = this.deps.timers.setTimeout(() => {
      this.timer = undefined;
      void this.pullOnce().then(
        () => this.schedule(this.nextDelay()),
        // pullOnce logs its failures; this is a bug in it, and the loop must go on.
        (err: unknown) => {
          this.deps.log.error({ err }, 'replica.bug');
          this.schedule(this.nextDelay());
        },
      );
    }, ms);
  }

  private nextDelay(): number {
    if (this.failures === 0) return this.intervalMs;
    return Math.min(this.maxBackoffMs, this.intervalMs * 2 ** Math.min(this.failures, 20));
  }
}
