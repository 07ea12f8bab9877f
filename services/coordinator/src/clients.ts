import { provisionerClient, storageClient, type ProvisionerClient, type StorageClient } from '@cps/openapi';
import { plainUrl, serviceUrl, type Fetch, type ServicePorts } from '@cps/common';

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

/** The noVNC page of a task's guest, served by the vnc-gateway of the node that runs it. */
export const consoleUrl = (node: NodeAddress, taskId: string): string =>
  `${plainUrl(node.address, node.ports.vncGateway)}/console/${encodeURIComponent(taskId)}`;
