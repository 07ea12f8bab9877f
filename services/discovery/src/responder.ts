import type { ProvisionerSchemas } from '@cps/openapi';
import type { Logger } from 'pino';
import type { Metrics } from './metrics.ts';
import type { PepEndpoint } from './pep/endpoint.ts';
import { FLAG_FETCHES_IMAGE } from './pep/codec.ts';
import type { AckNode, MessageOf, Requirements } from './pep/messages.ts';
import { ackDelayMs, realTimers, type Timers } from './timing.ts';

type Capacity = ProvisionerSchemas['Capacity'];
type Resources = ProvisionerSchemas['Resources'];

export interface ResponderOptions {
  endpoint: PepEndpoint;
  metrics: Metrics;
  log: Logger;
  /**
   * The local provisioner's view: lendable capacity and, when known, the task ids it runs guests
   * for (a confirmed hold ends once its guest is real). Served from a cache in production, which
   * also says which guests recent snapshots listed (`lastSeen`, by snapshot `generation`).
   */
  provisioner: () => Promise<ProvisionerView>;
  /** Called when this node is chosen: its provisioner is about to change. */
  onChosen?: () => void;
  /** This node as ACKs describe it (capacity is added per answer). */
  self: () => Omit<AckNode, 'free' | 'accelerator' | 'total'>;
  timers?: Timers;
  /** How long an ACKed offer stays reserved without a CONFIRM. */
  holdMs?: number;
  /** How long a CONFIRMed offer stays reserved if the guest never shows up. */
  confirmedHoldMs?: number;
  /** Upper bound of the headroom-based ACK delay (timing.ts ackDelayMs); 0 answers at once. */
  ackDelayMaxMs?: number;
  /**
   * Whether this node's storage could fetch an image it lacks from a peer before building the disk
   * (peer-images.ts: some alive peer holds it). Its ACK then carries FLAG_FETCHES_IMAGE, and the
   * publisher prefers a node that holds the image. Absent: never, so one without the image is silent.
   */
  canFetchImage?: (sha256: string) => boolean | Promise<boolean>;
  /**
   * A fresh look at this node's storage when the cached view lacks the image: an upload made since
   * the last refresh is here already, and this node must answer as a holder, not stay silent or
   * answer "fetchable" (found by tests/hosts/image-digest: a task submitted right after its upload).
   */
  imageHere?: (sha256: string) => Promise<boolean>;
}

export interface ProvisionerView {
  capacity: Capacity;
  /** The SHA-256 of every image this node's storage holds; absent: not known (no image check). */
  images?: ReadonlySet<string>;
  guests?: Set<string>;
  generation?: number;
  lastSeen?: ReadonlyMap<string, number>;
}

/** An ACK's node body, and whether this node would fetch the PUBLISH's image first (a header flag, not the body). */
type Offer = AckNode & { fetchesImage?: true };

interface Hold {
  publisher: string;
  seq: number;
  need: Resources;
  expiresAt: number;
  confirmed: boolean;
  /** The provisioner snapshot the offer was made from: a guest listed by a later one is real. */
  generation?: number;
}

/**
 * Whether a confirmed hold has done its work: the provisioner lists its guest now (and counts it in
 * `free`), or listed it after the offer was made (it ran, and may be gone already: a stop must not
 * keep the slot until the hold lapses).
 */
export function holdOutlived(taskId: string, h: Pick<Hold, 'confirmed' | 'generation'>, view: Omit<ProvisionerView, 'capacity'>): boolean {
  if (!h.confirmed) return false;
  if (view.guests?.has(taskId)) return true;
  const seen = view.lastSeen?.get(taskId);
  return seen !== undefined && h.generation !== undefined && seen > h.generation;
}

type Decline = 'arch' | 'kvm' | 'vcpus' | 'memory' | 'disk' | 'image' | 'deadline' | 'provisioner-unreachable';

/** Why a node cannot take `req` with `free` left, or undefined when it can. */
export function declineReason(req: Requirements, free: Resources, cap: Pick<Capacity, 'arch' | 'accelerator'>): Decline | undefined {
  if (req.arch !== cap.arch) return 'arch';
  if (req.needsKvm && cap.accelerator !== 'kvm') return 'kvm';
  if (req.vcpus > free.vcpus) return 'vcpus';
  if (req.memoryMiB > free.memoryMiB) return 'memory';
  if (req.diskMiB > free.diskMiB) return 'disk';
  return undefined;
}

