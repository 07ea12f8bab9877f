import dnsPacket from 'dns-packet';

/**
 * The parts of `dns-packet` this package uses beyond its typed top level: the name, question and
 * resource-record codecs, each `encode`/`decode` with the byte count of the last call in `.bytes`
 * (the library's own convention). @types/dns-packet only types `encode`/`decode` of whole packets.
 */
interface Codec<T> {
  encode(value: T, buf?: Buffer, offset?: number): Buffer;
  decode(buf: Buffer, offset?: number): T;
  encodingLength(value: T): number;
}
interface Counted<T> extends Codec<T> {
  encode: Codec<T>['encode'] & { bytes: number };
  decode: Codec<T>['decode'] & { bytes: number };
}
const lib = dnsPacket as unknown as {
  name: Counted<string>;
  question: Counted<{ name: string; type: string; class?: string }>;
  answer: Counted<{ name: string; type: string; class?: string; ttl?: number; data?: unknown }>;
  record(type: string): Counted<unknown>;
};
export const nameCodec = lib.name;
export const questionCodec = lib.question;
export const rrCodec = lib.answer;
export const rdataCodec = (type: string) => lib.record(type);

/** A question in wire form (dns-packet's `question.encode` returns its input, not the buffer). */
export function encodeQuestion(q: { name: string; type: string; class?: string }): Buffer {
  const buf = Buffer.alloc(questionCodec.encodingLength(q));
  questionCodec.encode(q, buf, 0);
  return buf;
}

/** RFC 1035 §3.2.4 and RFC 2136 §1.3: NONE is 254; dns-packet knows IN and ANY but not NONE. */
export const classCode = { IN: 1, NONE: 254, ANY: 255 } as const;
export type RrClass = keyof typeof classCode;

/** The record types this package writes (RFC 1035 §3.2.2, RFC 8945 §4.2 for TSIG). */
export const typeCode = { A: 1, SOA: 6, TXT: 16, AAAA: 28, TSIG: 250, ANY: 255 } as const;
export type RrType = keyof typeof typeCode;

/** Opcodes (RFC 1035 §4.1.1, RFC 2136 §1.3). */
export const opcode = { QUERY: 0, UPDATE: 5 } as const;

/** The name in canonical wire form (RFC 4034 §6.2: lower case, uncompressed), as TSIG digests it. */
export function canonicalName(name: string): Buffer {
  return nameCodec.encode(name.toLowerCase());
}

/** Where each part of a message sits, so TSIG can cut its own record off the end (RFC 8945 §4.3). */
export interface Layout {
  id: number;
  counts: [qd: number, an: number, ns: number, ar: number];
  /** Start offset and the decoded form of each record of the additional section. */
  additionals: { start: number; end: number; rr: { name: string; type: string } }[];
  end: number;
}

/**
 * Walks a whole message with dns-packet's codecs, record by record, and says where each
 * additional record starts. Throws on anything that is not one complete DNS message (truncated,
 * a name pointing forward, bytes left over): the caller treats a throw as "malformed".
 */
export function layoutOf(buf: Buffer): Layout {
  if (buf.length < 12) throw new Error('shorter than a DNS header');
  const counts = [buf.readUInt16BE(4), buf.readUInt16BE(6), buf.readUInt16BE(8), buf.readUInt16BE(10)] as Layout['counts'];
  let off = 12;
  for (let i = 0; i < counts[0]; i++) {
    questionCodec.decode(buf, off);
    off += questionCodec.decode.bytes;
    if (off > buf.length) throw new Error('question runs past the end');
  }
  const additionals: Layout['additionals'] = [];
  for (let section = 1; section <= 3; section++) {
    for (let i = 0; i < counts[section]!; i++) {
      const start = off;
      const rr = rrCodec.decode(buf, off);
      off += rrCodec.decode.bytes;
      // dns-packet reads a record's data by its declared length; a length beyond the buffer
      // would otherwise decode as a shorter record.
      if (off > buf.length) throw new Error('record runs past the end');
      if (section === 3) additionals.push({ start, end: off, rr: { name: String(rr.name), type: String(rr.type) } });
    }
  }
  if (off !== buf.length) throw new Error(`${buf.length - off} bytes after the last record`);
  return { id: buf.readUInt16BE(0), counts, additionals, end: off };
}
