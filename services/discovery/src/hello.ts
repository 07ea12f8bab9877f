import type { Logger } from 'pino';
import type { Membership } from './membership.ts';
import type { PepEndpoint } from './pep/endpoint.ts';
import type { Self } from './self.ts';

/**
 * Minimal membership over PEP: every `intervalMs` this node multicasts HELLO; HELLOs and ACKs
 * from others refresh the peer table, LEAVE removes the sender. `stop` says LEAVE.
 */
export function startMembership(o: {
  endpoint: PepEndpoint;
  membership: Membership;
  self: Self;
  log: Logger;
  intervalMs?: number;
  isHead?: () => boolean;
}) {
  const { endpoint, membership } = o;
  let seq = 0;
  const off = endpoint.on((msg) => {
    if (msg.type === 'HELLO') membership.observe(msg.body.node, msg.body.head);
    else if (msg.type === 'ACK') membership.observe(msg.body.node);
    else if (msg.type === 'LEAVE') membership.remove(msg.sender);
  });
  const hello = async () => {
    try {
      const node = await o.self.info();
      endpoint.send({ type: 'HELLO', taskId: '', seq: (seq = (seq + 1) >>> 0), body: { node, head: o.isHead?.() ?? false } });
    } catch (err) {
      o.log.warn({ err }, 'PEP HELLO not sent');
    }
  };
  void hello();
  const timer = o.intervalMs === 0 ? undefined : setInterval(hello, o.intervalMs ?? 1_000);
  timer?.unref();
  return {
    stop() {
      if (timer) clearInterval(timer);
      off();
      try {
        endpoint.send({ type: 'LEAVE', taskId: '', seq: (seq = (seq + 1) >>> 0), body: { nodeId: endpoint.nodeId } });
      } catch (err) {
        o.log.warn({ err }, 'PEP LEAVE not sent');
      }
    },
  };
}
