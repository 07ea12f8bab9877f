import { ProblemError, type Logger } from '@cps/common';
import type { Placer } from '../placement.ts';
import type { Problem, Tasks } from './tasks.ts';

/**
 * After a restart the registry still holds every task, but no placement or stop of the process that
 * died is still under way. Waiting tasks wait again; a task caught half-placed or half-stopped is
 * failed with that said, so a stop (which cleans up whatever it left on its host) is one click away.
 * Running tasks stay running: their guests did not stop with the coordinator.
 */
export function recoverAfterRestart(tasks: Tasks, placer: Placer, log: Logger): { requeued: number; interrupted: number } {
  let requeued = 0;
  let interrupted = 0;
  for (const t of tasks.list().reverse()) {
    if (t.state === 'pending' || t.state === 'queued') {
      void placer.place(t.id);
      requeued++;
    } else if (t.state === 'placing' || t.state === 'starting' || t.state === 'stopping') {
      const what = t.state === 'stopping' ? 'stopped' : 'placed';
      const detail = `the coordinator restarted while this task was being ${what}; stop it to clean up what it left on ${t.node?.nodeId ?? 'its host'}`;
      tasks.transition(t.id, 'failed', detail, { error: new ProblemError('interrupted', detail).toBody() as Problem });
      interrupted++;
    }
  }
  if (requeued || interrupted) log.info({ requeued, interrupted }, 'tasks taken up again after a restart');
  return { requeued, interrupted };
}
