import { memberFetch, serviceUrl } from '@cps/common';
import { discoveryClient, type DiscoveryClient } from '@cps/openapi';
import { clusterTlsOf, IdentityMissing, loadNodeIdentity, Removals } from '@cps/trust';
import { intOption } from '../args.ts';
import { call, CommandError } from '../task/client.ts';

/**
 * This node's discovery, spoken to as a member: the CLI runs as root on the node and holds its
 * certificate, which is what the internal doors ask for.
 */
export function localDiscovery(env: NodeJS.ProcessEnv, opts: { dataDir?: string; port?: string }): { client: DiscoveryClient; baseUrl: string } {
  const dataDir = opts.dataDir ?? env.CPS_DATA_DIR ?? '/var/lib/cps';
  let identity;
  try {
    identity = loadNodeIdentity(dataDir);
  } catch (err) {
    if (err instanceof IdentityMissing) throw new CommandError(err.message);
    if ((err as NodeJS.ErrnoException).code === 'EACCES') throw new CommandError(`cannot read this node's key in ${dataDir}/tls: run as root`);
    throw err;
  }
  const port = intOption(opts.port ?? env.CPS_DISCOVERY_PORT, '--port', 1, 65535, 8081);
  const baseUrl = serviceUrl('127.0.0.1', port);
  return { client: discoveryClient({ baseUrl, fetch: memberFetch(clusterTlsOf(identity, () => new Removals())) }), baseUrl };
}

/** One call to the local discovery: its data, or a CommandError with its problem or why it was unreachable. */
export const ask = <T>(baseUrl: string, fn: () => Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> =>
  call(baseUrl, fn, "this node's discovery", 'is `cps up` running?');
