import type { CoordinatorSchemas } from '@cps/openapi';
import type { ClientsFor, NodeAddress } from '../clients.ts';
import { call } from '../upstream.ts';

type Task = CoordinatorSchemas['Task'];

/**
 * The task with its guest's IP addresses, asked of the provisioner that runs it (GET /vms/{taskId},
 * which has them from the guest's qemu-guest-agent). Live, not stored: a guest's addresses change
 * under DHCP and mean nothing once it stops. Any failure (no agent, a slow or unreachable peer) is
 * the task without them: reading a task never fails because its guest did not say.
 */
export async function withGuestAddresses(task: Task, clientsFor: ClientsFor, signal: () => AbortSignal): Promise<Task> {
  if (task.state !== 'running' || !task.node?.ports) return task;
  const node = task.node as NodeAddress;
  try {
    const vm = await call({ service: 'provisioner', nodeId: node.nodeId }, () =>
      clientsFor(node).provisioner.GET('/vms/{taskId}', { params: { path: { taskId: task.id } }, signal: signal() }),
    );
    return vm?.addresses?.length ? { ...task, addresses: vm.addresses } : task;
  } catch {
    return task;
  }
}
