import { classCode, encodeQuestion, nameCodec, opcode, rdataCodec, typeCode, type RrClass, type RrType } from './wire.ts';

/**
 * One resource record as RFC 2136 uses them in the prerequisite and update sections, where the
 * class and an empty RDATA carry meaning (§2.4, §2.5): `data` undefined means RDLENGTH 0.
 * `data` is what dns-packet's codec for `type` takes (A: dotted quad; TXT: strings or Buffers).
 */
export interface UpdateRr {
  name: string;
  type: RrType;
  class: RrClass;
  ttl: number;
  data?: string | (string | Buffer)[];
}

function encodeRr(rr: UpdateRr): Buffer {
  const owner = nameCodec.encode(rr.name);
  const fixed = Buffer.alloc(8);
  fixed.writeUInt16BE(typeCode[rr.type], 0);
  fixed.writeUInt16BE(classCode[rr.class], 2);
  fixed.writeUInt32BE(rr.ttl, 4);
  // dns-packet's record codecs write RDLENGTH themselves, followed by the RDATA.
  const rdata = rr.data === undefined ? Buffer.alloc(2) : rdataCodec(rr.type).encode(rr.data);
  return Buffer.concat([owner, fixed, rdata]);
}

function header(id: number, op: number, counts: [number, number, number, number]): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE(op << 11, 2); // QR=0 (a request), no other flag: RFC 2136 §2.2
  counts.forEach((n, i) => h.writeUInt16BE(n, 4 + i * 2));
  return h;
}

/**
 * An UPDATE message (RFC 2136 §2): the zone section names the zone (its SOA, class IN), then
 * prerequisites, then updates. Built by hand around dns-packet's codecs because dns-packet has no
 * class NONE, which "RRset does not exist" (§2.4.3) and "delete an RR" (§2.5.4) need.
 */
export function updateMessage(id: number, zone: string, prerequisites: UpdateRr[], updates: UpdateRr[]): Buffer {
  return Buffer.concat([
    header(id, opcode.UPDATE, [1, prerequisites.length, updates.length, 0]),
    encodeQuestion({ name: zone, type: 'SOA', class: 'IN' }),
    ...prerequisites.map(encodeRr),
    ...updates.map(encodeRr),
  ]);
}

/** A plain QUERY for one name and type (RFC 1035 §4.1), with no recursion wanted. */
export function queryMessage(id: number, name: string, type: 'A' | 'TXT' | 'SOA'): Buffer {
  return Buffer.concat([header(id, opcode.QUERY, [1, 0, 0, 0]), encodeQuestion({ name, type, class: 'IN' })]);
}

/** RFC 2136 §2.4.2: "RRset exists (value dependent)": the RRset equals exactly these records. */
export const rrsetEquals = (name: string, type: RrType, data: UpdateRr['data']): UpdateRr => ({ name, type, class: 'IN', ttl: 0, data });
/** RFC 2136 §2.4.3: "RRset does not exist". */
export const rrsetAbsent = (name: string, type: RrType): UpdateRr => ({ name, type, class: 'NONE', ttl: 0 });
/** RFC 2136 §2.5.2: "Delete an RRset". */
export const deleteRrset = (name: string, type: RrType): UpdateRr => ({ name, type, class: 'ANY', ttl: 0 });
/** RFC 2136 §2.5.1: "Add to an RRset". */
export const addRr = (name: string, type: RrType, ttl: number, data: UpdateRr['data']): UpdateRr => ({ name, type, class: 'IN', ttl, data });
