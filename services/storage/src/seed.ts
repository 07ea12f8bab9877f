import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { StorageSchemas } from '@cps/openapi';
import type { RunTool } from './tool.ts';

export type CloudInit = StorageSchemas['CloudInit'];

export const seedIsoName = 'seed.iso';

/** The meta-data a seed gets when the request has none: cloud-init needs an instance id. */
export const defaultMetaData = (taskId: string) => `instance-id: ${taskId}\nlocal-hostname: ${taskId}\n`;

/**
 * A cloud-init NoCloud seed: an ISO 9660 image with volume id `cidata` holding user-data and
 * meta-data (and network-config when given) at its root, the convention cloud images look for.
 */
export async function buildSeedIso(run: RunTool, folder: string, taskId: string, ci: CloudInit, xorrisoBin = 'xorriso'): Promise<string> {
  const src = path.join(folder, '.seed');
  await mkdir(src, { mode: 0o755 });
  try {
    await writeFile(path.join(src, 'user-data'), ci.userData, { mode: 0o644 });
    await writeFile(path.join(src, 'meta-data'), ci.metaData ?? defaultMetaData(taskId), { mode: 0o644 });
    if (ci.networkConfig !== undefined) await writeFile(path.join(src, 'network-config'), ci.networkConfig, { mode: 0o644 });
    const iso = path.join(folder, seedIsoName);
    // Joliet and Rock Ridge keep the names exactly as written ("user-data", not "USER_DAT").
    await run(xorrisoBin, ['-as', 'mkisofs', '-quiet', '-output', iso, '-volid', 'cidata', '-joliet', '-rock', src], { timeoutMs: 60_000 });
    return iso;
  } finally {
    await rm(src, { recursive: true, force: true });
  }
}
