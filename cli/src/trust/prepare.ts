import { hostname } from 'node:os';
import { ensureClusterIdentity, fingerprintOf, trustLayout } from '@cps/trust';
import type { Color } from '../io.ts';
import { clusterKey } from '../up/cluster-key.ts';
import { envFromSettings, readClusterSettings } from './cluster-settings.ts';
import { joinCluster, JoinError } from './join.ts';
import { firstAdmin } from './first-admin.ts';
import { sourceAddressFor } from './route-source.ts';

/** The host name as a node id: 1-64 of [A-Za-z0-9._-]. */
export function defaultNodeId(name = hostname()): string {
  const id = name.replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 64);
  return id || 'node';
}

/**
 * Makes this node a member before its services start (`cps up`, `cps init`): joins when asked,
 * else makes the cluster (CA, node certificate, PEP key) the first time; then fills `env` with what
 * the services need (node id, addresses, PEP settings, PEP key). False: it said why, stop.
 */
export async function prepareNode(env: NodeJS.ProcessEnv, dataDir: string, o: { join?: string; token?: string }, say: (line: string, color?: Color) => void): Promise<boolean> {
  const layout = trustLayout(dataDir);
  const nodeId = env.CPS_NODE_ID ?? defaultNodeId();
  if (o.join !== undefined && o.token !== undefined) {
    try {
      const r = await joinCluster({ target: o.join, token: o.token, dataDir, nodeId, now: () => new Date(), say: (l) => say(l) });
      say(r.joined ? `joined the cluster as ${nodeId} through ${r.settings.joinedVia}; this node's address: ${r.settings.address}` : `not joining again: ${r.why}`, 'green');
    } catch (err) {
      if (!(err instanceof JoinError)) throw err;
      say(`FAILED to join: ${err.message}`, 'red');
      return false;
    }
  }
  Object.assign(env, envFromSettings(readClusterSettings(layout.clusterSettings), env));
  // A first node is reached at the address of its default route, so the next one can join it.
  if (env.CPS_ADVERTISE_ADDRESS === undefined) env.CPS_ADVERTISE_ADDRESS = await sourceAddressFor('192.0.2.1', 9).catch(() => '127.0.0.1');
  env.CPS_PEP_INTERFACE ??= env.CPS_ADVERTISE_ADDRESS;
  const made = await ensureClusterIdentity(dataDir, { nodeId, addresses: [env.CPS_ADVERTISE_ADDRESS], now: () => new Date() });
  if (env.CPS_NODE_ID !== undefined && env.CPS_NODE_ID !== made.identity.nodeId) {
    say(`FAILED: CPS_NODE_ID is ${env.CPS_NODE_ID}, but this node's certificate (${layout.nodeCert}) names ${made.identity.nodeId}`, 'red');
    return false;
  }
  env.CPS_NODE_ID = made.identity.nodeId;
  say(
    made.created
      ? `made the cluster's CA (SHA-256 ${fingerprintOf(made.identity.caPem).slice(0, 16)}…) and this node's certificate (${made.identity.nodeId}) in ${layout.dir}`
      : `node ${made.identity.nodeId} of cluster ${made.identity.caSha256.slice(0, 16)}… (${layout.dir})`,
  );
  const key = await clusterKey(env, dataDir);
  if (key.source === 'file') {
    env.CPS_CLUSTER_KEY = key.key;
    say(key.created ? `made the PEP key in ${key.path} (nodes that join are given it)` : `PEP key from ${key.path}`);
  } else if (key.source === 'ephemeral') {
    env.CPS_CLUSTER_KEY = key.key;
    say(`${key.why}; using a one-off PEP key: no other peer can join (set CPS_CLUSTER_KEY)`, 'yellow');
  }
  const admin = await firstAdmin(dataDir);
  if (admin) say(`made the first admin of this node's portal: name ${admin.name}, password ${admin.password} (shown only now; change it in the portal)`, 'yellow');
  return true;
}
