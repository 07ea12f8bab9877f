import type { ProvisionerClient } from '@cps/openapi';
import { ProblemError } from '@cps/common';

/** Where a guest's VNC server listens. */
export interface VncTarget {
  host: string;
  port: number;
  /** The guest's VNC password, which the gateway uses to log in for the user (vnc-auth.ts). */
  password?: string;
}

/** Finds the VNC server of a task's guest; the peer hop would be a second implementation. */
export type ResolveTarget = (taskId: string) => Promise<VncTarget>;

// Guests' VNC servers listen on loopback only; a provisioner answer naming any other address is
// a bug or an attack, and dialling it would turn the gateway into an open TCP relay.
const loopbackHosts = new Set(['127.0.0.1', '::1']);

export function isLoopbackTarget(t: { host: unknown; port: unknown }): t is VncTarget {
  return (
    typeof t.host === 'string' &&
    loopbackHosts.has(t.host) &&
    typeof t.port === 'number' &&
    Number.isInteger(t.port) &&
    t.port >= 1 &&
    t.port <= 65535
  );
}

// A guest in these states has no screen to show; saying so beats a refused TCP dial.
const screenless = new Set(['shutoff', 'crashed', 'shutdown']);

/** The local provisioner's view of a task's guest (GET /vms/{taskId}), its refusals as problems. */
export async function localGuest(provisioner: ProvisionerClient, taskId: string) {
  let r;
  try {
    r = await provisioner.GET('/vms/{taskId}', { params: { path: { taskId } } });
  } catch (err) {
    throw new ProblemError('upstream-failed', `the provisioner is unreachable: ${(err as Error).message}`);
  }
  if (r.response.status === 404) throw new ProblemError('not-found', `no guest of task ${taskId} runs on this peer`);
  if (!r.data) throw new ProblemError('upstream-failed', `the provisioner answered ${r.response.status} for task ${taskId}`);
  return r.data;
}

/** Asks the local provisioner (GET /vms/{taskId}) where the guest's VNC server is. */
export function provisionerTargets(provisioner: ProvisionerClient): ResolveTarget {
  return async (taskId) => {
    const vm = await localGuest(provisioner, taskId);
    if (screenless.has(vm.state)) {
      throw new ProblemError('conflict', `the guest of task ${taskId} is ${vm.state}; it has no screen to show`);
    }
    const vnc: { host: unknown; port: unknown } = vm.console?.vnc ?? { host: undefined, port: undefined };
    // The provisioner reports port 0 until libvirt has picked the guest's VNC port.
    if (vnc.port === 0 && typeof vnc.host === 'string' && loopbackHosts.has(vnc.host)) {
      throw new ProblemError('conflict', `the guest of task ${taskId} has no VNC port yet; try again in a moment`);
    }
    if (!isLoopbackTarget(vnc)) {
      throw new ProblemError(
        'upstream-failed',
        `the provisioner gave ${JSON.stringify(vnc.host)}:${JSON.stringify(vnc.port)} as the VNC address; only 127.0.0.1 or ::1 is ever dialled`,
      );
    }
    const password = vm.console.vnc.password;
    return { host: vnc.host, port: vnc.port, ...(typeof password === 'string' && password !== '' ? { password } : {}) };
  };
}
