import { randomInt } from 'node:crypto';
import { ProblemError } from '@cps/common';
import type { DiscoverySchemas } from '@cps/openapi';
import type { Logger } from 'pino';
import type { Metrics } from './metrics.ts';
import { FLAG_FETCHES_IMAGE, FLAG_RETRANSMIT } from './pep/codec.ts';
import type { PepEndpoint } from './pep/endpoint.ts';
import { MAX_CONFIRM_BACKUPS, PUBLISH_TTL_MAX_MS, type AckNode, type PepMessage, type Requirements } from './pep/messages.ts';
import { realTimers, retransmitOffsets, type Timers } from './timing.ts';

type NodeInfo = DiscoverySchemas['NodeInfo'];
export type Placement = DiscoverySchemas['Placement'];

export interface PublishInput {
  taskId: string;
  requirements: Requirements;
  timeoutMs: number;
  exclude?: string[];
}

export interface PublisherOptions {
  endpoint: PepEndpoint;
  metrics: Metrics;
  log: Logger;
  /** Who we know of, for the "no capable node" message. */
  describePeers: () => string;
  timers?: Timers;
  /** After the first ACK, how long later ACKs still count as backups. */
  collectMs?: number;
  /** After CONFIRM, how long a late ACKer is still told RELEASE (its hold would lapse anyway). */
  lingerMs?: number;
  /** How long CONFIRM is resent until the chosen node answers CONFIRMED (or REJECT); under its offer hold. */
  confirmDeadlineMs?: number;
}

const toNodeInfo = (n: AckNode): NodeInfo => ({ ...n });

/** Placements remembered for a later release: enough for every task a head places in a long while. */
const MAX_REMEMBERED = 4096;
/** A RELEASE of a stopped task's hold is resent over this long (UDP may lose one; handling is idempotent). */
const RELEASE_RESEND_MS = 1_500;

export interface Released {
  taskId: string;
  released: boolean;
  node?: string;
}

/**
 * The publishing side of PEP (paper §V-C1): PUBLISH the requirements, resend with backoff until
 * the first ACK, take the first ACKer as host, CONFIRM to it naming the others as backups, and
 * RELEASE every other ACKer. CONFIRM is advisory: the coordinator's PUT /vms is the real commit.
 */
