import { join } from 'node:path';
import type { ProvisionerClient } from '@cps/openapi';
import { localGuest } from './console-target.ts';
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
    const vm = await localGuest(provisioner, taskId);
    if (portless.has(vm.state)) throw new ProblemError('conflict', `the guest of task ${taskId} is ${vm.state}; its serial port is gone`);
    const socket: unknown = vm.console?.serialSocket;
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
