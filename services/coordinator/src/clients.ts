import { provisionerClient, storageClient, type ProvisionerClient, type StorageClient } from '@cps/openapi';
import type { ServicePorts } from '@cps/common';

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

/** `http://host:port`, with an IPv6 literal in brackets. */
export function httpBase(address: string, port: number): string {
  const host = address.includes(':') && !address.startsWith('[') ? `[${address}]` : address;
  return `http://${host}:${port}`;
}

export const clientsOverHttp: ClientsFor = (node) => ({
  storage: storageClient({ baseUrl: httpBase(node.address, node.ports.storage) }),
  provisioner: provisionerClient({ baseUrl: httpBase(node.address, node.ports.provisioner) }),
});

/** The noVNC page of a task's guest, served by the vnc-gateway of the node that runs it. */
export const consoleUrl = (node: NodeAddress, taskId: string): string =>
  `${httpBase(node.address, node.ports.vncGateway)}/console/${encodeURIComponent(taskId)}`;
