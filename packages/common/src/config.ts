import { z } from 'zod';

/**
 * Reads configuration from the environment once, at start. A bad value stops the service with a
 * message naming the variable, instead of surfacing later as a confusing runtime failure.
 */
export function loadConfig<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  const r = schema.safeParse(env);
  if (r.success) return r.data;
  const lines = r.error.issues.map((i) => `  ${i.path.join('.') || '(env)'}: ${i.message}`);
  throw new Error(`invalid configuration:\n${lines.join('\n')}`);
}

/** A TCP port given as a string in the environment. */
export const portVar = (def: number) => z.coerce.number().int().min(0).max(65535).default(def);

/** The default ports of the five services of one node. */
export const defaultPorts = {
  coordinator: 8080,
  discovery: 8081,
  provisioner: 8082,
  storage: 8083,
  vncGateway: 8084,
} as const;

export type ServicePorts = { -readonly [K in keyof typeof defaultPorts]: number };

/** Reads every service's port, so any service can reach its siblings on this node. */
export const portsSchema = z.object({
  CPS_COORDINATOR_PORT: portVar(defaultPorts.coordinator),
  CPS_DISCOVERY_PORT: portVar(defaultPorts.discovery),
  CPS_PROVISIONER_PORT: portVar(defaultPorts.provisioner),
  CPS_STORAGE_PORT: portVar(defaultPorts.storage),
  CPS_VNC_GATEWAY_PORT: portVar(defaultPorts.vncGateway),
});

export function portsFrom(c: z.infer<typeof portsSchema>): ServicePorts {
  return {
    coordinator: c.CPS_COORDINATOR_PORT,
    discovery: c.CPS_DISCOVERY_PORT,
    provisioner: c.CPS_PROVISIONER_PORT,
    storage: c.CPS_STORAGE_PORT,
    vncGateway: c.CPS_VNC_GATEWAY_PORT,
  };
}

/** Where a node keeps its images, disks and state. */
export const dataDirVar = z.string().min(1).default('/var/lib/cps');
