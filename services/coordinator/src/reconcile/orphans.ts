import type { CoordinatorSchemas, ProvisionerSchemas } from '@cps/openapi';
import { ProblemError } from '@cps/common';
import type { NodeAddress } from '../clients.ts';

export type Orphan = CoordinatorSchemas['Orphan'];
type Vm = ProvisionerSchemas['Vm'];

/**
 * The guests this coordinator placed that no task of its registry knows, as the last reconcile
 * of each node found them. Held in memory: every start finds them again on the hosts, which are
 * the truth about what runs.
 */
export class Orphans {
  private readonly byId = new Map<string, Orphan & { node: NodeAddress }>();

  constructor(private readonly now: () => Date) {}

  /** What `node` runs now that is an orphan; the node's earlier ones that are gone are forgotten. */
  foundOn(node: NodeAddress, vms: Vm[]): void {
    const seen = new Set(vms.map((v) => v.taskId));
    for (const [id, o] of this.byId) if (o.node.nodeId === node.nodeId && !seen.has(id)) this.byId.delete(id);
    for (const vm of vms) {
      const earlier = this.byId.get(vm.taskId);
      this.byId.set(vm.taskId, {
        taskId: vm.taskId,
        node: { nodeId: node.nodeId, address: node.address, ports: { ...node.ports } },
        name: vm.name,
        state: vm.state,
        vcpus: vm.vcpus,
        memoryMiB: vm.memoryMiB,
        since: earlier?.since ?? this.now().toISOString(),
      });
    }
  }

  /** Oldest first. */
  list(): Orphan[] {
    return [...this.byId.values()].sort((a, b) => (a.since < b.since ? -1 : a.since > b.since ? 1 : 0)).map((o) => structuredClone(o));
  }

  /** The orphan with its node's address, or `not-found`. */
  require(taskId: string): Orphan & { node: NodeAddress } {
    const o = this.byId.get(taskId);
    if (!o) throw new ProblemError('not-found', `no orphan guest ${taskId}`);
    return structuredClone(o);
  }

  /** It was adopted or destroyed. */
  forget(taskId: string): void {
    this.byId.delete(taskId);
  }
}
