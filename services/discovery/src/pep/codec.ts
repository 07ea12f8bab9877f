import { createHmac, timingSafeEqual } from 'node:crypto';
import {
  bodySchemas,
  nodeIdSchema,
  taskIdSchema,
  taskTypes,
  typeCodes,
  type MsgType,
  type PepMessage,
} from './messages.ts';

/**
 * The PEP wire codec (docs/pep.md). Pure: bytes in, messages out; no sockets, no clocks.
 *
 *   0 'PEP' | 3 version | 4 type | 5 flags | 6 bodyLen u16 | 8 seq u32 | 12 timestampMs u64
 *   20 nonce[8] | 28 senderLen | 29 taskLen | 30 keyId | 31 reserved
 *   32 sender | task id | body (JSON) | HMAC-SHA256 over all of the above [32]
 */

export const MAGIC = Buffer.from('PEP', 'ascii');
// 4: HELLO carries the head's epoch (docs/pep.md §7: a body schema change is a new version).
export const VERSION = 4;
export const HEADER_LEN = 32;
export const MAC_LEN = 32;
export const NONCE_LEN = 8;
/** Fits one unfragmented datagram on any Ethernet path (IPv6 minimum MTU 1280 less headers). */
export const MAX_PACKET = 1200;
export const MIN_PACKET = HEADER_LEN + 1 + 2 + MAC_LEN;

/** Sent without a key (CPS_PEP_INSECURE=1): the MAC is all zeros and peers with a key drop it. */
export const FLAG_INSECURE = 0x01;
/** A PUBLISH resent with the same seq; lets receivers count retransmissions. */
export const FLAG_RETRANSMIT = 0x02;
/**
 * On an ACK: the ACKer's storage lacks the PUBLISH's image and would fetch it from a peer before
 * building the disk ("fetchable"); clear: it holds the image ("present") or none was named. A
 * reserved bit until then, so v4 nodes that predate it ignore it (docs/pep.md §2).
 */
export const FLAG_FETCHES_IMAGE = 0x04;

/** How packets are authenticated: the cluster key, or explicitly none. */
export type PepAuth = { kind: 'hmac'; key: Buffer } | { kind: 'insecure' };

export type DecodeReason =
  | 'truncated'
  | 'oversize'
  | 'magic'
  | 'version'
  | 'type'
  | 'length'
  | 'insecure'
  | 'mac'
  | 'header'
  | 'stale'
  | 'future'
  | 'replay'
  | 'body';

/**
 * A stateful check of an authenticated header (replay protection), run after the MAC and before
 * the body is parsed; a reason drops the packet.
 */
export type HeaderCheck = (h: { sender: string; timestampMs: number; nonce: Buffer }) => 'stale' | 'future' | 'replay' | undefined;

export class PepDecodeError extends Error {
  constructor(
    readonly reason: DecodeReason,
    detail: string,
  ) {
    super(`PEP packet dropped (${reason}): ${detail}`);
    this.name = 'PepDecodeError';
  }
}

/** A message this node tried to send is invalid or too big: a bug, never a peer's fault. */
export class PepEncodeError extends Error {
  override name = 'PepEncodeError';
}

const codeToType = new Map<number, MsgType>(Object.entries(typeCodes).map(([t, c]) => [c, t as MsgType]));
const ZERO_MAC = Buffer.alloc(MAC_LEN);

function macOf(auth: PepAuth, signed: Buffer): Buffer {
  return auth.kind === 'hmac' ? createHmac('sha256', auth.key).update(signed).digest() : ZERO_MAC;
}

interface Parts {
  sender: Buffer;
  task: Buffer;
  body: Buffer;
}

function parts(msg: PepMessage): Parts {
  const sender = nodeIdSchema.safeParse(msg.sender);
  if (!sender.success) throw new PepEncodeError(`bad sender ${JSON.stringify(msg.sender)}`);
  if (taskTypes.has(msg.type)) {
    if (!taskIdSchema.safeParse(msg.taskId).success) throw new PepEncodeError(`bad task id ${JSON.stringify(msg.taskId)}`);
  } else if (msg.taskId !== '') throw new PepEncodeError(`${msg.type} carries no task id`);
  const body = bodySchemas[msg.type].safeParse(msg.body);
  if (!body.success) throw new PepEncodeError(`bad ${msg.type} body: ${body.error.message}`);
  // Serialising the parsed value (not the caller's object) fixes the key order: canonical bytes.
  return {
    sender: Buffer.from(msg.sender, 'ascii'),
    task: Buffer.from(msg.taskId, 'ascii'),
    body: Buffer.from(JSON.stringify(body.data), 'utf8'),
  };
}

export function encodingLength(msg: PepMessage): number {
  const p = parts(msg);
  return HEADER_LEN + p.sender.length + p.task.length + p.body.length + MAC_LEN;
}

