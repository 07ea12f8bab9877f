import { realTimers, type Timers } from '@cps/trust';
import type { Logger } from 'pino';
import type { HeadClaim } from './head-claim.ts';
import type { Membership } from './membership.ts';
import type { PepEndpoint } from './pep/endpoint.ts';
import type { Bodies, WireNodeInfo } from './pep/messages.ts';
import type { Self } from './self.ts';
import { membershipTiming } from './timing.ts';

/** Repeating timers as a dependency (the trust package's), so membership can run on a virtual clock. */
export type IntervalTimers = Timers;

/**
 * Membership over PEP: every `intervalMs` this node sends HELLO; HELLOs and ACKs from others
 * refresh the peer table (with the sender's time, so a reordered packet cannot roll it back),
 * LEAVE removes the sender at once, and a timer turns silence into suspect and dead.
 * A change of this node's head claim sends one HELLO at once, so peers learn a new head within a
 * round trip rather than an interval. `stop` says LEAVE.
 */
export function startMembership(o: {
  endpoint: PepEndpoint;
  membership: Membership;
  self: Self;
  log: Logger;
  /** HELLO interval; 0 sends one HELLO at start (tests). */
  intervalMs?: number;
  /** This node's head claim (PUT /head); without one, HELLO says `head: false`. */
  head?: HeadClaim;
  /** The digest of this node's removals, carried in HELLO (docs/trust.md). */
  removalsDigest?: () => string;
  /** A HELLO's removals digest, for the removal sync. */
  onRemovalsDigest?: (node: { nodeId: string; address: string; ports: WireNodeInfo['ports'] }, digest: string) => void;
  timers?: IntervalTimers;
}) {
  const { endpoint, membership } = o;
  const intervalMs = o.intervalMs ?? 1_000;
  const timers = o.timers ?? realTimers;
  let seq = 0;
  const off = endpoint.on((msg, from) => {
    if (msg.type === 'HELLO') {
      const b = msg.body;
      membership.observe(b.node, { head: b.head, ...(b.head ? { headEpoch: b.epoch } : {}), from, sentAt: msg.timestampMs });
      if (b.removals) o.onRemovalsDigest?.(b.node, b.removals);
    }
    else if (msg.type === 'ACK') membership.observe(msg.body.node, { from, sentAt: msg.timestampMs });
    else if (msg.type === 'LEAVE') membership.leave(msg.sender, msg.timestampMs);
  });
  const hello = async () => {
    try {
      const node = await o.self.info();
      // Read after the await, right before sending: HELLOs go out in the order their claims were read.
      const claim = o.head?.current();
      const removals = o.removalsDigest ? { removals: o.removalsDigest() } : {};
      const body: Bodies['HELLO'] = claim ? { node, head: true, epoch: claim.epoch, ...removals } : { node, head: false, ...removals };
      endpoint.send({ type: 'HELLO', taskId: '', seq: (seq = (seq + 1) >>> 0), body });
    } catch (err) {
      o.log.warn({ err }, 'PEP HELLO not sent');
    }
  };
  const offClaim = o.head?.subscribe(() => void hello());
  void hello();
  const handles = [
    intervalMs === 0 ? undefined : timers.setInterval(() => void hello(), intervalMs),
    timers.setInterval(() => membership.tick(), membershipTiming(intervalMs).tickMs),
  ];
  return {
    /** Sends one HELLO now (what a claim change does). */
    hello,
    stop() {
      for (const h of handles) if (h !== undefined) timers.clearInterval(h);
      offClaim?.();
      off();
      try {
        endpoint.send({ type: 'LEAVE', taskId: '', seq: (seq = (seq + 1) >>> 0), body: { nodeId: endpoint.nodeId } });
      } catch (err) {
        o.log.warn({ err }, 'PEP LEAVE not sent');
      }
    },
  };
}