/**
 * The subscribing side of PEP: answer a PUBLISH (from anyone, this node included) with an ACK
 * only when the provisioner's free capacity, less what earlier ACKs still hold, covers the task.
 * Holds make two concurrent PUBLISHes unable to both win the last slot.
 */
export function createResponder(o: ResponderOptions) {
  const timers = o.timers ?? realTimers;
  const holdMs = o.holdMs ?? 5_000;
  const confirmedHoldMs = o.confirmedHoldMs ?? 60_000;
  const maxDelay = o.ackDelayMaxMs ?? 50;
  const canFetchImage = o.canFetchImage ?? (() => false);
  const { endpoint } = o;
  const holds = new Map<string, Hold>(); // by task id
  // Answers by (publisher, task, seq), so a retransmitted PUBLISH gets the same ACK.
  const answers = new Map<string, { at: number; node: Promise<Offer | null> }>();

  o.metrics.gauge('pep_holds', 'Capacity offers this node currently holds', () => holds.size);

  const sweep = (now: number) => {
    for (const [t, h] of holds) if (h.expiresAt <= now) holds.delete(t);
    for (const [k, a] of answers) if (now - a.at > holdMs * 2) answers.delete(k);
  };

  const decline = (reason: Decline, msg: MessageOf<'PUBLISH'>) => {
    o.metrics.inc('pep_publish_declined_total', 'PUBLISHes this node stayed silent to, by reason', { reason });
    o.log.debug({ taskId: msg.taskId, from: msg.sender, reason }, 'PEP publish declined');
    return null;
  };

  async function evaluate(msg: MessageOf<'PUBLISH'>): Promise<Offer | null> {
    const req = msg.body.requirements;
    let view: ProvisionerView;
    try {
      // Without a guest list, confirmed holds just run to their expiry: safe, merely conservative.
      view = await o.provisioner();
    } catch (err) {
      o.log.warn({ err, taskId: msg.taskId }, 'PEP cannot ask the provisioner for capacity; staying silent');
      return decline('provisioner-unreachable', msg);
    }
    let lacks = lacksImage(msg.body.requirements, view);
    if (lacks && o.imageHere && (await o.imageHere(lacks).catch(() => false))) lacks = undefined;
    const fetchable = lacks ? await Promise.resolve(canFetchImage(lacks)).catch((err: unknown) => (o.log.warn({ err, taskId: msg.taskId }, 'PEP cannot tell whether a peer holds the image'), false)) : false;
    // From here to the end, no await: check and reserve happen as one step.
    const cap = view.capacity;
    const now = timers.now();
    sweep(now);
    for (const [t, h] of holds) if (holdOutlived(t, h, view)) holds.delete(t); // counted by the provisioner, or gone
    holds.delete(msg.taskId); // a new attempt for the same task replaces its old offer
    const free = { ...cap.free };
    for (const h of holds.values()) {
      free.vcpus -= h.need.vcpus;
      free.memoryMiB -= h.need.memoryMiB;
      free.diskMiB -= h.need.diskMiB;
    }
    const why = declineReason(req, free, cap) ?? (lacks && !fetchable ? 'image' : undefined);
    if (why) return decline(why, msg);
    holds.set(msg.taskId, {
      publisher: msg.sender,
      seq: msg.seq,
      need: { vcpus: req.vcpus, memoryMiB: req.memoryMiB, diskMiB: req.diskMiB },
      expiresAt: now + holdMs,
      confirmed: false,
      ...(view.generation === undefined ? {} : { generation: view.generation }),
    });
    return { ...o.self(), total: cap.total, free, accelerator: cap.accelerator, ...(lacks ? { fetchesImage: true as const } : {}) };
  }

  const ack = (msg: MessageOf<'PUBLISH'>, { fetchesImage, ...node }: Offer) =>
    endpoint.send({ type: 'ACK', taskId: msg.taskId, seq: msg.seq, ...(fetchesImage ? { flags: FLAG_FETCHES_IMAGE } : {}), body: { node } });

  const holdOf = (taskId: string, publisher: string, seq: number) => {
    const h = holds.get(taskId);
    return h && h.publisher === publisher && h.seq === seq && h.expiresAt > timers.now() ? h : undefined;
  };

  /**
   * The digest of the image a PUBLISH names when this node's storage lacks those bytes (it then
   * answers only if it can fetch them); undefined when it holds them, none is named, or its
   * images are not known (no check).
   */
  function lacksImage(req: Requirements, view: ProvisionerView): string | undefined {
    if (req.imageSha256 === undefined || view.images === undefined) return undefined;
    return view.images.has(req.imageSha256) ? undefined : req.imageSha256;
  }

  /**
   * The PUBLISH's deadline on this node's own clock: its receive time plus the time it said
   * remains (ttlMs). Skewed clocks do not matter; only the time in flight is not counted, and that
   * errs towards answering (the publisher ignores an ACK that comes too late anyway).
   */
  const deadlineOf = (msg: MessageOf<'PUBLISH'>, receivedAt: number) => (msg.body.ttlMs === undefined ? Infinity : receivedAt + msg.body.ttlMs);

  /** Past the deadline no one waits for this ACK: drop the offer rather than hold capacity for it. */
  const expired = (msg: MessageOf<'PUBLISH'>, deadline: number) => {
    if (timers.now() < deadline) return false;
    const h = holdOf(msg.taskId, msg.sender, msg.seq);
    if (h && !h.confirmed) holds.delete(msg.taskId);
    decline('deadline', msg);
    return true;
  };

  async function onPublish(msg: MessageOf<'PUBLISH'>) {
    const deadline = deadlineOf(msg, timers.now());
    const key = `${msg.sender}\0${msg.taskId}\0${msg.seq}`;
    const seen = answers.get(key);
    if (seen) {
      const node = await seen.node;
      if (node && holdOf(msg.taskId, msg.sender, msg.seq)) return expired(msg, deadline) ? undefined : ack(msg, node);
      // Silence is not cached: capacity may have been released since, so look again.
      if (answers.get(key) === seen) answers.delete(key);
      else return; // another retransmission already started a fresh look
    }
    const node = evaluate(msg);
    answers.set(key, { at: timers.now(), node });
    const offer = await node;
    if (!offer || expired(msg, deadline)) return;
    timers.setTimeout(() => {
      if (holdOf(msg.taskId, msg.sender, msg.seq) && !expired(msg, deadline)) ack(msg, offer);
    }, ackDelayMs(msg.body.requirements, offer.free, maxDelay));
  }

  function onConfirm(msg: MessageOf<'CONFIRM'>) {
    const h = holdOf(msg.taskId, msg.sender, msg.seq);
    if (msg.body.chosen !== endpoint.nodeId) {
      if (h) holds.delete(msg.taskId);
      return;
    }
    if (!h) {
      endpoint.send({ type: 'REJECT', taskId: msg.taskId, seq: msg.seq, body: { to: msg.sender, reason: 'no offer held for this task (it expired or was never made)' } });
      return;
    }
    // Keep the capacity until the provisioner reports the guest (or this longer hold lapses).
    // A resent CONFIRM (same task and seq) changes nothing but is answered again.
    if (!h.confirmed) {
      h.confirmed = true;
      h.expiresAt = timers.now() + confirmedHoldMs;
      o.log.info({ taskId: msg.taskId, publisher: msg.sender, backups: msg.body.backups.map((b) => b.nodeId) }, 'PEP chosen to host');
      o.onChosen?.();
    }
    endpoint.send({ type: 'CONFIRMED', taskId: msg.taskId, seq: msg.seq, body: { to: msg.sender } });
  }

  const off = endpoint.on((msg) => {
    if (msg.type === 'PUBLISH') onPublish(msg).catch((err) => o.log.error({ err, taskId: msg.taskId }, 'PEP publish handling failed'));
    else if (msg.type === 'CONFIRM') onConfirm(msg);
    else if (msg.type === 'RELEASE' && msg.body.to === endpoint.nodeId && holdOf(msg.taskId, msg.sender, msg.seq)) holds.delete(msg.taskId);
  });

  return {
    /** What this node currently holds, for tests and debugging. */
    holds: () => new Map(holds),
    close: off,
  };
}

export type Responder = ReturnType<typeof createResponder>;