export function encode(msg: PepMessage, auth: PepAuth): Buffer {
  const p = parts(msg);
  const len = HEADER_LEN + p.sender.length + p.task.length + p.body.length + MAC_LEN;
  if (len > MAX_PACKET) throw new PepEncodeError(`${msg.type} would be ${len} bytes, over the ${MAX_PACKET}-byte limit`);
  if (!Number.isInteger(msg.seq) || msg.seq < 0 || msg.seq > 0xffffffff) throw new PepEncodeError(`bad seq ${msg.seq}`);
  if (!Number.isSafeInteger(msg.timestampMs) || msg.timestampMs < 0) throw new PepEncodeError(`bad timestamp ${msg.timestampMs}`);
  if (msg.nonce.length !== NONCE_LEN) throw new PepEncodeError(`nonce must be ${NONCE_LEN} bytes`);
  if (!Number.isInteger(msg.flags) || msg.flags < 0 || msg.flags > 0xff) throw new PepEncodeError(`bad flags ${msg.flags}`);

  const buf = Buffer.alloc(len);
  MAGIC.copy(buf, 0);
  buf[3] = VERSION;
  buf[4] = typeCodes[msg.type];
  buf[5] = (msg.flags & ~FLAG_INSECURE) | (auth.kind === 'insecure' ? FLAG_INSECURE : 0);
  buf.writeUInt16BE(p.body.length, 6);
  buf.writeUInt32BE(msg.seq, 8);
  buf.writeBigUInt64BE(BigInt(msg.timestampMs), 12);
  msg.nonce.copy(buf, 20);
  buf[28] = p.sender.length;
  buf[29] = p.task.length;
  buf[30] = 0; // key id: one key so far
  buf[31] = 0;
  let o = HEADER_LEN;
  o += p.sender.copy(buf, o);
  o += p.task.copy(buf, o);
  o += p.body.copy(buf, o);
  macOf(auth, buf.subarray(0, o)).copy(buf, o);
  return buf;
}

/** Decodes and authenticates one datagram; throws PepDecodeError for anything else. */
export function decode(buf: Buffer, auth: PepAuth, check?: HeaderCheck): PepMessage {
  if (buf.length > MAX_PACKET) throw new PepDecodeError('oversize', `${buf.length} bytes > ${MAX_PACKET}`);
  if (buf.length < MIN_PACKET) throw new PepDecodeError('truncated', `${buf.length} bytes < ${MIN_PACKET}`);
  if (buf[0] !== MAGIC[0] || buf[1] !== MAGIC[1] || buf[2] !== MAGIC[2]) throw new PepDecodeError('magic', 'not a PEP packet');
  if (buf[3] !== VERSION) throw new PepDecodeError('version', `version ${buf[3]}, this node speaks ${VERSION}`);
  const type = codeToType.get(buf[4]!);
  if (!type) throw new PepDecodeError('type', `unknown message type ${buf[4]}`);
  const flags = buf[5]!;
  const bodyLen = buf.readUInt16BE(6);
  const senderLen = buf[28]!;
  const taskLen = buf[29]!;
  const macAt = HEADER_LEN + senderLen + taskLen + bodyLen;
  if (macAt + MAC_LEN !== buf.length) {
    throw new PepDecodeError(macAt + MAC_LEN > buf.length ? 'truncated' : 'length', `header says ${macAt + MAC_LEN} bytes, got ${buf.length}`);
  }

  // Authenticate before anything of the body is looked at.
  const insecure = (flags & FLAG_INSECURE) !== 0;
  if (auth.kind === 'hmac' && insecure) throw new PepDecodeError('insecure', 'unauthenticated packet; this node requires the cluster key');
  if (auth.kind === 'insecure' && !insecure) throw new PepDecodeError('insecure', 'keyed packet; this node runs without a key (CPS_PEP_INSECURE=1)');
  if (buf[30] !== 0) throw new PepDecodeError('mac', `unknown key id ${buf[30]}`);
  const mac = buf.subarray(macAt);
  if (!timingSafeEqual(mac, macOf(auth, buf.subarray(0, macAt)))) throw new PepDecodeError('mac', 'MAC does not verify');

  const timestamp = buf.readBigUInt64BE(12);
  if (timestamp > BigInt(Number.MAX_SAFE_INTEGER)) throw new PepDecodeError('header', 'timestamp out of range');
  const sender = buf.toString('latin1', HEADER_LEN, HEADER_LEN + senderLen);
  if (!nodeIdSchema.safeParse(sender).success) throw new PepDecodeError('header', 'bad sender node id');
  const taskId = buf.toString('latin1', HEADER_LEN + senderLen, HEADER_LEN + senderLen + taskLen);
  if (taskTypes.has(type) ? !taskIdSchema.safeParse(taskId).success : taskLen !== 0) {
    throw new PepDecodeError('header', `bad task id for ${type}`);
  }
  const nonce = Buffer.from(buf.subarray(20, 28));
  const fresh = check?.({ sender, timestampMs: Number(timestamp), nonce });
  if (fresh) throw new PepDecodeError(fresh, `timestamp ${timestamp} from ${sender}`);

  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(macAt - bodyLen, macAt)));
  } catch {
    throw new PepDecodeError('body', 'body is not UTF-8 JSON');
  }
  const body = bodySchemas[type].safeParse(json);
  if (!body.success) throw new PepDecodeError('body', `${type}: ${body.error.issues[0]?.message ?? 'invalid'}`);
  const claimed = selfClaim(type, body.data);
  if (claimed !== undefined && claimed !== sender) throw new PepDecodeError('body', `${type} speaks for ${claimed}, sent by ${sender}`);

  return {
    type,
    flags,
    sender,
    taskId,
    seq: buf.readUInt32BE(8),
    timestampMs: Number(timestamp),
    nonce,
    body: body.data,
  } as PepMessage;
}

/** Bodies that describe their sender must describe the header's sender and no one else. */
function selfClaim(type: MsgType, body: unknown): string | undefined {
  const b = body as { node?: { nodeId: string }; nodeId?: string };
  if (type === 'ACK' || type === 'HELLO') return b.node?.nodeId;
  if (type === 'LEAVE') return b.nodeId;
  return undefined;
}
