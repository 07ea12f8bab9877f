import type { CoordinatorSchemas } from '@cps/openapi';

export type Task = CoordinatorSchemas['Task'];

/** Where tasks live: MemoryTaskStore in tests, the registry's SqliteTaskStore in a node. */
export interface TaskStore {
  get(id: string): Task | undefined;
  /** Newest first. */
  list(): Task[];
  /** `owner` (a user id) is given when the task is made; a later put keeps the stored owner. */
  put(task: Task, owner?: string | null): void;
  /** Forgets the task with its history; false if there was none. */
  delete(id: string): boolean;
}

export class MemoryTaskStore implements TaskStore {
  private readonly tasks = new Map<string, Task>();

  get(id: string): Task | undefined {
    return this.tasks.get(id);
  }

  list(): Task[] {
    // Insertion order is creation order; reversing gives newest first without comparing clocks.
    return [...this.tasks.values()].reverse();
  }

  // The owner travels in the task itself (Task.owner); the id is for stores that index it.
  put(task: Task, _owner?: string | null): void {
    this.tasks.set(task.id, task);
  }

  delete(id: string): boolean {
    return this.tasks.delete(id);
  }
}
