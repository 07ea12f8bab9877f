import type { Logger } from 'pino';
import type { Membership } from './membership.ts';
import type { PepEndpoint } from './pep/endpoint.ts';
import type { WireNodeInfo } from './pep/messages.ts';
import type { Self } from './self.ts';
import { membershipTiming } from './timing.ts';

/**
 * Membership over PEP: every `intervalMs` this node sends HELLO; HELLOs and ACKs from others
 * refresh the peer table (with the sender's time, so a reordered packet cannot roll it back),
 * LEAVE removes the sender at once, and a timer turns silence into suspect and dead.
 * `stop` says LEAVE.
 */
export function startMembership(o: {
  endpoint: PepEndpoint;
  membership: Membership;
  self: Self;
  log: Logger;
  /** HELLO interval; 0 sends one HELLO at start (tests). */
  intervalMs?: number;
  isHead?: () => boolean;
  /** The digest of this node's removals, carried in HELLO (docs/trust.md). */
  removalsDigest?: () => string;
  /** A HELLO's removals digest, for the removal sync. */
  onRemovalsDigest?: (node: { nodeId: string; address: string; ports: WireNodeInfo['ports'] }, digest: string) => void;
}) {
  const { endpoint, membership } = o;
  const intervalMs = o.intervalMs ?? 1_000;
  let seq = 0;
  const off = endpoint.on((msg, from) => {
    if (msg.type === 'HELLO') {
      membership.observe(msg.body.node, { head: msg.body.head, from, sentAt: msg.timestampMs });
      if (msg.body.removals) o.onRemovalsDigest?.(msg.body.node, msg.body.removals);
    }
    else if (msg.type === 'ACK') membership.observe(msg.body.node, { from, sentAt: msg.timestampMs });
    else if (msg.type === 'LEAVE') membership.leave(msg.sender, msg.timestampMs);
  });
  const hello = async () => {
    try {
      const node = await o.self.info();
      endpoint.send({ type: 'HELLO', taskId: '', seq: (seq = (seq + 1) >>> 0), body: { node, head: o.isHead?.() ?? false, ...(o.removalsDigest ? { removals: o.removalsDigest() } : {}) } });
    } catch (err) {
      o.log.warn({ err }, 'PEP HELLO not sent');
    }
  };
  void hello();
  const timers = [
    intervalMs === 0 ? undefined : setInterval(hello, intervalMs),
    setInterval(() => membership.tick(), membershipTiming(intervalMs).tickMs),
  ];
  for (const t of timers) t?.unref();
  return {
    stop() {
      for (const t of timers) if (t) clearInterval(t);
      off();
      try {
        endpoint.send({ type: 'LEAVE', taskId: '', seq: (seq = (seq + 1) >>> 0), body: { nodeId: endpoint.nodeId } });
      } catch (err) {
        o.log.warn({ err }, 'PEP LEAVE not sent');
      }
    },
  };
}
