import type { Middleware } from 'openapi-fetch';
import { provisionerClient, storageClient, type ProvisionerClient, type StorageClient } from '@cps/openapi';
import { fenceHeaders, serviceUrl, type CommandEpoch, type FenceState, type Fetch, type ServicePorts } from '@cps/common';
import { consolePagePath } from './console/paths.ts';
import { call } from './upstream.ts';

/** A node the coordinator can reach: where it is and on which ports its services listen. */
export interface NodeAddress {
  nodeId: string;
  address: string;
  ports: ServicePorts;
}

export interface NodeClients {
  storage: StorageClient;
  provisioner: ProvisionerClient;
}

/** Builds the clients of a node's services; tests hand in clients routed into fake apps. */
export type ClientsFor = (node: NodeAddress) => NodeClients;

/** The fencing token of a command sent now (HeadView.commandEpoch), or undefined when this node does not lead. */
export type EpochOf = () => CommandEpoch | undefined;

/**
 * A node's storage and provisioner, called over the cluster's mutual TLS with `fetch` (memberFetch).
 * With `epoch`, every request carries the head's epoch and node id (CPS-Epoch, CPS-Head), read
 * when it is sent, so a host that has seen a newer head refuses it (409 stale-epoch); while `epoch`
 * gives undefined (not the head, or no head at all) requests go unfenced, as without it.
 */
export const clientsOverTls = (fetch: Fetch, epoch?: EpochOf): ClientsFor => {
  const fencing = epoch ? carryEpoch(epoch) : undefined;
  return (node) => {
    const storage = storageClient({ baseUrl: serviceUrl(node.address, node.ports.storage), fetch });
    const provisioner = provisionerClient({ baseUrl: serviceUrl(node.address, node.ports.provisioner), fetch });
    if (fencing) {
      storage.use(fencing);
      provisioner.use(fencing);
    }
    return { storage, provisioner };
  };
};

function carryEpoch(epoch: EpochOf): Middleware {
  return {
    onRequest({ request }) {
      const e = epoch();
      if (!e) return undefined;
      // An epoch the caller set itself (POST /fence with a term's epoch) is the one it means.
      if (request.headers.has(fenceHeaders.epoch)) return undefined;
      request.headers.set(fenceHeaders.epoch, String(e.epoch));
      request.headers.set(fenceHeaders.head, e.head);
      return request;
    },
  };
}

/**
 * A new head's first act on a host (docs/head.md): show its provisioner and storage the epoch, so
 * a command an older head has in flight is refused from then on. Resolves to each one's fence, or
 * throws the first UpstreamError (type urn:cps:problem:stale-epoch when a newer head exists).
 */
export async function raiseFences(node: NodeAddress, clients: NodeClients, e: CommandEpoch): Promise<{ provisioner: FenceState; storage: FenceState }> {
  const params = { header: { 'CPS-Epoch': e.epoch, 'CPS-Head': e.head } };
  const [provisioner, storage] = await Promise.all([
    call({ service: 'provisioner', nodeId: node.nodeId }, () => clients.provisioner.POST('/fence', { params })),
    call({ service: 'storage', nodeId: node.nodeId }, () => clients.storage.POST('/fence', { params })),
  ]);
  return { provisioner, storage };
}

/**
 * The noVNC page of a task's guest: on the portal's own origin (a relative URL), never a host's
 * address. Whichever node's portal the user is on carries it to its own gateway, which hops to the
 * guest's host (`node`), so the link works for a user who cannot reach that host.
 */
export const consoleUrl = (_node: NodeAddress, taskId: string): string => consolePagePath(taskId);
