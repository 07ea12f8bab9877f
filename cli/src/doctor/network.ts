import type { Check } from './types.ts';
import { whyFailed } from './types.ts';

/** The interface holding `address`, from `ip -o addr show` lines ("1: lo    inet 127.0.0.1/8 …"). */
export function interfaceOf(ipAddrOutput: string, address: string): string | undefined {
  for (const line of ipAddrOutput.split('\n')) {
    const m = /^\d+:\s+(\S+)\s+inet6?\s+([^/\s]+)/.exec(line);
    if (m && m[2] === address) return m[1]!.replace(/@.*$/, '');
  }
  return undefined;
}

/** The flags in `ip -o link show dev X`: "1: lo: <LOOPBACK,UP,LOWER_UP> mtu …". */
export function linkFlags(ipLinkOutput: string): string[] {
  return /<([^>]*)>/.exec(ipLinkOutput)?.[1]?.split(',').filter(Boolean) ?? [];
}

/** Whether some route for 224.0.0.0/4 leaves through `dev`. */
export function hasMulticastRoute(ipRouteOutput: string, dev: string): boolean {
  return ipRouteOutput.split('\n').some((l) => /(^|\s)224\.0\.0\.0\/4(\s|$)/.test(l) && new RegExp(`\\sdev ${dev.replace(/[^\w.-]/g, '')}(\\s|$)`).test(l));
}

/**
 * PEP speaks UDP multicast on CPS_PEP_INTERFACE. On loopback, Linux loops multicast back even
 * without the MULTICAST flag or a route, so their absence is a warning: peers in network
 * namespaces or on a LAN need both.
 */
export const checkMulticast: Check = async (d) => {
  const name = 'multicast';
  const address = d.env.CPS_PEP_INTERFACE ?? '127.0.0.1';
  const addrs = await d.run('ip', ['-o', 'addr', 'show'], { timeoutMs: 5_000 });
  if (addrs.code !== 0) return { name, status: 'warn', detail: `cannot list interfaces: ${whyFailed(addrs, 5_000)}`, hint: 'apt-get install iproute2' };
  const dev = interfaceOf(addrs.stdout, address);
  if (!dev) return { name, status: 'FAIL', detail: `no interface has the PEP address ${address}`, hint: 'set CPS_PEP_INTERFACE to an address of this host (ip -o addr show)' };
  const link = await d.run('ip', ['-o', 'link', 'show', 'dev', dev], { timeoutMs: 5_000 });
  const routes = await d.run('ip', ['route', 'show', 'table', 'all'], { timeoutMs: 5_000 });
  const flag = linkFlags(link.stdout).includes('MULTICAST');
  const route = hasMulticastRoute(routes.stdout, dev);
  if (flag && route) return { name, status: 'ok', detail: `${dev} (${address}) has the MULTICAST flag and a 224.0.0.0/4 route` };
  const lacks = [flag ? '' : 'the MULTICAST flag', route ? '' : 'a 224.0.0.0/4 route'].filter(Boolean).join(' and ');
  const fix = [flag ? '' : `ip link set ${dev} multicast on`, route ? '' : `ip route add 224.0.0.0/4 dev ${dev}`].filter(Boolean).join(' && ');
  return { name, status: 'warn', detail: `${dev} (${address}) lacks ${lacks}${dev === 'lo' ? ' (local PEP still works on loopback)' : ''}`, hint: fix };
};
