import type { Logger } from '@cps/common';
import type { EventBus } from './events.ts';
import type { Lifecycle } from './lifecycle.ts';
import { initialOwnerState, ownerInput, ownerStep, type OwnerAction, type OwnerSample, type OwnerState } from './ownerRules.ts';
import type { OwnerThresholds } from './sharePolicy.ts';
import type { Vms } from './vms.ts';

export interface OwnerFirstDeps {
  sampler: { sample(): Promise<OwnerSample> };
  thresholds: OwnerThresholds;
  vms: Vms;
  lifecycle: Lifecycle;
  events: EventBus;
  log: Logger;
  /** Monotonic-enough ms, as the sampler's `atMs`. */
  now?: () => number;
  timers?: { setInterval(fn: () => void, ms: number): unknown; clearInterval(handle: unknown): void };
}

const realTimers = {
  setInterval: (fn: () => void, ms: number) => setInterval(fn, ms),
  clearInterval: (h: unknown) => clearInterval(h as NodeJS.Timeout),
};

/**
 * Runs the owner-first rules (ownerRules.ts) on a timer and carries out what they say: suspend
 * every guest at once, resume the ones it suspended, and ask for a vacate. Each is an event on
 * GET /events for the coordinator. Guests suspended through the API are not its to resume.
 */
export class OwnerFirst {
  private state: OwnerState;
  private readonly held = new Set<string>();
  private timer: unknown;
  private running: Promise<void> | undefined;
  /** Steps and inputs run one after the other: the rules' state is carried from one to the next. */
  private chain: Promise<void> = Promise.resolve();
  private started = false;
  private readonly now: () => number;
  private readonly timers: NonNullable<OwnerFirstDeps['timers']>;

  constructor(private readonly d: OwnerFirstDeps) {
    this.now = d.now ?? Date.now;
    this.timers = d.timers ?? realTimers;
    this.state = initialOwnerState(this.now());
  }

  /**
   * While the guests are held suspended, this peer takes on no new ones (START). A busy moment
   * within the grace does not close lending: a burst of the owner's CPU must not make every
   * PUBLISH of that second go unanswered.
   */
  get busy(): boolean {
    return this.state.phase === 'suspended' || this.state.phase === 'idle-pending';
  }

  start(): void {
    this.timer ??= this.timers.setInterval(() => void this.tick(), this.d.thresholds.sampleSec * 1000);
  }

  async stop(): Promise<void> {
    this.timers.clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
    await this.chain;
  }

  /** One sample and step of the rules; a tick while one is under way shares it. */
  tick(): Promise<void> {
    this.running ??= this.serial(() => this.step()).finally(() => (this.running = undefined));
    return this.running;
  }

  /**
   * The owner's keyboard or mouse, the moment it happened (DesktopInput): every running guest is
   * suspended now, not at the next sample and not after the grace. A burst of input while the
   * guests are being suspended is one suspension.
   */
  input(): Promise<void> {
    if (!this.d.thresholds.enabled || this.state.phase === 'suspended') return this.chain;
    return this.serial(async () => {
      const atMs = this.now();
      const { state, action, why } = ownerInput(this.state, atMs);
      if (state.phase !== this.state.phase) this.d.log.info({ from: this.state.phase, to: state.phase, why }, 'owner activity');
      this.state = state;
      if (action) await this.act(action, why.join('; '));
    });
  }

  private serial(fn: () => Promise<void>): Promise<void> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async step(): Promise<void> {
    let sample: OwnerSample;
    try {
      sample = await this.d.sampler.sample();
    } catch (err) {
      this.d.log.warn({ err: (err as Error).message }, 'cannot sample the owner\'s activity');
      return;
    }
    if (!this.started) {
      // The first CPU reading is a baseline, not a rate.
      this.started = true;
      // Input may have suspended the guests before the first sample: that stands.
      if (this.state.phase === 'idle') this.state = initialOwnerState(sample.atMs);
      return;
    }
    const { state, action, why } = ownerStep(this.state, sample, this.d.thresholds);
    if (state.phase !== this.state.phase) this.d.log.info({ from: this.state.phase, to: state.phase, why }, 'owner activity');
    this.state = state;
    if (action) await this.act(action, why.join('; ') || 'the owner is idle');
  }

  private async act(action: OwnerAction, why: string): Promise<void> {
    if (action === 'suspend') {
      for (const vm of await this.d.vms.list()) {
        if (vm.state !== 'running') continue;
        try {
          await this.d.lifecycle.suspend(vm.taskId);
          this.held.add(vm.taskId);
          this.d.events.emit({ kind: 'owner-busy', taskId: vm.taskId, state: 'paused', detail: `suspended: ${why}` });
        } catch (err) {
          this.d.log.warn({ taskId: vm.taskId, err: (err as Error).message }, 'could not suspend a guest for its owner');
        }
      }
    } else if (action === 'resume') {
      for (const taskId of this.held) {
        try {
          await this.d.lifecycle.resume(taskId);
          this.d.events.emit({ kind: 'owner-idle', taskId, state: 'running', detail: 'resumed: the owner is idle again' });
        } catch (err) {
          // Moved, checkpointed or destroyed meanwhile: nothing to resume.
          this.d.log.info({ taskId, err: (err as Error).message }, 'guest held for the owner is gone');
        }
      }
      this.held.clear();
    } else {
      for (const taskId of this.held) {
        this.d.events.emit({ kind: 'vacate', taskId, state: 'paused', detail: `the owner has been busy for ${this.d.thresholds.vacateAfterSec} s: move this guest` });
      }
    }
  }
}
