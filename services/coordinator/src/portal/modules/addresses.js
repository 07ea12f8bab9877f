// A running task's guest addresses (its qemu-guest-agent's). The task list does not carry them (that
// would be a call to every peer per list); one task's GET does, asked of its peer live. So a running
// row without addresses asks for its task now and then: the agent comes up some time after the boot.

import { api } from './api.js';

const EVERY_MS = 20_000;
/** id → when its task was last asked for. */
const asked = new Map();

/**
 * Asks for the task's addresses when it runs and shows none, at most every 20 s per task, and asks
 * again later while the answer has none; `found` gets the task with them, `latest(id)` is the row's
 * newest copy (undefined once the row is gone: then it stops asking).
 */
export function askAddresses(task, found, latest) {
  if (!task || task.state !== 'running' || task.addresses?.length) return;
  const last = asked.get(task.id);
  const now = Date.now();
  if (last !== undefined && now - last < EVERY_MS) return;
  asked.set(task.id, now);
  void api('GET', `/api/tasks/${encodeURIComponent(task.id)}`).then((r) => {
    if (r.ok && Array.isArray(r.body?.addresses) && r.body.addresses.length) found(r.body);
    else setTimeout(() => askAddresses(latest(task.id), found, latest), EVERY_MS);
  });
}

/** The addresses as one line of text (set as text, never as HTML: they are the guest's word). */
export function addressLine(task) {
  if (!Array.isArray(task.addresses) || !task.addresses.length) return '';
  return task.addresses.map((a) => `${a.address}/${a.prefix}`).join(', ');
}

/** A newer copy of a running task without addresses (an event's) keeps the ones seen before. */
export function keepAddresses(task, old) {
  if (task.state === 'running' && !task.addresses && old?.state === 'running' && old.addresses) return { ...task, addresses: old.addresses };
  return task;
}
