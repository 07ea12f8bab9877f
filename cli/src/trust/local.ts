import { isProblemBody, memberFetch, serviceUrl } from '@cps/common';
import { discoveryClient, type DiscoveryClient } from '@cps/openapi';
import { clusterTlsOf, IdentityMissing, loadNodeIdentity, Removals } from '@cps/trust';
import { intOption } from '../args.ts';
import { CommandError } from '../task/client.ts';
import { problemLine } from '../task/format.ts';

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
export async function ask<T>(baseUrl: string, fn: () => Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  let r;
  try {
    r = await fn();
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    throw new CommandError(`cannot reach this node's discovery at ${baseUrl}: ${e.cause?.code ?? e.cause?.message ?? e.message} (is \`cps up\` running?)`);
  }
  if (r.data !== undefined && r.response.ok) return r.data;
  if (isProblemBody(r.error)) throw new CommandError(problemLine(r.error));
  throw new CommandError(`HTTP ${r.response.status} from ${baseUrl}`);
}
