import { createConnection } from 'node:net';
import { fileURLToPath } from 'node:url';
import { defaultPorts, loadConfig, portsFrom, portsSchema, type ServicePorts } from '@cps/common';
import { UsageError } from '../args.ts';

/** The five services of a node, in port order (coordinator first: base+0 is the portal). */
export const serviceNames = ['coordinator', 'discovery', 'provisioner', 'storage', 'vnc-gateway'] as const;
export type ServiceName = (typeof serviceNames)[number];

export const portKey = {
  coordinator: 'coordinator',
  discovery: 'discovery',
  provisioner: 'provisioner',
  storage: 'storage',
  'vnc-gateway': 'vncGateway',
} as const satisfies Record<ServiceName, keyof ServicePorts>;

export const portEnv = {
  coordinator: 'CPS_COORDINATOR_PORT',
  discovery: 'CPS_DISCOVERY_PORT',
  provisioner: 'CPS_PROVISIONER_PORT',
  storage: 'CPS_STORAGE_PORT',
  'vnc-gateway': 'CPS_VNC_GATEWAY_PORT',
} as const satisfies Record<ServiceName, string>;

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

export const entryOf = (svc: ServiceName): string => `services/${svc}/src/main.ts`;

/** Offset of the PEP multicast port from --ports-base, so a test node never hears a real one. */
export const pepOffset = 9;

export interface NodePlan {
  ports: ServicePorts;
  /** The environment every child gets: ours, plus the ports and data dir decided here. */
  env: NodeJS.ProcessEnv;
}

/**
 * Decides ports and environment for one node: `--ports-base` wins over CPS_*_PORT, which win over
 * the defaults; with a base, the PEP port moves too (base+9) unless CPS_PEP_PORT is set.
 */
export function planNode(env: NodeJS.ProcessEnv, opts: { portsBase?: number; dataDir?: string }): NodePlan {
  let ports: ServicePorts;
  if (opts.portsBase !== undefined) {
    const b = opts.portsBase;
    if (b < 1024 || b + pepOffset > 65535) throw new UsageError(`--ports-base must be between 1024 and ${65535 - pepOffset}, got ${b}`);
    ports = { ...defaultPorts };
    serviceNames.forEach((s, i) => (ports[portKey[s]] = b + i));
  } else {
    try {
      ports = portsFrom(loadConfig(portsSchema, env));
    } catch (err) {
      throw new UsageError((err as Error).message.replace(/\n\s*/g, ' '));
    }
  }
  const childEnv: NodeJS.ProcessEnv = { ...env };
  for (const s of serviceNames) childEnv[portEnv[s]] = String(ports[portKey[s]]);
  if (opts.portsBase !== undefined && !env.CPS_PEP_PORT) childEnv.CPS_PEP_PORT = String(opts.portsBase + pepOffset);
  if (opts.dataDir) childEnv.CPS_DATA_DIR = opts.dataDir;
  return { ports, env: childEnv };
}

/** The ports something already answers on (127.0.0.1), so `cps up` can say so before starting anything. */
export async function portsInUse(ports: ServicePorts): Promise<{ svc: ServiceName; port: number }[]> {
  const answers = (port: number) =>
    new Promise<boolean>((resolve) => {
      const s = createConnection({ host: '127.0.0.1', port, timeout: 1_000 });
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('timeout', () => (s.destroy(), resolve(false)));
      s.once('error', () => resolve(false));
    });
  const checked = await Promise.all(serviceNames.map(async (svc) => ({ svc, port: ports[portKey[svc]], taken: await answers(ports[portKey[svc]]) })));
  return checked.filter((c) => c.taken).map(({ svc, port }) => ({ svc, port }));
}
