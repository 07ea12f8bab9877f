import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export type KeyDecision =
  | { source: 'env' }
  | { source: 'insecure' }
  | { source: 'file'; path: string; key: string; created: boolean }
  | { source: 'ephemeral'; key: string; why: string };

/**
 * Discovery refuses to run without a PEP key. So that a plain `cps up` runs a node, the key lives
 * in the data dir (made once, readable by root only) unless CPS_CLUSTER_KEY or CPS_PEP_INSECURE=1
 * says otherwise; every peer of one cluster needs the same key.
 */
export async function clusterKey(env: NodeJS.ProcessEnv, dataDir: string): Promise<KeyDecision> {
  if (env.CPS_CLUSTER_KEY) return { source: 'env' };
  if (env.CPS_PEP_INSECURE === '1') return { source: 'insecure' };
  const path = join(dataDir, 'cluster.key');
  try {
    const key = (await readFile(path, 'utf8')).trim();
    if (key.length >= 16) return { source: 'file', path, key, created: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return { source: 'ephemeral', key: fresh(), why: `cannot read ${path}: ${(err as Error).message}` };
  }
  const key = fresh();
  try {
    await mkdir(dataDir, { recursive: true });
    await writeFile(path, `${key}\n`, { mode: 0o600 });
    return { source: 'file', path, key, created: true };
  } catch (err) {
    return { source: 'ephemeral', key, why: `cannot write ${path}: ${(err as Error).message}` };
  }
}

const fresh = () => randomBytes(32).toString('hex');
