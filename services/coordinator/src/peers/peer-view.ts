import type { CoordinatorSchemas, DiscoverySchemas } from '@cps/openapi';
import type { User } from '../accounts/types.ts';
import { mayTouch } from '../tasks/ownership.ts';
import { endedStates } from '../tasks/states.ts';
import type { Task } from '../tasks/store.ts';
import { ownerActivity } from './owner-activity.ts';

type ClusterPeer = CoordinatorSchemas['ClusterPeer'];
type NodeInfo = DiscoverySchemas['NodeInfo'];
type Peer = DiscoverySchemas['Peer'];

/** States in which a task holds nothing on its node (ended, or not placed yet). */
const offNode: ReadonlySet<Task['state']> = new Set(['pending', 'queued', ...endedStates]);

/**
 * The Peers page's rows: this node first, then every peer discovery knows, with the tasks this
 * coordinator placed on each. Everyone sees how many tasks a peer runs; only the owner (or an
 * admin; with no accounts at all, anyone) sees which. Pure: the route hands in what discovery and the registry said.
 */
export function peerViews(self: NodeInfo, peers: Peer[], tasks: Task[], caller: User | undefined): ClusterPeer[] {
  const onNode = new Map<string, Task[]>();
  for (const t of tasks) {
    if (!t.node || offNode.has(t.state)) continue;
    const list = onNode.get(t.node.nodeId) ?? [];
    list.push(t);
    onNode.set(t.node.nodeId, list);
  }
  const view = (n: NodeInfo, extra: Pick<ClusterPeer, 'self' | 'state'> & Partial<Pick<ClusterPeer, 'head' | 'lastSeenMs'>>): ClusterPeer => {
    const here = onNode.get(n.nodeId) ?? [];
    return {
      nodeId: n.nodeId,
      address: n.address,
      ...extra,
      uptimeSec: n.uptimeSec,
      ...(n.load === undefined ? {} : { load: n.load }),
      ...(n.accelerator ? { accelerator: n.accelerator } : {}),
      ...(n.total ? { lends: n.total } : {}),
      ...(n.free ? { free: n.free } : {}),
      owner: ownerActivity(n.load, n.total, n.free),
      tasks: {
        count: here.length,
        items: here
          .filter((t) => mayTouch(caller, t))
          .map((t) => ({ id: t.id, name: t.name, state: t.state, ...(t.owner ? { owner: t.owner.name } : {}) })),
      },
    };
  };
  const others = peers.filter((p) => p.nodeId !== self.nodeId).sort((a, b) => a.nodeId.localeCompare(b.nodeId));
  return [
    view(self, { self: true, state: 'alive' }),
    ...others.map((p) => view(p, { self: false, state: p.state, head: p.head, lastSeenMs: p.lastSeenMs })),
  ];
}
