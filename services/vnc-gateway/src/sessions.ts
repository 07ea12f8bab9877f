import type { MiddlewareHandler } from 'hono';
import { ProblemError } from '@cps/common';
import { closeCodes, type ConsoleSession } from './session.ts';

/** Consoles one task may have open at once (CPS_CONSOLE_MAX_PER_TASK); a guest's VNC server serves few clients. */
export const defaultMaxConsolesPerTask = 4;

export interface SessionRegistryOptions {
  maxPerTask?: number;
}

/**
 * The console sessions alive in this gateway, so shutdown can end them, health can count them,
 * and no task gets more than `maxPerTask` of them.
 */
export class SessionRegistry {
  private readonly live = new Set<ConsoleSession>();
  /** Per task: open sessions plus upgrades still dialling its guest. */
  private readonly held = new Map<string, number>();
  readonly maxPerTask: number;

  constructor(opts: SessionRegistryOptions = {}) {
    this.maxPerTask = opts.maxPerTask ?? defaultMaxConsolesPerTask;
  }

  /** Counts the session against its task until it has closed. */
  add(session: ConsoleSession): void {
    this.live.add(session);
    const release = this.hold(session.taskId);
    session.whenClosed(() => {
      this.live.delete(session);
      release();
    });
  }

  /**
   * Takes one of the task's places for the whole request, so concurrent upgrades still dialling
   * count too; at the cap the request is refused before the guest is dialled.
   */
  capPerTask(): MiddlewareHandler {
    return async (c, next) => {
      const taskId = c.req.param('taskId') ?? '';
      const inUse = this.held.get(taskId) ?? 0;
      if (inUse >= this.maxPerTask) {
        throw new ProblemError(
          'console-limit',
          `task ${taskId} already has ${inUse} consoles open or opening, the most this gateway allows per task (${this.maxPerTask}); close one first`,
          { taskId, limit: this.maxPerTask },
        );
      }
      const release = this.hold(taskId);
      try {
        await next();
      } finally {
        release();
      }
    };
  }

  private hold(taskId: string): () => void {
    this.held.set(taskId, (this.held.get(taskId) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const left = (this.held.get(taskId) ?? 1) - 1;
      if (left > 0) this.held.set(taskId, left);
      else this.held.delete(taskId);
    };
  }

  get size(): number {
    return this.live.size;
  }

  /** Consoles of `taskId` open or opening. */
  heldBy(taskId: string): number {
    return this.held.get(taskId) ?? 0;
  }

  /** Ends every session and resolves once each has closed. */
  closeAll(reason: string): Promise<void> {
    const all = [...this.live].map((s) => new Promise<void>((res) => s.whenClosed(res)));
    for (const s of this.live) s.close(closeCodes.goingAway, reason);
    return Promise.all(all).then(() => undefined);
  }
}
