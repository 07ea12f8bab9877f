import { coordinatorClient, type CoordinatorSchemas } from '@cps/openapi';
import type { Host } from './hosts.ts';
import { until } from './until.ts';

export type HeadInfo = CoordinatorSchemas['HeadInfo'];

/** GET /api/head of a host's coordinator (public: no user needed). */
export async function headOf(h: Host): Promise<HeadInfo> {
  const { data, error } = await coordinatorClient({ baseUrl: h.url('coordinator'), fetch: h.cluster.fetch }).GET('/api/head');
  if (!data) throw new Error(`GET /api/head on ${h.nodeId}: ${JSON.stringify(error)}`);
  return data;
}

/**
 * Waits until `leader`'s coordinator leads the LAN and every host of `followers` forwards to it.
 * A peer whose discovery runs without a coordinator (a test's host that only lends) may be the
 * longest-up, so the head can take one lease (15 s) to claim in its stead: hence the timeout.
 */
export async function untilLeads(leader: Host, followers: Host[] = [], timeoutMs = 60_000): Promise<void> {
  await until(`${leader.nodeId} leads`, () => headOf(leader), (h) => h.role === 'head', timeoutMs);
  for (const f of followers) await until(`${f.nodeId} forwards to ${leader.nodeId}`, () => headOf(f), (h) => h.role === 'follower' && h.head?.nodeId === leader.nodeId, timeoutMs);
}
