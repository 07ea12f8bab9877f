import type { CoordinatorSchemas } from '@cps/openapi';

export type Task = CoordinatorSchemas['Task'];

/** Where tasks live. In memory for now; the interface is what a persistent store must offer. */
export interface TaskStore {
  get(id: string): Task | undefined;
  /** Newest first. */
  list(): Task[];
  put(task: Task): void;
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

  put(task: Task): void {
    this.tasks.set(task.id, task);
  }
}
