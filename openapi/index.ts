import createClient, { type Client, type ClientOptions } from 'openapi-fetch';
import { fileURLToPath } from 'node:url';
import type { paths as CoordinatorPaths, components as CoordinatorComponents } from './gen/coordinator.ts';
import type { paths as DiscoveryPaths, components as DiscoveryComponents } from './gen/discovery.ts';
import type { paths as ProvisionerPaths, components as ProvisionerComponents } from './gen/provisioner.ts';
import type { paths as StoragePaths, components as StorageComponents } from './gen/storage.ts';
import type { paths as VncGatewayPaths, components as VncGatewayComponents } from './gen/vnc-gateway.ts';

export type { CoordinatorPaths, DiscoveryPaths, ProvisionerPaths, StoragePaths, VncGatewayPaths };
export type CoordinatorSchemas = CoordinatorComponents['schemas'];
export type DiscoverySchemas = DiscoveryComponents['schemas'];
export type ProvisionerSchemas = ProvisionerComponents['schemas'];
export type StorageSchemas = StorageComponents['schemas'];
export type VncGatewaySchemas = VncGatewayComponents['schemas'];

/** Where each service's contract lives, for request validation at its boundary. */
export const specFiles = {
  coordinator: fileURLToPath(new URL('./coordinator.yaml', import.meta.url)),
  discovery: fileURLToPath(new URL('./discovery.yaml', import.meta.url)),
  provisioner: fileURLToPath(new URL('./provisioner.yaml', import.meta.url)),
  storage: fileURLToPath(new URL('./storage.yaml', import.meta.url)),
  vncGateway: fileURLToPath(new URL('./vnc-gateway.yaml', import.meta.url)),
} as const;

/**
 * Typed clients. `baseUrl` is a peer's address and port; in tests pass
 * `fetch: (req) => app.fetch(req)` to talk to another service's app with no socket.
 */
export type CoordinatorClient = Client<CoordinatorPaths>;
export type DiscoveryClient = Client<DiscoveryPaths>;
export type ProvisionerClient = Client<ProvisionerPaths>;
export type StorageClient = Client<StoragePaths>;
export type VncGatewayClient = Client<VncGatewayPaths>;

export const coordinatorClient = (o: ClientOptions): CoordinatorClient => createClient<CoordinatorPaths>(o);
export const discoveryClient = (o: ClientOptions): DiscoveryClient => createClient<DiscoveryPaths>(o);
export const provisionerClient = (o: ClientOptions): ProvisionerClient => createClient<ProvisionerPaths>(o);
export const storageClient = (o: ClientOptions): StorageClient => createClient<StoragePaths>(o);
export const vncGatewayClient = (o: ClientOptions): VncGatewayClient => createClient<VncGatewayPaths>(o);

/** A test helper: route a client's requests straight into a Hono app's fetch. */
export const viaApp = (app: { fetch: (req: Request) => Response | Promise<Response> }): ClientOptions => ({
  baseUrl: 'http://app.invalid',
  fetch: (req: Request) => Promise.resolve(app.fetch(req)),
});
