import { randomInt } from 'node:crypto';
import dnsPacket from 'dns-packet';
import type { DnsTransport } from './transport.ts';
import { signRequest, verifyResponse, type TsigError, type TsigKey } from './tsig.ts';

/**
 * What came of one signed exchange with the DNS server, as a typed value (never a throw):
 * - `answer`: a verified answer; `rcode` is the header's (RFC 1035 §4.1.1, RFC 2136 §2.2).
 * - `auth-refused`: the server refused our signature (RCODE NOTAUTH with TSIG error BADKEY,
 *   BADSIG or BADTIME, RFC 8945 §5.2). Believed even unsigned: it can only make us fail.
 * - `unverified`: something answered, but not provably the server holding our key (unsigned,
 *   another key, a wrong MAC, garbage, another message's ID). Never believed.
 * - `unreachable`: no answer at all (refused connection, timeout).
 */
export type Exchange =
  | { kind: 'answer'; rcode: string; packet: dnsPacket.DecodedPacket }
  | { kind: 'auth-refused'; rcode: string; tsigError: TsigError }
  | { kind: 'unverified'; reason: string }
  | { kind: 'unreachable'; error: string };

export interface DnsClientOptions {
  transport: DnsTransport;
  key: TsigKey;
  /** The clock TSIG signs with and checks the answer's time against (ms since the epoch). */
  now: () => number;
  /** A fresh 16-bit message ID; random by default so an off-path guess is unlikely. */
  nextId?: () => number;
}

/** Sends TSIG-signed messages and believes only answers that carry the server's matching MAC. */
export class DnsClient {
  private readonly nextId: () => number;

  constructor(private readonly o: DnsClientOptions) {
    this.nextId = o.nextId ?? (() => randomInt(0, 0x10000));
  }

  /** `build` makes the unsigned message for a given ID. */
  async exchange(build: (id: number) => Buffer): Promise<Exchange> {
    const id = this.nextId();
    const { signed, mac } = signRequest(build(id), this.o.key, this.o.now() / 1000);
    let raw: Buffer;
    try {
      raw = await this.o.transport(signed);
    } catch (e) {
      return { kind: 'unreachable', error: (e as Error).message };
    }
    return readAnswer(raw, id, this.o.key, mac, this.o.now() / 1000);
  }
}

/** Checks an answer to request `id` signed with `requestMac`; pure, so the fuzz test can drive it. */
export function readAnswer(raw: Buffer, id: number, key: TsigKey, requestMac: Buffer, nowSec: number): Exchange {
  if (raw.length < 12) return { kind: 'unverified', reason: 'shorter than a DNS header' };
  if (raw.readUInt16BE(0) !== id) return { kind: 'unverified', reason: `answer to message ${raw.readUInt16BE(0)}, not ${id}` };
  if ((raw.readUInt16BE(2) & 0x8000) === 0) return { kind: 'unverified', reason: 'not a response (QR is 0)' };
  const check = verifyResponse(raw, key, requestMac, nowSec);
  const rcode = rcodeName(raw.readUInt16BE(2) & 0xf);
  if (check.kind === 'rejected') return { kind: 'unverified', reason: check.reason };
  if (check.kind === 'unsigned-error') return { kind: 'auth-refused', rcode, tsigError: check.tsig.error };
  if (check.tsig.error !== 'NOERROR') return { kind: 'auth-refused', rcode, tsigError: check.tsig.error };
  let packet: dnsPacket.DecodedPacket;
  try {
    packet = dnsPacket.decode(check.message);
  } catch (e) {
    return { kind: 'unverified', reason: `malformed answer: ${(e as Error).message}` };
  }
  return { kind: 'answer', rcode, packet };
}

const rcodeNames = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED', 'YXDOMAIN', 'YXRRSET', 'NXRRSET', 'NOTAUTH', 'NOTZONE'];
/** RFC 1035 §4.1.1 and RFC 2136 §2.2 (6 to 10). */
export const rcodeName = (n: number): string => rcodeNames[n] ?? `RCODE_${n}`;
