import type { Logger } from '@cps/common';
import { DOMAIN_PREFIX } from './domainXml.ts';
import type { EventBus, NewEvent } from './events.ts';
import type { Expectations } from './expectations.ts';
import type { Hypervisor } from './hypervisor.ts';
import { readLiveXml } from './liveXml.ts';
import type { QemuProcesses } from './qemuProcess.ts';
import { unexpectedChanges, type Seen } from './watchRules.ts';

export interface WatchdogDeps {
  hypervisor: Hypervisor;
  expectations: Expectations;
  events: EventBus;
  log: Logger;
  /** How often every guest is looked at; at most 1000 ms (the promise is "at least once a second"). */
  intervalMs?: number;
  now?: () => Date;
  /**
   * This host's QEMU processes. libvirt holds its domain list for a second or more while it
   * cleans up after a QEMU that died, so a killed QEMU is noticed here first, without libvirt.
   */
  processes?: QemuProcesses;
}

/**
 * The monitor layer: looks at every CPS guest on this libvirt every `intervalMs` and publishes
 * what went wrong unasked (crash, unexpected shutdown, pause, I/O error, vanished) as events.
 * The first look only learns what is there: a guest found paused after a restart is not news.
 */
export class Watchdog {
  private last: Map<string, Seen> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private failing = false;
  /** Guests whose QEMU was seen dead (and reported) before libvirt dropped them. */
  private readonly dead = new Set<string>();
  /** When each guest's QEMU was last seen alive in the process table. */
  private readonly aliveAt = new Map<string, Date>();

  constructor(private readonly d: WatchdogDeps) {}

  private now(): Date {
    return (this.d.now ?? (() => new Date()))();
  }

  start(): void {
    const every = Math.min(this.d.intervalMs ?? 500, 1000);
    this.timer ??= setInterval(() => void this.tick(), every);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One look: the process table at once, then libvirt (a look still waiting on libvirt is shared). */
  tick(): Promise<void> {
    this.checkProcesses();
    this.running ??= this.look().finally(() => (this.running = undefined));
    return this.running;
  }

  private checkProcesses(): void {
    if (!this.d.processes || !this.last) return;
    for (const [taskId, seen] of this.last) {
      if (this.dead.has(taskId) || (seen.state !== 'running' && seen.state !== 'paused')) continue;
      const at = this.now();
      const liveness = this.d.processes.check(`${DOMAIN_PREFIX}${taskId}`);
      if (liveness === 'alive') this.aliveAt.set(taskId, at);
      if (liveness !== 'dead') continue;
      this.dead.add(taskId);
      if (this.d.expectations.get(taskId) === 'gone') continue;
      this.publish({
        kind: 'vanished',
        taskId,
        at,
        lastSeenAt: (this.aliveAt.get(taskId) ?? seen.at).toISOString(),
        detail: `the guest's QEMU process died and no one here asked for it (it was ${seen.state})`,
      });
    }
  }

  private async look(): Promise<void> {
    let seen: Map<string, Seen>;
    let listedAt: Date;
    let names: string[];
    // Marks made before libvirt lists its domains: a guest marked running then is in that list.
    const marksBefore = this.d.expectations.sequence;
    try {
      ({ seen, listedAt, names } = await this.snapshot());
    } catch (err) {
      // libvirt away: no snapshot is not "every guest vanished". Say it once, keep the last look.
      if (!this.failing) this.d.log.warn({ err: (err as Error).message }, 'watchdog cannot reach libvirt');
      this.failing = true;
      return;
    }
    this.failing = false;
    if (this.last) {
      // Those already reported dead are not reported again as they leave libvirt's list.
      const before = new Map([...this.last].filter(([taskId]) => !this.dead.has(taskId)));
      for (const e of unexpectedChanges(before, seen, (t) => this.d.expectations.get(t), listedAt)) this.publish(await this.refine(e));
      // A guest started (or resumed) and gone again before any look saw it running: a look caught
      // its start paused, the next finds it gone. Its mark says it should be there.
      for (const taskId of this.d.expectations.markedBefore(marksBefore, ['running', 'paused'])) {
        if (before.has(taskId) || seen.has(taskId) || this.dead.has(taskId) || names.includes(`${DOMAIN_PREFIX}${taskId}`)) continue;
        this.publish({ kind: 'vanished', taskId, at: listedAt, detail: 'the guest is gone and no one here asked for it (it was started here and went before it was seen running)' });
        this.d.expectations.forget(taskId);
      }
    }
    for (const taskId of this.last?.keys() ?? []) {
      if (seen.has(taskId)) continue;
      this.d.expectations.forget(taskId);
      this.aliveAt.delete(taskId);
    }
    this.last = seen;
  }

  private publish(e: NewEvent): void {
    const event = this.d.events.emit(e);
    this.d.log.warn({ taskId: event.taskId, kind: event.kind, detail: event.detail }, 'watchdog event');
  }

  // A look's time is when libvirt listed the domains: that is when an absence was seen, however
  // long the per-domain calls after it take.
  private async snapshot(): Promise<{ seen: Map<string, Seen>; listedAt: Date; names: string[] }> {
    const names = (await this.d.hypervisor.listNames()).filter((n) => n.startsWith(DOMAIN_PREFIX));
    const listedAt = this.now();
    const seen = new Map<string, Seen>();
    await Promise.all(
      names.map(async (name) => {
        // Read before the look: a start that ends while libvirt answers was still a start.
        const starting = this.d.expectations.get(name.slice(DOMAIN_PREFIX.length)) === 'starting';
        const status = await this.d.hypervisor.inspect(name);
        const task = status && readLiveXml(status.xml).task;
        if (!status || !task || `${DOMAIN_PREFIX}${task.id}` !== name) return;
        // libvirt starts QEMU paused and resumes it once set up: not news, and not remembered as
        // paused either, so a real pause right after the start is still a change.
        if (starting && status.state === 'paused') return;
        // A guest whose QEMU is dead is gone, whatever libvirt still lists, until a new QEMU runs it
        // (restored from a checkpoint between two looks).
        if (this.dead.has(task.id)) {
          if (this.d.processes?.check(name) !== 'alive') return;
          this.dead.delete(task.id);
        }
        seen.set(task.id, { state: status.state, at: listedAt });
      }),
    );
    // Gone from libvirt's list: a new guest of that task is watched afresh.
    for (const taskId of this.dead) if (!names.includes(`${DOMAIN_PREFIX}${taskId}`)) this.dead.delete(taskId);
    this.d.processes?.keepOnly(names);
    return { seen, listedAt, names };
  }

  /** A pause on a disk error is told apart where libvirt gives the reason. */
  private async refine(e: NewEvent): Promise<NewEvent> {
    if (e.kind !== 'paused' || !this.d.hypervisor.stateReason) return e;
    const reason = await this.d.hypervisor.stateReason(`${DOMAIN_PREFIX}${e.taskId}`).catch(() => undefined);
    return reason && /i\/o error|ioerror/i.test(reason) ? { ...e, kind: 'io-error', detail: `the guest paused on a disk I/O error (${reason})` } : e;
  }
}
