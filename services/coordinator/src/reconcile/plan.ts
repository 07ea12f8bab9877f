import type { ProvisionerSchemas } from '@cps/openapi';
import type { NodeAddress } from '../clients.ts';
import type { Task } from '../tasks/store.ts';

type Vm = ProvisionerSchemas['Vm'];

/** What one live peer said it runs, or that it did not answer (which is no evidence of anything). */
export type HostSurvey = { node: NodeAddress; vms: Vm[] } | { node: NodeAddress; unanswered: string };

/** A task left over from before the restart whose guest should be on a host. */
export const onAHost = new Set<Task['state']>(['starting', 'running', 'suspended']);

export type Decision =
  /** The host runs the guest: the task goes on (a `starting` one runs). */
  | { kind: 'adopt'; task: Task; node: NodeAddress; vm: Vm }
  /** The host answered and the guest is not there: a running task is lost. */
  | { kind: 'lost'; task: Task; nodeId: string }
  /** A task caught being started whose guest never came: back to the queue. */
  | { kind: 'requeue'; task: Task; node: NodeAddress }
  /** Its host did not answer (or is not a live peer): ask again later. */
  | { kind: 'wait'; task: Task; why: string };

export interface Plan {
  decisions: Decision[];
  /** Per answering host, the guests this coordinator placed that no task knows. */
  orphans: { node: NodeAddress; vms: Vm[] }[];
}

/**
 * Compares the tasks the registry holds with what the hosts run. Pure: the caller applies it.
 * `leftovers` are the tasks still to be settled (on a host when the coordinator went down);
 * `known` is every task id the registry holds. A guest placed by another coordinator (or by none)
 * is not ours to judge.
 */
export function planReconcile(leftovers: Task[], known: ReadonlySet<string>, surveys: HostSurvey[], coordinatorId: string): Plan {
  const byNode = new Map(surveys.map((s) => [s.node.nodeId, s]));
  const decisions: Decision[] = leftovers.map((task): Decision => {
    const nodeId = task.node?.nodeId;
    const survey = nodeId === undefined ? undefined : byNode.get(nodeId);
    if (!survey) return { kind: 'wait', task, why: `${nodeId ?? 'its host'} is not a live peer now` };
    if ('unanswered' in survey) return { kind: 'wait', task, why: `${nodeId} did not answer: ${survey.unanswered}` };
    const vm = survey.vms.find((v) => v.taskId === task.id);
    if (vm) return { kind: 'adopt', task, node: survey.node, vm };
    return task.state === 'starting' ? { kind: 'requeue', task, node: survey.node } : { kind: 'lost', task, nodeId: survey.node.nodeId };
  });
  const orphans = surveys.flatMap((s) =>
    'unanswered' in s ? [] : [{ node: s.node, vms: s.vms.filter((v) => v.placedBy === coordinatorId && !known.has(v.taskId)) }],
  );
  return { decisions, orphans };
}
