import type { Rinfo, Transport } from './socket.ts';

export interface FanoutOptions {
  /** false (seed mode): a message for "everyone" goes by unicast to each target instead of the group. */
  multicast: boolean;
  /** This node's own PEP address: a one-node CPS must hear its own PUBLISH, as multicast loopback gives. */
  self: Rinfo;
  /** Configured seeds (CPS_PEP_SEEDS). */
  seeds: Rinfo[];
  /** Peers learned from HELLOs and ACKs (not dead), read at each send. */
  peers: () => Rinfo[];
}

const keyOf = (r: Rinfo) => `${r.address}:${r.port}`;

/**
 * Turns a group send into unicast to self, seeds and learned peers when multicast is off
 * (docs/pep.md §1). Each target gets one copy per message: duplicates in the lists are merged,
 * and a copy that still arrives twice (a seed listed under two addresses) is dropped by the
 * receiver's replay check. Sends to one named peer pass through.
 */
export function fanoutTransport(inner: Transport, o: FanoutOptions): Transport {
  if (o.multicast) return inner;
  return {
    send(buf, to) {
      if (to) return inner.send(buf, to);
      const targets = new Map<string, Rinfo>();
      for (const r of [o.self, ...o.seeds, ...o.peers()]) targets.set(keyOf(r), r);
      for (const r of targets.values()) inner.send(buf, r);
    },
    onMessage: (cb) => inner.onMessage(cb),
    close: () => inner.close(),
  };
}

/** Parses "host:port,host:port" (IPv4 literals; a missing port means `defaultPort`). */
export function parseSeeds(text: string, defaultPort: number): Rinfo[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      const m = /^(\d{1,3}(?:\.\d{1,3}){3})(?::(\d{1,5}))?$/.exec(s);
      const port = m?.[2] === undefined ? defaultPort : Number(m[2]);
      if (!m || m[1]!.split('.').some((b) => Number(b) > 255) || port < 1 || port > 65535) {
        throw new Error(`CPS_PEP_SEEDS: "${s}" is not an IPv4 address with an optional :port`);
      }
      return { address: m[1]!, port };
    });
}
