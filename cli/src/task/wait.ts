import type { CoordinatorSchemas } from '@cps/openapi';
import { CommandError } from './client.ts';
import { historyLine } from './format.ts';

type Task = CoordinatorSchemas['Task'];
type State = CoordinatorSchemas['TaskState'];

export interface WaitOptions {
  until: State[];
  intervalMs: number;
  timeoutMs: number;
  fetchTask: () => Promise<Task>;
  /** Called with each state change as it is seen, in order. */
  onChange: (line: string) => void;
  /** History entries already known to the user (default: none, so all are shown). */
  skip?: number;
  sleep?: (ms: number) => Promise<void>;
}

const endStates: State[] = ['running', 'stopped', 'failed'];

/**
 * Polls a task until it reaches one of `until` (or any end state), printing each history entry
 * once; a poll may miss a short-lived state, the history does not.
 */
export async function waitForTask(first: Task, o: WaitOptions): Promise<Task> {
  const sleep = o.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  const deadline = Date.now() + o.timeoutMs;
  let seen = o.skip ?? 0;
  let lastState: State | undefined = seen > 0 ? first.history[seen - 1]?.state : undefined;
  let t = first;
  for (;;) {
    for (const h of t.history.slice(seen)) {
      o.onChange(historyLine(h));
      lastState = h.state;
    }
    seen = Math.max(seen, t.history.length);
    if (t.state !== lastState) {
      o.onChange(`${t.updatedAt}  ${t.state}`);
      lastState = t.state;
    }
    if (o.until.includes(t.state) || endStates.includes(t.state)) return t;
    if (Date.now() >= deadline) {
      throw new CommandError(`task ${t.id} is still ${t.state} after ${Math.round(o.timeoutMs / 1000)} s (waiting for ${o.until.join(' or ')})`);
    }
    await sleep(o.intervalMs);
    t = await o.fetchTask();
  }
}
