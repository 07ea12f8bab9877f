import { provisionerClient, storageClient, type ProvisionerClient, type StorageClient } from '@cps/openapi';
import { serviceUrl, type Fetch, type ServicePorts } from '@cps/common';
import { consolePagePath } from './console/paths.ts';

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

/** A node's storage and provisioner, called over the cluster's mutual TLS with `fetch` (memberFetch). */
export const clientsOverTls =
  (fetch: Fetch): ClientsFor =>
  (node) => ({
    storage: storageClient({ baseUrl: serviceUrl(node.address, node.ports.storage), fetch }),
    provisioner: provisionerClient({ baseUrl: serviceUrl(node.address, node.ports.provisioner), fetch }),
  });

/**
 * The noVNC page of a task's guest: on the portal's own origin (a relative URL), never a host's
 * address. Whichever node's portal the user is on carries it to its own gateway, which hops to the
 * guest's host (`node`), so the link works for a user who cannot reach that host.
 */
export const consoleUrl = (_node: NodeAddress, taskId: string): string => consolePagePath(taskId);
