import type { DomainState } from './hypervisor.ts';
import type { Intended } from './expectations.ts';
import type { NewEvent } from './events.ts';

/** One look at one guest. */
export interface Seen {
  state: DomainState;
  at: Date;
}

/**
 * What changed between two looks at this peer's guests that nobody here asked for. Pure: the
 * watchdog feeds it two snapshots, what the lifecycle intended, and the time of the second look.
 *
 * | seen now                      | unless intended | event      |
 * |-------------------------------|-----------------|------------|
 * | gone (was there)              | gone            | vanished   |
 * | crashed                       | —               | crashed    |
 * | shutdown / shutoff            | gone            | shutdown   |
 * | paused                        | paused, gone    | paused (io-error when libvirt says I/O error) |
 */
export function unexpectedChanges(
  before: ReadonlyMap<string, Seen>,
  now: ReadonlyMap<string, Seen>,
  intended: (taskId: string) => Intended | undefined,
  at: Date,
): NewEvent[] {
  const events: NewEvent[] = [];
  for (const [taskId, was] of before) {
    if (now.has(taskId) || intended(taskId) === 'gone') continue;
    events.push({
      kind: 'vanished',
      taskId,
      at,
      lastSeenAt: was.at.toISOString(),
      detail: `the guest is gone and no one here asked for it (it was ${was.state}; its QEMU exited or was killed)`,
    });
  }
  for (const [taskId, seen] of now) {
    const was = before.get(taskId);
    if (was?.state === seen.state) continue;
    const lastSeenAt = was?.at.toISOString();
    const base = { taskId, at, state: seen.state, ...(lastSeenAt ? { lastSeenAt } : {}) };
    switch (seen.state) {
      case 'crashed':
        events.push({ ...base, kind: 'crashed', detail: 'libvirt reports the guest crashed' });
        break;
      case 'shutdown':
      case 'shutoff':
        if (intended(taskId) !== 'gone') events.push({ ...base, kind: 'shutdown', detail: `the guest is ${seen.state} and no one here asked for it` });
        break;
      case 'paused':
        // A guest on its way out passes through paused: libvirt pauses it to save its state.
        if (intended(taskId) !== 'paused' && intended(taskId) !== 'gone') events.push({ ...base, kind: 'paused', detail: 'the guest is paused and no one here asked for it' });
        break;
      default:
        break;
    }
  }
  return events;
}
