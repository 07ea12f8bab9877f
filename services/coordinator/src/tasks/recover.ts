import { ProblemError, type Logger } from '@cps/common';
import type { Placer } from '../placement.ts';
import type { Problem, Tasks } from './tasks.ts';

/**
 * After a restart the registry still holds every task, but no placement or stop of the process that
 * died is still under way. Waiting tasks wait again, and so does one caught being placed (no guest
 * was asked for yet). A task caught half-stopped is failed with that said, so a stop (which cleans
 * up whatever it left on its host) is one click away. Tasks that were on a host (starting, running,
 * suspended) are left to the reconcile (reconcile/), which asks the hosts what they run.
 */
export function recoverAfterRestart(tasks: Tasks, placer: Placer, log: Logger): { requeued: number; interrupted: number } {
  let requeued = 0;
  let interrupted = 0;
  for (const t of tasks.list().reverse()) {
    if (t.state === 'placing') tasks.transition(t.id, 'queued', 'back to the queue: the coordinator restarted while it was being placed');
    if (t.state === 'pending' || t.state === 'queued' || t.state === 'placing') {
      void placer.place(t.id);
      requeued++;
    } else if (t.state === 'stopping') {
      const detail = `the coordinator restarted while this task was being stopped; stop it to clean up what it left on ${t.node?.nodeId ?? 'its host'}`;
      tasks.transition(t.id, 'failed', detail, { error: new ProblemError('interrupted', detail).toBody() as Problem });
      interrupted++;
    }
  }
  if (requeued || interrupted) log.info({ requeued, interrupted }, 'tasks taken up again after a restart');
  return { requeued, interrupted };
}
