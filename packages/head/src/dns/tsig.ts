import { createHmac, timingSafeEqual } from 'node:crypto';
import { canonicalName, classCode, layoutOf, nameCodec, typeCode } from './wire.ts';

/**
 * TSIG (RFC 8945) with HMAC-SHA256 only: the one algorithm BIND's `tsig-keygen` makes by default
 * and the one the issue names. A key is its name (as in named.conf's `key "name"`) and secret.
 */
export interface TsigKey {
  name: string;
  secret: Buffer;
}

export const tsigAlgorithm = 'hmac-sha256';
const macLength = 32;
/** RFC 8945 §10 recommends 300 s of allowed clock difference between signer and verifier. */
export const defaultFudgeSec = 300;

/** TSIG's error field (RFC 8945 §3 and §5.3): the reason a verifier gave up on a signature. */
export const tsigErrors = { 0: 'NOERROR', 16: 'BADSIG', 17: 'BADKEY', 18: 'BADTIME', 22: 'BADTRUNC' } as const;
export type TsigError = (typeof tsigErrors)[keyof typeof tsigErrors] | `TSIG_${number}`;
const tsigErrorName = (n: number): TsigError => (tsigErrors as Record<number, TsigError>)[n] ?? `TSIG_${n}`;

/** The TSIG record's fields (RFC 8945 §4.2). */
export interface TsigRecord {
  keyName: string;
  algorithm: string;
  timeSigned: number;
  fudge: number;
  mac: Buffer;
  originalId: number;
  error: TsigError;
  errorCode: number;
  other: Buffer;
}

const u16 = (n: number) => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
};
const u48 = (n: number) => {
  const b = Buffer.alloc(6);
  b.writeUIntBE(n, 0, 6);
  return b;
};

/** RFC 8945 §4.3.3: the TSIG variables that follow the message in the digest. */
function variables(keyName: string, timeSigned: number, fudge: number, errorCode: number, other: Buffer): Buffer {
  const fixed = Buffer.alloc(6);
  fixed.writeUInt16BE(classCode.ANY, 0);
  fixed.writeUInt32BE(0, 2); // TTL
  return Buffer.concat([canonicalName(keyName), fixed, canonicalName(tsigAlgorithm), u48(timeSigned), u16(fudge), u16(errorCode), u16(other.length), other]);
}

const hmac = (key: TsigKey, ...parts: Buffer[]) => {
  const h = createHmac('sha256', key.secret);
  for (const p of parts) h.update(p);
  return h.digest();
};

function tsigRr(key: TsigKey, timeSigned: number, fudge: number, mac: Buffer, originalId: number): Buffer {
  const rdata = Buffer.concat([canonicalName(tsigAlgorithm), u48(timeSigned), u16(fudge), u16(mac.length), mac, u16(originalId), u16(0), u16(0)]);
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(typeCode.TSIG, 0);
  fixed.writeUInt16BE(classCode.ANY, 2);
  fixed.writeUInt32BE(0, 4);
  fixed.writeUInt16BE(rdata.length, 8);
  return Buffer.concat([canonicalName(key.name), fixed, rdata]);
}

/**
 * Signs a request (RFC 8945 §4.3.3 digest, §4.2 record): the MAC covers the whole message as it
 * is and the TSIG variables; the TSIG record is appended to the additional section.
 * Returns the signed message and the MAC, which the answer's MAC must chain to (§5.3).
 */
export function signRequest(message: Buffer, key: TsigKey, nowSec: number, fudge = defaultFudgeSec): { signed: Buffer; mac: Buffer } {
  const time = Math.floor(nowSec);
  const mac = hmac(key, message, variables(key.name, time, fudge, 0, Buffer.alloc(0)));
  const signed = Buffer.concat([message, tsigRr(key, time, fudge, mac, message.readUInt16BE(0))]);
  signed.writeUInt16BE(message.readUInt16BE(10) + 1, 10);
  return { signed, mac };
}

