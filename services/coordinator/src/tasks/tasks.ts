import type { CoordinatorSchemas } from '@cps/openapi';
import { ProblemError } from '@cps/common';
import { newTaskId } from './ids.ts';
import { canTransition, IllegalTransition, type TaskState } from './states.ts';
import { MemoryTaskStore, type Task, type TaskStore } from './store.ts';

export type TaskRequest = Task['request'];
export type NodeRef = CoordinatorSchemas['NodeRef'];
export type Problem = CoordinatorSchemas['Problem'];

/** What a transition may set besides the state. */
export type TaskPatch = Partial<Pick<Task, 'node' | 'backups' | 'console' | 'error' | 'lastCheckpointAt' | 'download' | 'checkpointCopies'>>;

export type TaskListener = (task: Task) => void;

export interface TasksOptions {
  store?: TaskStore;
  now?: () => Date;
  newId?: () => string;
}

/**
 * The tasks of this coordinator and the only way to change them: every change is a checked
 * transition that is recorded in the task's history and announced to listeners (the SSE stream).
 * Callers get copies, so nothing outside can change a task behind the state machine's back.
 */
export class Tasks {
  private readonly store: TaskStore;
  private readonly now: () => Date;
  private readonly newId: () => string;
  private readonly listeners = new Set<TaskListener>();

  constructor(opts: TasksOptions = {}) {
    this.store = opts.store ?? new MemoryTaskStore();
    this.now = opts.now ?? (() => new Date());
    this.newId = opts.newId ?? newTaskId;
  }

  /** A new pending task; `owner` is the user who submits it (absent only where there are no accounts). */
  create(name: string, request: TaskRequest, owner?: Task['owner']): Task {
    let id = this.newId();
    while (this.store.get(id)) id = this.newId();
    const at = this.now().toISOString();
    const task: Task = {
      id,
      name,
      state: 'pending',
      request: { ...request },
      ...(owner ? { owner: { ...owner } } : {}),
      createdAt: at,
      updatedAt: at,
      history: [{ state: 'pending', at, message: 'submitted' }],
    };
    this.store.put(task, owner?.id);
    this.emit(task);
    return structuredClone(task);
  }

  get(id: string): Task | undefined {
    const t = this.store.get(id);
    return t && structuredClone(t);
  }

  /** The task, or a `not-found` problem. */
  require(id: string): Task {
    const t = this.get(id);
    if (!t) throw new ProblemError('not-found', `no task ${id}`);
    return t;
  }

  list(): Task[] {
    return this.store.list().map((t) => structuredClone(t));
  }

  /** Moves a task to `to`; throws IllegalTransition if the table does not allow it. */
  transition(id: string, to: TaskState, message: string, patch: TaskPatch = {}): Task {
    const current = this.store.get(id);
    if (!current) throw new Error(`transition of unknown task ${id}`);
    if (!canTransition(current.state, to)) throw new IllegalTransition(id, current.state, to);
    return this.record(current, to, message, patch);
  }

  /**
   * Takes in a guest that already runs under its own task id (an orphan an admin adopts): the task
   * is made running at once, its first history line saying where it came from.
   */
  adopt(id: string, name: string, request: TaskRequest, patch: TaskPatch, message: string, owner?: Task['owner']): Task {
    if (this.store.get(id)) throw new ProblemError('conflict', `a task ${id} exists already`);
    const at = this.now().toISOString();
    const task: Task = {
      id,
      name,
      state: 'running',
      request: { ...request },
      ...(owner ? { owner: { ...owner } } : {}),
      ...structuredClone(patch),
      createdAt: at,
      updatedAt: at,
      history: [{ state: 'running', at, message }],
    };
    this.store.put(task, owner?.id);
    this.emit(task);
    return structuredClone(task);
  }

  /**
   * A line in the task's history that leaves its state as it is (a checkpoint, a restart, the
   * reconcile's "adopted after restart"), with what it may set; listeners hear of it as of any change.
   */
  note(id: string, message: string, patch: TaskPatch = {}): Task {
    const current = this.store.get(id);
    if (!current) throw new Error(`note on unknown task ${id}`);
    return this.record(current, current.state, message, patch);
  }

  /** The task in `state` with `patch` and one more history line: stored, announced, copied out. */
  private record(current: Task, state: TaskState, message: string, patch: TaskPatch): Task {
    const at = this.now().toISOString();
    const next: Task = {
      ...structuredClone(current),
      ...structuredClone(patch),
      state,
      updatedAt: at,
      history: [...structuredClone(current.history), { state, at, message }],
    };
    this.store.put(next);
    this.emit(next);
    return structuredClone(next);
  }

  /** Forgets a task and its history (the caller checked it has ended); false if there was none. */
  remove(id: string): boolean {
    return this.store.delete(id);
  }

  /** Calls `listener` with a copy of every task as it changes; returns the unsubscribe function. */
  subscribe(listener: TaskListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get listenerCount(): number {
    return this.listeners.size;
  }

  private emit(task: Task): void {
    for (const l of this.listeners) {
      // One broken listener (a dead SSE stream) must not stop the others or the transition.
      try {
        l(structuredClone(task));
      } catch {
        /* the listener's own concern */
      }
    }
  }
}
