import { problemTypeUri } from '@cps/common';
import type { ProvisionerSchemas } from '@cps/openapi';
import { UpstreamError } from '../upstream.ts';

type Vm = ProvisionerSchemas['Vm'];

export interface UntilRunningOptions {
  nodeId: string;
  now: () => Date;
  sleep: (ms: number) => Promise<void>;
  pollIntervalMs: number;
  /** How long a created guest may take to report `running`. */
  startTimeoutMs: number;
  /** Called before each look; throws to give up (the task was stopped meanwhile). */
  checkpoint?: () => void;
}

const guestDead = new Set(['crashed', 'shutoff', 'shutdown']);

/**
 * Polls a just-created guest until libvirt says it runs. A dead guest, or one still not running
 * at the deadline, is an UpstreamError of the provisioner (so placement tries another host).
 */
export async function untilRunning(first: Vm, look: () => Promise<Vm>, o: UntilRunningOptions): Promise<Vm> {
  const where = { service: 'provisioner' as const, nodeId: o.nodeId };
  const deadline = o.now().getTime() + o.startTimeoutMs;
  let vm = first;
  for (;;) {
    o.checkpoint?.();
    if (vm.state === 'running') return vm;
    if (guestDead.has(vm.state)) {
      throw new UpstreamError({ ...where, type: problemTypeUri('upstream-failed'), status: 502, detail: `the guest is ${vm.state}` });
    }
    if (o.now().getTime() >= deadline) {
      throw new UpstreamError({
        ...where, type: problemTypeUri('upstream-failed'), status: 504,
        detail: `the guest did not reach running within ${Math.round(o.startTimeoutMs / 1000)} s (last state: ${vm.state})`,
      });
    }
    await o.sleep(o.pollIntervalMs);
    vm = await look();
  }
}
