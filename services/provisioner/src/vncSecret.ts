import type { Caller } from '@cps/common';
import type { Vm } from './vms.ts';

/**
 * A guest's VNC password and its serial socket are for this node's gateway alone: a member on
 * another node (a coordinator following a start, a peer's tools) gets the guest without them. Behind
 * the door a request names its caller; a call that did not come through it (a test of the app alone)
 * is local.
 */
export function vmFor(caller: Caller | undefined, selfNodeId: string | undefined) {
  const local = caller === undefined || (caller.kind === 'member' && caller.nodeId === selfNodeId);
  return (vm: Vm): Vm => {
    if (local || (vm.console.vnc.password === undefined && vm.console.serialSocket === undefined)) return vm;
    const { password: _secret, ...vnc } = vm.console.vnc;
    const { serialSocket: _local, ...rest } = vm.console;
    return { ...vm, console: { ...rest, vnc } };
  };
}