export function createPublisher(o: PublisherOptions) {
  const timers = o.timers ?? realTimers;
  const collectMs = o.collectMs ?? 100;
  const lingerMs = o.lingerMs ?? 2_000;
  const confirmDeadlineMs = o.confirmDeadlineMs ?? 4_000;
  let nextSeq = randomInt(1, 0x7fffffff);
  // The last exchange that placed each task, so a stop can RELEASE the chosen node's hold.
  const placed = new Map<string, { seq: number; chosen: string }>();

  function publish(input: PublishInput): Promise<Placement> {
    const { endpoint } = o;
    const seq = nextSeq;
    nextSeq = (nextSeq + 1) >>> 0 || 1;
    const { taskId } = input;
    const exclude = new Set(input.exclude ?? []);
    const acks: AckNode[] = [];
    // ACKers that lack the image and would fetch it first (FLAG_FETCHES_IMAGE).
    const fetchers = new Set<string>();
    const startedAt = timers.now();
    let ackMs: number | undefined;
    let decided = false;
    const pending: unknown[] = [];
    const later = (ms: number, fn: () => void) => pending.push(timers.setTimeout(fn, ms));
    const stopTimers = () => pending.splice(0).forEach((h) => timers.clearTimeout(h));
    const release = (to: string, reason: string) => endpoint.send({ type: 'RELEASE', taskId, seq, body: { to, reason } });

    return new Promise<Placement>((resolve, reject) => {
      const off = endpoint.on(onMessage);
      let confirming: { to: string; timers: unknown[] } | undefined;
      const finish = () => {
        decided = true;
        stopTimers();
        // Keep listening a little to RELEASE stragglers and hear CONFIRMED, then let go.
        timers.setTimeout(off, Math.max(lingerMs, confirmDeadlineMs));
      };
      const confirmDone = (outcome: 'confirmed' | 'rejected' | 'unanswered', detail?: string) => {
        if (!confirming) return;
        confirming.timers.forEach((h) => timers.clearTimeout(h));
        o.metrics.inc('pep_confirm_total', 'CONFIRMs, by how the chosen node answered', { outcome });
        const line = { taskId, seq, chosen: confirming.to, outcome, detail };
        if (outcome === 'confirmed') o.log.debug(line, 'PEP CONFIRM acknowledged');
        // The placement stands (PUT /vms is the real commit), but the chosen node may not be holding its capacity.
        else o.log.warn(line, 'PEP CONFIRM not acknowledged');
        confirming = undefined;
      };

      function onMessage(msg: PepMessage) {
        if (msg.taskId !== taskId || msg.seq !== seq) return;
        if (msg.type === 'ACK') {
          if (msg.flags & FLAG_FETCHES_IMAGE) fetchers.add(msg.sender);
          return onAck(msg.body.node);
        }
        if (confirming && msg.sender === confirming.to && 'to' in msg.body && msg.body.to === endpoint.nodeId) {
          if (msg.type === 'CONFIRMED') return confirmDone('confirmed');
          if (msg.type === 'REJECT') return confirmDone('rejected', msg.body.reason);
        }
        if (msg.type === 'REJECT' && msg.body.to === endpoint.nodeId && !decided) {
          // An ACKer took its offer back before we chose: forget it.
          const i = acks.findIndex((a) => a.nodeId === msg.sender);
          if (i >= 0) acks.splice(i, 1);
          o.log.info({ taskId, node: msg.sender, reason: msg.body.reason }, 'PEP ACK withdrawn');
        }
      }

      function onAck(node: AckNode) {
        if (decided) return release(node.nodeId, 'late: the task was placed elsewhere');
        if (exclude.has(node.nodeId)) return release(node.nodeId, 'excluded for this task');
        if (acks.some((a) => a.nodeId === node.nodeId)) return; // an ACK to a retransmission
        acks.push(node);
        if (acks.length === 1) {
          ackMs = timers.now() - startedAt;
          stopTimers();
          later(collectMs, decide);
        }
      }

      function decide() {
        // A node that holds the image goes before one that would fetch it first; otherwise ACK order.
        const [chosen, ...others] = [...acks.filter((a) => !fetchers.has(a.nodeId)), ...acks.filter((a) => fetchers.has(a.nodeId))];
        if (!chosen) {
          // Every ACKer withdrew during the window: treat as no answer.
          return fail();
        }
        finish();
        const backups = others.slice(0, MAX_CONFIRM_BACKUPS).map((b) => ({ nodeId: b.nodeId, address: b.address }));
        const confirm = () => endpoint.send({ type: 'CONFIRM', taskId, seq, body: { chosen: chosen.nodeId, backups } });
        confirm();
        // A lost CONFIRM would let the chosen node's hold lapse before PUT /vms: resend until answered.
        confirming = {
          to: chosen.nodeId,
          timers: [
            ...retransmitOffsets(confirmDeadlineMs).map((at) => timers.setTimeout(confirm, at)),
            timers.setTimeout(() => confirmDone('unanswered'), confirmDeadlineMs),
          ],
        };
        for (const b of others) release(b.nodeId, 'backup only: not chosen to host');
        placed.delete(taskId); // re-inserted: the map's order is the age order trimmed below
        placed.set(taskId, { seq, chosen: chosen.nodeId });
        for (const old of placed.keys()) {
          if (placed.size <= MAX_REMEMBERED) break;
          placed.delete(old);
        }
        o.metrics.inc('pep_publish_total', 'Publishes, by outcome', { outcome: 'placed' });
        o.log.info({ taskId, seq, chosen: chosen.nodeId, backups: others.map((b) => b.nodeId), ackMs }, 'PEP task placed');
        resolve({ taskId, chosen: toNodeInfo(chosen), backups: others.map(toNodeInfo), ackMs: ackMs ?? 0 });
      }

      function fail() {
        finish();
        o.metrics.inc('pep_publish_total', 'Publishes, by outcome', { outcome: 'no-capable-node' });
        const ex = exclude.size ? `; excluded: ${[...exclude].join(', ')}` : '';
        reject(
          new ProblemError(
            'no-capable-node',
            `no peer answered within ${input.timeoutMs} ms with enough free capacity for ${input.requirements.vcpus} vCPU, ` +
              `${input.requirements.memoryMiB} MiB memory, ${input.requirements.diskMiB} MiB disk` +
              `${input.requirements.needsKvm ? ', KVM' : ''}; peers known: ${o.describePeers()}${ex}`,
          ),
        );
      }

      // Each send carries the time this exchange still waits: a responder that would answer later
      // (a slow provisioner read, a queue of datagrams) stays silent instead of holding for no one.
      const ttlMs = () => Math.min(PUBLISH_TTL_MAX_MS, Math.max(1, input.timeoutMs - (timers.now() - startedAt)));
      const sendPublish = (flags: number) => endpoint.send({ type: 'PUBLISH', taskId, seq, flags, body: { requirements: input.requirements, ttlMs: ttlMs() } });
      try {
        sendPublish(0);
      } catch (err) {
        finish();
        return reject(err); // a message we cannot encode is our bug: surfaces as a 500, logged
      }
      for (const at of retransmitOffsets(input.timeoutMs)) later(at, () => sendPublish(FLAG_RETRANSMIT));
      later(input.timeoutMs, fail);
    });
  }

  /**
   * The task's guest is gone: RELEASE the hold its host keeps for it (a confirmed hold otherwise
   * lasts until the host's provisioner lists the guest, or 60 s). Idempotent; `released: false`
   * when this node does not remember placing the task (already released, or placed before a restart).
   */
  function release(taskId: string, reason: string): Released {
    const p = placed.get(taskId);
    if (!p) return { taskId, released: false };
    placed.delete(taskId);
    const send = () => o.endpoint.send({ type: 'RELEASE', taskId, seq: p.seq, body: { to: p.chosen, reason } });
    send();
    for (const at of retransmitOffsets(RELEASE_RESEND_MS)) timers.setTimeout(send, at);
    o.metrics.inc('pep_release_total', 'Holds released because the task ended');
    o.log.info({ taskId, seq: p.seq, node: p.chosen, reason }, 'PEP hold released');
    return { taskId, released: true, node: p.chosen };
  }

  return { publish, release };
}

export type Publisher = ReturnType<typeof createPublisher>;