/** Reads a TSIG record's RDATA (RFC 8945 §4.2) that starts at `start` in `buf`. Throws if it is cut short. */
function readTsig(buf: Buffer, start: number, end: number): TsigRecord {
  const keyName = nameCodec.decode(buf, start);
  let off = start + nameCodec.decode.bytes;
  // Class and TTL are not digested (§4.3.3 puts fixed values there), so hold them to those values.
  if (buf.readUInt16BE(off + 2) !== classCode.ANY || buf.readUInt32BE(off + 4) !== 0) throw new Error('TSIG record with a class other than ANY or a TTL other than 0');
  off += 10; // type, class, TTL, RDLENGTH
  const algorithm = nameCodec.decode(buf, off);
  off += nameCodec.decode.bytes;
  const need = (n: number) => {
    if (off + n > end) throw new Error('TSIG record cut short');
  };
  need(10);
  const timeSigned = buf.readUIntBE(off, 6);
  const fudge = buf.readUInt16BE(off + 6);
  const macSize = buf.readUInt16BE(off + 8);
  off += 10;
  need(macSize + 6);
  const mac = Buffer.from(buf.subarray(off, off + macSize));
  off += macSize;
  const originalId = buf.readUInt16BE(off);
  const errorCode = buf.readUInt16BE(off + 2);
  const otherLen = buf.readUInt16BE(off + 4);
  off += 6;
  need(otherLen);
  const other = Buffer.from(buf.subarray(off, off + otherLen));
  if (off + otherLen !== end) throw new Error('TSIG record has bytes after Other Data');
  return { keyName, algorithm, timeSigned, fudge, mac, originalId, error: tsigErrorName(errorCode), errorCode, other };
}

/**
 * What checking an answer's signature found. `verified`: the answer is from a holder of the key
 * and answers our request. `unsigned-error`: the server could not use our signature (BADKEY,
 * BADSIG) and so, as RFC 8945 §5.3.2 says, answered without a MAC: believable only as a refusal.
 * `rejected`: not signed, signed by another key, a MAC that does not match, out of time, or no
 * well-formed message at all; such an answer is not believed.
 */
export type TsigCheck =
  | { kind: 'verified'; tsig: TsigRecord; message: Buffer }
  | { kind: 'unsigned-error'; tsig: TsigRecord }
  | { kind: 'rejected'; reason: string };

/**
 * Verifies an answer to a request we signed (RFC 8945 §5.3 and §5.4 from the client's side):
 * the TSIG record must be the last record, name our key and algorithm, carry the full 32-byte
 * MAC (truncation, §5.2.2.1, is not accepted) over request MAC + answer + variables, and a time
 * within its fudge of our clock. `message` in the result is the answer without its TSIG record.
 */
export function verifyResponse(answer: Buffer, key: TsigKey, requestMac: Buffer, nowSec: number): TsigCheck {
  let tsig: TsigRecord;
  let unsigned: Buffer;
  try {
    const layout = layoutOf(answer);
    const last = layout.records.at(-1);
    if (!last || last.section !== 'additional' || last.type !== typeCode.TSIG) return { kind: 'rejected', reason: 'the answer is not signed' };
    if (layout.records.slice(0, -1).some((a) => a.type === typeCode.TSIG)) return { kind: 'rejected', reason: 'a TSIG record that is not the last' };
    tsig = readTsig(answer, last.start, last.end);
    unsigned = Buffer.from(answer.subarray(0, last.start));
    unsigned.writeUInt16BE(layout.counts[3] - 1, 10);
    unsigned.writeUInt16BE(tsig.originalId, 0);
  } catch (e) {
    return { kind: 'rejected', reason: `malformed answer: ${(e as Error).message}` };
  }
  if (tsig.keyName.toLowerCase() !== key.name.toLowerCase().replace(/\.$/, '')) return { kind: 'rejected', reason: `signed with key ${tsig.keyName}, not ours` };
  if (tsig.algorithm.toLowerCase() !== tsigAlgorithm) return { kind: 'rejected', reason: `algorithm ${tsig.algorithm}` };
  if (tsig.mac.length === 0) {
    if (tsig.error === 'BADKEY' || tsig.error === 'BADSIG') return { kind: 'unsigned-error', tsig };
    return { kind: 'rejected', reason: `a TSIG record without a MAC (error ${tsig.error})` };
  }
  if (tsig.mac.length !== macLength) return { kind: 'rejected', reason: `a ${tsig.mac.length}-byte MAC (a truncated MAC is not accepted)` };
  const expected = hmac(key, u16(requestMac.length), requestMac, unsigned, variables(tsig.keyName, tsig.timeSigned, tsig.fudge, tsig.errorCode, tsig.other));
  if (!timingSafeEqual(expected, tsig.mac)) return { kind: 'rejected', reason: 'the MAC does not match' };
  // Checked after the MAC, as RFC 8945 §5.2.3 orders it: an unauthenticated time says nothing.
  // An authentic refusal (BADTIME: our clock is off) is believed whatever its time: replaying one
  // can only make an operation fail, never make one seem done.
  if (tsig.error === 'NOERROR' && Math.abs(Math.floor(nowSec) - tsig.timeSigned) > tsig.fudge) return { kind: 'rejected', reason: `signed at ${tsig.timeSigned}, more than ${tsig.fudge} s from our clock` };
  return { kind: 'verified', tsig, message: unsigned };
}
