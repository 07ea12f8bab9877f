import { ProblemError } from '@cps/common';
import type { ProvisionerSchemas } from '@cps/openapi';
import type { Problem, Tasks } from './tasks.ts';

export type VmEvent = ProvisionerSchemas['VmEvent'];
/** What the host says of the guest now (GET /vms/{id}), or `gone` (404). */
export type GuestNow = ProvisionerSchemas['VmState'] | 'gone';

export interface VmEventEffects {
  tasks: Tasks;
  /** Stops the task as a user's stop does (its disks discarded, a kept copy made). */
  stop: (id: string) => void;
}

const why: Partial<Record<VmEvent['kind'], string>> = {
  'owner-busy': "the host's owner is busy (owner-first policy)",
  paused: 'paused there, not by this coordinator',
  'io-error': 'paused there on a disk I/O error',
  'owner-idle': "the host's owner is idle again",
  crashed: 'the guest crashed',
  vanished: 'the guest is gone and no one asked (its QEMU died or was killed)',
  shutdown: 'the guest powered itself off',
};

/**
 * What an event of a task's host (the provisioner's GET /events) means for the task, applied
 * through the state machine; returns what was done, or undefined when the event changes nothing.
 * Only the task's current host counts, only while it runs or is suspended, and only an event newer
 * than the task's last change: the events of the stream's replay window, and those of this
 * coordinator's own actions, are in the record already (the hosts' clocks are taken to be in sync
 * with this one's to within the time a request takes, as NTP keeps a LAN). And only what the
 * host's answer now (`guest`) bears out: a watchdog's look taken in the middle of a pause and a
 * resume reports a pause that is over.
 */
export function applyVmEvent(e: VmEvent, nodeId: string, guest: GuestNow, d: VmEventEffects): string | undefined {
  const t = d.tasks.get(e.taskId);
  if (!t || t.node?.nodeId !== nodeId || (t.state !== 'running' && t.state !== 'suspended')) return undefined;
  if (!(Date.parse(e.at) > Date.parse(t.updatedAt))) return undefined;
  const message = `${why[e.kind] ?? e.kind} on ${nodeId}${e.detail ? ` (${e.detail})` : ''}`;
  switch (e.kind) {
    // suspended, resumed, checkpointed: done through the provisioner's API, so by a coordinator
    // (this one's actions record them); only what the host does of itself is news.
    case 'owner-busy':
    case 'paused':
    case 'io-error':
      if (t.state !== 'running' || guest !== 'paused') return undefined;
      d.tasks.transition(t.id, 'suspended', message);
      return 'suspended';
    case 'owner-idle':
      if (t.state !== 'suspended' || guest !== 'running') return undefined;
      d.tasks.transition(t.id, 'running', message);
      return 'running';
    case 'crashed':
    case 'vanished': {
      if (guest !== 'gone' && guest !== 'crashed' && guest !== 'shutoff') return undefined;
      const error = new ProblemError('guest-ended', `${message}; stop the task to clean up its disks`).toBody() as Problem;
      d.tasks.transition(t.id, 'failed', message, { error });
      return 'failed';
    }
    case 'shutdown':
      if (guest !== 'gone' && guest !== 'shutoff' && guest !== 'shutdown') return undefined;
      // The guest's own ending is the task's: what a stop does follows (disks, a kept copy).
      d.tasks.note(t.id, message);
      d.stop(t.id);
      return 'stopping';
    default:
      return undefined;
  }
}
