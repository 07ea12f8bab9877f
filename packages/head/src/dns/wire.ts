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

/** One resource record as it sits in a message: raw fields and where it starts and ends. */
export interface RawRr {
  section: 'answer' | 'authority' | 'additional';
  start: number;
  end: number;
  name: string;
  type: number;
  class: number;
  ttl: number;
  rdata: Buffer;
}

/** Where each part of a message sits, so TSIG can cut its own record off the end (RFC 8945 §4.3). */
export interface Layout {
  id: number;
  counts: [qd: number, an: number, ns: number, ar: number];
  records: RawRr[];
  end: number;
}

const sections = ['answer', 'authority', 'additional'] as const;

/**
 * Walks a whole message record by record by each record's RDLENGTH (RFC 1035 §4.1.3), names
 * with dns-packet's decoder (which refuses forward pointers, so no loops). Not by dns-packet's
 * typed decoders: those read an A record's 4 bytes even when RDLENGTH is 0, as RFC 2136 uses it.
 * Throws on anything that is not one complete DNS message (truncated, bad names, bytes left
 * over): the caller treats a throw as "malformed".
 */
export function layoutOf(buf: Buffer): Layout {
  if (buf.length < 12) throw new Error('shorter than a DNS header');
  const counts = [buf.readUInt16BE(4), buf.readUInt16BE(6), buf.readUInt16BE(8), buf.readUInt16BE(10)] as Layout['counts'];
  let off = 12;
  const past = (n: number) => {
    if (off + n > buf.length) throw new Error('a record runs past the end');
  };
  for (let i = 0; i < counts[0]; i++) {
    nameCodec.decode(buf, off);
    off += nameCodec.decode.bytes;
    past(4);
    off += 4;
  }
  const records: RawRr[] = [];
  sections.forEach((section, s) => {
    for (let i = 0; i < counts[s + 1]!; i++) {
      const start = off;
      const name = nameCodec.decode(buf, off);
      off += nameCodec.decode.bytes;
      past(10);
      const rdlength = buf.readUInt16BE(off + 8);
      const fixed = off;
      off += 10;
      past(rdlength);
      records.push({ section, start, end: off + rdlength, name, type: buf.readUInt16BE(fixed), class: buf.readUInt16BE(fixed + 2), ttl: buf.readUInt32BE(fixed + 4), rdata: buf.subarray(off, off + rdlength) });
      off += rdlength;
    }
  });
  if (off !== buf.length) throw new Error(`${buf.length - off} bytes after the last record`);
  return { id: buf.readUInt16BE(0), counts, records, end: off };
}
