/** `host:port`, with an IPv6 literal in brackets: the one place this is spelled. */
export function hostPort(address: string, port: number): string {
  const host = address.includes(':') && !address.startsWith('[') ? `[${address}]` : address;
  return `${host}:${port}`;
}

/** The base URL of a CPS service of a node: HTTPS, since every service speaks the cluster's TLS. */
export const serviceUrl = (address: string, port: number): string => `https://${hostPort(address, port)}`;

/** The plain-HTTP base URL of a service's public routes (the portal, /healthz) on this node. */
export const plainUrl = (address: string, port: number): string => `http://${hostPort(address, port)}`;
