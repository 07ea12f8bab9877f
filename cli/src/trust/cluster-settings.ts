import { readFileSync } from 'node:fs';
import { z } from 'zod';

/** What a join decided for this node, read by every later `cps up` (trustLayout().clusterSettings). */
export const clusterSettingsSchema = z.strictObject({
  pepGroup: z.string(),
  pepPort: z.number().int(),
  pepMulticast: z.boolean(),
  pepSeeds: z.string().optional(),
  /** The address of the interface that routes to the cluster: PEP's interface and what peers dial. */
  address: z.string(),
  joinedVia: z.string(),
  joinedAt: z.string(),
});
export type ClusterSettings = z.infer<typeof clusterSettingsSchema>;

export function readClusterSettings(path: string): ClusterSettings | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  return clusterSettingsSchema.parse(JSON.parse(text));
}

/** The environment a node's services get from its cluster settings; what the operator set wins. */
export function envFromSettings(s: ClusterSettings | undefined, env: NodeJS.ProcessEnv): Record<string, string> {
  if (!s) return {};
  const out: Record<string, string> = {};
  const set = (k: string, v: string) => {
    if (env[k] === undefined) out[k] = v;
  };
  set('CPS_PEP_GROUP', s.pepGroup);
  set('CPS_PEP_PORT', String(s.pepPort));
  set('CPS_PEP_INTERFACE', s.address);
  set('CPS_ADVERTISE_ADDRESS', s.address);
  if (!s.pepMulticast) {
    set('CPS_PEP_MULTICAST', '0');
    if (s.pepSeeds) set('CPS_PEP_SEEDS', s.pepSeeds);
  }
  return out;
}
