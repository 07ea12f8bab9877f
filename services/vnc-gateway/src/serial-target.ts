import { join } from 'node:path';
import type { ProvisionerClient } from '@cps/openapi';
import { ProblemError } from '@cps/common';

/** Where a guest's serial port is: the unix socket QEMU listens on. */
export interface SerialTarget {
  socket: string;
}

export type ResolveSerial = (taskId: string) => Promise<SerialTarget>;

// A guest in these states has no serial port to talk to.
const portless = new Set(['shutoff', 'crashed', 'shutdown']);

/**
 * Asks the local provisioner (GET /vms/{taskId}) for the guest's serial socket. Only the one path
 * this node's provisioner makes for the task (`<socketDir>/<taskId>.sock`) is ever dialled: any
 * other answer would let the provisioner point the gateway at any unix socket on the machine.
 */
export function provisionerSerials(provisioner: ProvisionerClient, socketDir: string): ResolveSerial {
  return async (taskId) => {
    let r;
    try {
      r = await provisioner.GET('/vms/{taskId}', { params: { path: { taskId } } });
    } catch (err) {
      throw new ProblemError('upstream-failed', `the provisioner is unreachable: ${(err as Error).message}`);
    }
    if (r.response.status === 404) throw new ProblemError('not-found', `no guest of task ${taskId} runs on this peer`);
    if (!r.data) throw new ProblemError('upstream-failed', `the provisioner answered ${r.response.status} for task ${taskId}`);
    if (portless.has(r.data.state)) throw new ProblemError('conflict', `the guest of task ${taskId} is ${r.data.state}; its serial port is gone`);
    const socket: unknown = r.data.console?.serialSocket;
    if (socket === undefined) {
      throw new ProblemError('conflict', `the guest of task ${taskId} has no serial socket (it was made with a pty serial); its serial log is still at the provisioner`);
    }
    const expected = join(socketDir, `${taskId}.sock`);
    if (socket !== expected) {
      throw new ProblemError('upstream-failed', `the provisioner gave ${JSON.stringify(String(socket).slice(0, 200))} as the serial socket; only ${expected} is ever dialled`);
    }
    return { socket: expected };
  };
}
