import type { DiscoverySchemas } from '@cps/openapi';
import type { Host } from '../helpers/hosts.ts';

type Peer = DiscoverySchemas['Peer'];

/** One value of a Prometheus text exposition, 0 when the series does not exist yet. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = m[2] ? m[2].split(',') : [];
    if (want.length === have.length && want.every((w) => have.includes(w))) return Number(m[3]);
  }
  return 0;
}

export async function metrics(h: Host): Promise<string> {
  const { data, error } = await h.discovery.GET('/metrics', { parseAs: 'text' });
  if (data === undefined) throw new Error(`GET /metrics on ${h.nodeId}: ${JSON.stringify(error)}`);
  return data;
}

export async function peers(h: Host): Promise<Peer[]> {
  const { data, error } = await h.discovery.GET('/peers');
  if (!data) throw new Error(`GET /peers on ${h.nodeId}: ${JSON.stringify(error)}`);
  return data.items;
}

/** Polls until `ok` holds; the timeout is generous, the wait ends as soon as it holds. */
export async function until<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await read();
    if (ok(last)) return last;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms; last seen: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export const stateOf = (ps: Peer[], nodeId: string) => ps.find((p) => p.nodeId === nodeId)?.state;

export const taskId = () => `t-${Math.random().toString(16).slice(2, 10).padEnd(8, '0')}`;
