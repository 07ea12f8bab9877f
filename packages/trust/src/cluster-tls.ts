import { statSync } from 'node:fs';
import type { ClusterTls, Logger } from '@cps/common';
import { IdentityMissing, loadNodeIdentity, type NodeIdentity } from './identity.ts';
import { trustLayout } from './layout.ts';
import { readRemovals, Removals } from './removals.ts';

/** Timers as a dependency, so a node can run on a virtual clock. */
export interface Timers {
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

export const realTimers: Timers = {
  setInterval: (fn, ms) => {
    const h = setInterval(fn, ms);
    h.unref();
    return h;
  },
  clearInterval: (h) => clearInterval(h as NodeJS.Timeout),
};

/** The member check over a live set of removals. */
export function clusterTlsOf(identity: NodeIdentity, removals: () => Removals): ClusterTls {
  return {
    nodeId: identity.nodeId,
    ca: identity.caPem,
    // The chain, so a workstation that joins sees the CA it pins by the token's hash.
    cert: `${identity.certPem.trimEnd()}\n${identity.caPem}`,
    key: identity.keyPem,
    refuse(peer) {
      const r = removals().voids(peer.nodeId, peer.notBefore);
      return r ? `node ${peer.nodeId} was removed from the cluster by ${r.by} at ${r.removedAt}` : undefined;
    },
  };
}

export interface LoadedTrust {
  identity: NodeIdentity;
  tls: ClusterTls;
  removals(): Removals;
  /** Re-reads the removals file now (discovery calls it after it wrote one). */
  reload(): void;
  stop(): void;
}

/**
 * This node's identity and the removals, re-read whenever the removals file changes (checked
 * every `pollMs`): a `cps node remove` on any peer reaches discovery, which writes the file, and
 * every service of this node refuses the removed node's certificate from the next request on.
 */
export function loadTrust(dataDir: string, opts: { log: Logger; timers?: Timers; pollMs?: number }): LoadedTrust {
  const identity = loadNodeIdentity(dataDir);
  const path = trustLayout(dataDir).removals;
  let current = readRemovals(path);
  let seen = stamp(path);
  const reload = () => {
    try {
      current = readRemovals(path);
      seen = stamp(path);
    } catch (err) {
      // Keep the set we have: a damaged file must not let removed nodes back in.
      opts.log.error({ err, path }, 'cannot read the removals file; keeping the removals already known');
    }
  };
  const timers = opts.timers ?? realTimers;
  const handle = timers.setInterval(() => {
    const now = stamp(path);
    if (now !== seen) {
      reload();
      opts.log.info({ removals: current.size, digest: current.digest() }, 'removals changed');
    }
  }, opts.pollMs ?? 1_000);
  return {
    identity,
    tls: clusterTlsOf(identity, () => current),
    removals: () => current,
    reload,
    stop: () => timers.clearInterval(handle),
  };
}

function stamp(path: string): string {
  try {
    const s = statSync(path);
    return `${s.mtimeMs}:${s.size}:${s.ino}`;
  } catch {
    return 'none';
  }
}

/** For a service's main.ts: this node's trust, or the reason it has none on one line and exit 2. */
export function loadTrustOrExit(dataDir: string, opts: { log: Logger; timers?: Timers }): LoadedTrust {
  try {
    return loadTrust(dataDir, opts);
  } catch (err) {
    if (!(err instanceof IdentityMissing)) throw err;
    opts.log.fatal(err.message);
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
}
