import type { MiddlewareHandler } from 'hono';
import { ProblemError } from '@cps/common';
import { closeCodes, type ConsoleKind, type ConsoleSession } from './session.ts';

/** Consoles one task may have open at once (CPS_CONSOLE_MAX_PER_TASK); a guest's VNC server serves few clients. */
export const defaultMaxConsolesPerTask = 4;

/** Consoles one user may have open at once on this gateway, of all their tasks (CPS_CONSOLE_MAX_PER_USER). */
export const defaultMaxConsolesPerUser = 8;

// The screen and the serial port are separate resources with places of their own.
const key = (taskId: string, kind: ConsoleKind) => (kind === 'vnc' ? taskId : `${kind}:${taskId}`);
// A user's places count desktops and serial consoles together; task ids never start with `user:`.
const userKey = (userId: string) => `user:${userId}`;

export interface SessionRegistryOptions {
  maxPerTask?: number;
  maxPerUser?: number;
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
  readonly maxPerUser: number;

  constructor(opts: SessionRegistryOptions = {}) {
    this.maxPerTask = opts.maxPerTask ?? defaultMaxConsolesPerTask;
    this.maxPerUser = opts.maxPerUser ?? defaultMaxConsolesPerUser;
  }

  /** Counts the session against its task (and its user) until it has closed. */
  add(session: ConsoleSession, kind: ConsoleKind = 'vnc', userId?: string): void {
    this.live.add(session);
    const release = this.hold(key(session.taskId, kind));
    const releaseUser = userId === undefined ? () => {} : this.hold(userKey(userId));
    session.whenClosed(() => {
      this.live.delete(session);
      release();
      releaseUser();
    });
  }

  /**
   * Like capPerTask, for the user the request's console ticket names (`c.var.ticket`, set by
   * requireTicket before this): one user cannot hold every console this gateway can serve.
   */
  capPerUser(): MiddlewareHandler<{ Variables: { ticket?: { userId: string; userName: string } } }> {
    return async (c, next) => {
      const user = c.var.ticket;
      if (!user) return next();
      const inUse = this.held.get(userKey(user.userId)) ?? 0;
      if (inUse >= this.maxPerUser) {
        throw new ProblemError(
          'console-limit',
          `${user.userName} already has ${inUse} consoles open or opening on this gateway, the most it allows per user (${this.maxPerUser}); close one first`,
          { user: user.userName, limit: this.maxPerUser, per: 'user' },
        );
      }
      const release = this.hold(userKey(user.userId));
      try {
        await next();
      } finally {
        release();
      }
    };
  }

  /**
   * Takes one of the task's places for the whole request, so concurrent upgrades still dialling
   * count too; at the cap the request is refused before the guest is dialled.
   */
  capPerTask(kind: ConsoleKind = 'vnc'): MiddlewareHandler {
    return async (c, next) => {
      const taskId = c.req.param('taskId') ?? '';
      const inUse = this.held.get(key(taskId, kind)) ?? 0;
      if (inUse >= this.maxPerTask) {
        const what = kind === 'vnc' ? 'consoles' : 'serial consoles';
        throw new ProblemError(
          'console-limit',
          `task ${taskId} already has ${inUse} ${what} open or opening, the most this gateway allows per task (${this.maxPerTask}); close one first`,
          { taskId, kind, limit: this.maxPerTask, per: 'task' },
        );
      }
      const release = this.hold(key(taskId, kind));
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
  heldBy(taskId: string, kind: ConsoleKind = 'vnc'): number {
    return this.held.get(key(taskId, kind)) ?? 0;
  }

  /** Bytes every session holds for its slower side, summed (backpressure keeps it bounded). */
  get buffered(): number {
    let n = 0;
    for (const s of this.live) n += s.buffered;
    return n;
  }

  /** Ends every session and resolves once each has closed. */
  closeAll(reason: string): Promise<void> {
    const all = [...this.live].map((s) => new Promise<void>((res) => s.whenClosed(res)));
    for (const s of this.live) s.close(closeCodes.goingAway, reason);
    return Promise.all(all).then(() => undefined);
  }
}
