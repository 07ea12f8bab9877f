import { z } from 'zod';
import { nodeIdPattern } from '@cps/common';

/**
 * PEP message bodies (docs/pep.md §3). Schemas are strict: an unknown key, a wrong type or an
 * out-of-range number makes the whole packet malformed. Shape order here is also the canonical
 * JSON key order on the wire, so encode(decode(x)) reproduces x byte for byte.
 */

export const NODE_ID_MAX = 64;
export const nodeIdSchema = z.string().regex(nodeIdPattern, 'node id: 1-64 of [A-Za-z0-9._-]');
export const taskIdSchema = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'task id: 1-63 of [a-z0-9-]');
// An IPv4/IPv6 literal or a host name: what peers dial to reach this node's HTTP services.
export const addressSchema = z.string().regex(/^[A-Za-z0-9.:-]{1,64}$/, 'address: 1-64 of [A-Za-z0-9.:-]');

const port = z.number().int().min(0).max(65535);
const count = (max: number) => z.number().int().min(0).max(max);

export const portsSchema = z.strictObject({
  coordinator: port,
  discovery: port,
  provisioner: port,
  storage: port,
  vncGateway: port,
});

export const resourcesSchema = z.strictObject({
  vcpus: count(65_536),
  memoryMiB: count(2 ** 30),
  diskMiB: count(2 ** 40),
});

export const acceleratorSchema = z.enum(['kvm', 'tcg']);

export const requirementsSchema = z.strictObject({
  vcpus: z.number().int().min(1).max(64),
  memoryMiB: z.number().int().min(32).max(1_048_576),
  diskMiB: z.number().int().min(1).max(4_194_304),
  arch: z.string().regex(/^[a-z0-9_]{1,16}$/),
  needsKvm: z.boolean(),
  image: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,127}$/).optional(), // storage's ImageId
  // The image's content (storage's Image.sha256): a node without those bytes cannot build the disk.
  imageSha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
});

/**
 * A PUBLISH's deadline as time remaining (docs/pep.md §3): the receiver adds it to its own receive
 * time, so two clocks that disagree do not matter; only the time in flight is not counted.
 */
export const PUBLISH_TTL_MAX_MS = 60_000;

const uptimeSec = z.number().finite().min(0).max(1e10);
// The host's 1-minute load average (os.loadavg), rounded to hundredths by the sender.
const load = z.number().finite().min(0).max(1e6);

/** A node as it advertises itself; ACK requires capacity, HELLO may lack it (provisioner down). */
export const nodeInfoSchema = z.strictObject({
  nodeId: nodeIdSchema,
  address: addressSchema,
  ports: portsSchema,
  uptimeSec,
  load: load.optional(),
  total: resourcesSchema.optional(),
  free: resourcesSchema.optional(),
  accelerator: acceleratorSchema.optional(),
});

export const ackNodeSchema = z.strictObject({
  nodeId: nodeIdSchema,
  address: addressSchema,
  ports: portsSchema,
  uptimeSec,
  load: load.optional(),
  total: resourcesSchema.optional(),
  free: resourcesSchema,
  accelerator: acceleratorSchema,
});

/** A head's term, its fencing token (openapi/discovery.yaml HeadEpoch): a safe positive integer. */
export const headEpochSchema = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);
const removalsDigestSchema = z.string().regex(/^[0-9a-f]{16}$/);

/** At most this many backups travel in a CONFIRM, so the worst case stays under MAX_PACKET. */
export const MAX_CONFIRM_BACKUPS = 5;

const reason = z.string().regex(/^[\x20-\x7e]{1,200}$/, 'reason: 1-200 printable ASCII');

export const bodySchemas = {
  PUBLISH: z.strictObject({ requirements: requirementsSchema, ttlMs: z.number().int().min(1).max(PUBLISH_TTL_MAX_MS).optional() }),
  ACK: z.strictObject({ node: ackNodeSchema }),
  CONFIRM: z.strictObject({
    chosen: nodeIdSchema,
    backups: z.array(z.strictObject({ nodeId: nodeIdSchema, address: addressSchema })).max(MAX_CONFIRM_BACKUPS),
  }),
  REJECT: z.strictObject({ to: nodeIdSchema, reason }),
  // The chosen node's answer to CONFIRM: it keeps the capacity; the publisher stops resending.
  CONFIRMED: z.strictObject({ to: nodeIdSchema }),
  RELEASE: z.strictObject({ to: nodeIdSchema, reason }),
  // head: whether the sender's coordinator leads, with its epoch exactly when it does (version 4);
  // removals: the digest of the sender's removed nodes (docs/trust.md); a peer with another asks for the list.
  HELLO: z.discriminatedUnion('head', [
    z.strictObject({ node: nodeInfoSchema, head: z.literal(true), epoch: headEpochSchema, removals: removalsDigestSchema.optional() }),
    z.strictObject({ node: nodeInfoSchema, head: z.literal(false), removals: removalsDigestSchema.optional() }),
  ]),
  LEAVE: z.strictObject({ nodeId: nodeIdSchema }),
} as const;

/** Wire codes of the message types (header byte 4). Codes are never reused. */
export const typeCodes = { PUBLISH: 1, ACK: 2, CONFIRM: 3, REJECT: 4, RELEASE: 5, HELLO: 6, LEAVE: 7, CONFIRMED: 8 } as const;

export type MsgType = keyof typeof typeCodes;
export type Bodies = { [T in MsgType]: z.infer<(typeof bodySchemas)[T]> };
export type Requirements = Bodies['PUBLISH']['requirements'];
export type WireNodeInfo = z.infer<typeof nodeInfoSchema>;
export type AckNode = z.infer<typeof ackNodeSchema>;

/** Types that concern one task carry its id in the header; HELLO and LEAVE carry none. */
export const taskTypes: ReadonlySet<MsgType> = new Set(['PUBLISH', 'ACK', 'CONFIRM', 'REJECT', 'RELEASE', 'CONFIRMED']);

export interface Envelope {
  /** Node id of the sender. */
  sender: string;
  /** The exchange's sequence number: chosen by the publisher, echoed by every reply (docs/pep.md §4). */
  seq: number;
  /** Sender's wall clock, ms since the epoch. */
  timestampMs: number;
  /** 8 random bytes; with timestampMs, what replay protection keys on. */
  nonce: Buffer;
  /** Header flag bits; FLAG_INSECURE is set by the encoder from the auth, not by the caller. */
  flags: number;
  /** Task id for task messages, '' for HELLO and LEAVE. */
  taskId: string;
}

export type PepMessage = { [T in MsgType]: Envelope & { type: T; body: Bodies[T] } }[MsgType];
export type MessageOf<T extends MsgType> = Extract<PepMessage, { type: T }>;
