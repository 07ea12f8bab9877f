import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';

/**
 * The disk the donor lends to task disks, in MiB, or undefined for no quota. The provisioner owns
 * the share policy (`$CPS_DATA_DIR/share-policy.json`, or `CPS_SHARE_POLICY_FILE`; JSON or YAML);
 * storage reads only its `diskMiB`, and `CPS_SHARE_DISK_MIB` overrides it as it does there. A
 * policy file that cannot be read or parsed is the provisioner's to report; it sets no quota here.
 */
export function diskQuotaMiB(env: { CPS_SHARE_DISK_MIB?: number | undefined; CPS_SHARE_POLICY_FILE?: string | undefined }, dataDir: string): number | undefined {
  if (env.CPS_SHARE_DISK_MIB !== undefined) return env.CPS_SHARE_DISK_MIB;
  const file = env.CPS_SHARE_POLICY_FILE ?? path.join(dataDir, 'share-policy.json');
  let parsed: unknown;
  try {
    parsed = parseYaml(readFileSync(file, 'utf8')); // YAML is a superset of JSON
  } catch {
    return undefined;
  }
  const v = (parsed as { diskMiB?: unknown } | null)?.diskMiB;
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : undefined;
}
