import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  decode,
  encode,
  encodingLength,
  FLAG_INSECURE,
  HEADER_LEN,
  MAC_LEN,
  MAX_PACKET,
  PepDecodeError,
  PepEncodeError,
  VERSION,
  type PepAuth,
} from '../src/pep/codec.ts';
import { MAX_CONFIRM_BACKUPS, type PepMessage } from '../src/pep/messages.ts';
import { insecure, key, otherKey, samples } from './fixtures.ts';

/** encode → decode → re-encode: the bytes and the message survive unchanged (dns-packet's testEncoder). */
function testEncoder(msg: PepMessage, auth: PepAuth = key) {
  const buf = encode(msg, auth);
  expect(buf.length).toBe(encodingLength(msg));
  const back = decode(buf, auth);
  expect(encode(back, auth).equals(buf)).toBe(true);
  const { body, flags, ...rest } = back;
  const expected = JSON.parse(JSON.stringify(msg.body)); // undefined optionals vanish on the wire
  expect(body).toEqual(expected);
  expect(flags & ~FLAG_INSECURE).toBe(msg.flags);
  expect({ ...rest }).toEqual({ type: msg.type, sender: msg.sender, taskId: msg.taskId, seq: msg.seq, timestampMs: msg.timestampMs, nonce: msg.nonce });
  return buf;
}

const reasonOf = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    if (e instanceof PepDecodeError) return e.reason;
    throw e;
  }
  throw new Error('decoded');
};

/** A packet with any body at all, correctly framed and signed with the cluster key: what a buggy or hostile key holder can send. */
const forge = (type: number, sender: string, task: string, body: string): Buffer => {
  const s = Buffer.from(sender);
  const t = Buffer.from(task);
  const b = Buffer.from(body);
  const head = Buffer.alloc(HEADER_LEN);
  head.write('PEP');
  head[3] = VERSION;
  head[4] = type;
  head.writeUInt16BE(b.length, 6);
  head[28] = s.length;
  head[29] = t.length;
  const signed = Buffer.concat([head, s, t, b]);
  return Buffer.concat([signed, createHmac('sha256', (key as { key: Buffer }).key).update(signed).digest()]);
};

describe('PEP codec', () => {
  it('round-trips every message type', () => {
    for (const m of samples) testEncoder(m);
  });

  it('round-trips in insecure mode with a zero MAC and the flag set', () => {
    for (const m of samples) {
      const buf = testEncoder(m, insecure);
      expect(buf[5]! & FLAG_INSECURE).toBe(FLAG_INSECURE);
      expect(buf.subarray(buf.length - MAC_LEN).equals(Buffer.alloc(MAC_LEN))).toBe(true);
    }
  });

  it('lays out the header as docs/pep.md says', () => {
    const m = samples[0]!;
    const buf = encode(m, key);
    expect(buf.subarray(0, 3).toString()).toBe('PEP');
    expect(buf[3]).toBe(4);
    expect(buf[4]).toBe(1);
    expect(buf.readUInt32BE(8)).toBe(7);
    expect(Number(buf.readBigUInt64BE(12))).toBe(m.timestampMs);
    expect(buf.subarray(20, 28).equals(m.nonce)).toBe(true);
    expect(buf.toString('ascii', HEADER_LEN, HEADER_LEN + buf[28]!)).toBe('node-a');
    const macAt = buf.length - MAC_LEN;
    expect(buf.subarray(macAt).equals(createHmac('sha256', (key as { key: Buffer }).key).update(buf.subarray(0, macAt)).digest())).toBe(true);
  });

  it('rejects every single-byte change', () => {
    for (const m of samples) {
      const buf = encode(m, key);
      for (let i = 0; i < buf.length; i++) {
        const bad = Buffer.from(buf);
        bad[i] = bad[i]! ^ 0x01;
        expect(() => decode(bad, key), `byte ${i} of ${m.type}`).toThrow(PepDecodeError);
      }
    }
  });

  it('rejects a packet made with another key, and mixes of keyed and insecure', () => {
    const buf = encode(samples[2]!, otherKey);
    expect(reasonOf(() => decode(buf, key))).toBe('mac');
    expect(reasonOf(() => decode(encode(samples[2]!, insecure), key))).toBe('insecure');
    expect(reasonOf(() => decode(encode(samples[2]!, key), insecure))).toBe('insecure');
    // An insecure packet must still carry a zero MAC.
    const forged = encode(samples[2]!, insecure);
    forged[forged.length - 1] = 1;
    expect(reasonOf(() => decode(forged, insecure))).toBe('mac');
  });

  it('rejects truncated packets at every length', () => {
    const buf = encode(samples[2]!, key);
    for (let n = 0; n < buf.length; n++) {
      expect(['truncated', 'magic', 'version', 'type', 'length']).toContain(reasonOf(() => decode(buf.subarray(0, n), key)));
    }
  });

  it('rejects trailing bytes', () => {
    const buf = encode(samples[0]!, key);
    expect(reasonOf(() => decode(Buffer.concat([buf, Buffer.from([0])]), key))).toBe('length');
  });

  it('rejects oversize packets on decode and encode', () => {
    expect(reasonOf(() => decode(Buffer.alloc(MAX_PACKET + 1), key))).toBe('oversize');
    const huge: PepMessage = { ...samples[3]!, type: 'CONFIRM', body: { chosen: 'x'.repeat(64), backups: Array.from({ length: MAX_CONFIRM_BACKUPS }, (_, i) => ({ nodeId: `${i}${'n'.repeat(63)}`, address: 'a'.repeat(64) })) } };
    // The worst legal CONFIRM still fits: MAX_CONFIRM_BACKUPS is sized for it.
    expect(encodingLength({ ...huge, sender: 's'.repeat(64), taskId: 't'.repeat(63) })).toBeLessThanOrEqual(MAX_PACKET);
    const tooMany = { ...huge, body: { ...huge.body, backups: [...huge.body.backups, { nodeId: 'z', address: 'a' }] } } as PepMessage;
    expect(() => encode(tooMany, key)).toThrow(PepEncodeError);
    const longReason: PepMessage = { ...samples[5]!, type: 'REJECT', body: { to: 'node-a', reason: 'r'.repeat(201) } };
    expect(() => encode(longReason, key)).toThrow(PepEncodeError);
  });

  it('the largest legal ACK and HELLO still fit in one packet', () => {
    const num = 0.30000000000000004 * 1e5; // a long float where a peer may send any number
    const node = {
      nodeId: `n${'x'.repeat(63)}`,
      address: 'a'.repeat(64),
      ports: { coordinator: 65535, discovery: 65535, provisioner: 65535, storage: 65535, vncGateway: 65535 },
      uptimeSec: 9_999_999_999.123456,
      load: num,
      total: { vcpus: 65_536, memoryMiB: 2 ** 30, diskMiB: 2 ** 40 },
      free: { vcpus: 65_536, memoryMiB: 2 ** 30, diskMiB: 2 ** 40 },
      accelerator: 'kvm' as const,
    };
    const base = { sender: node.nodeId, seq: 1, timestampMs: 1, nonce: Buffer.alloc(8), flags: 0 };
    const ack: PepMessage = { ...base, type: 'ACK', taskId: 't'.repeat(63), body: { node } };
    const hello: PepMessage = { ...base, type: 'HELLO', taskId: '', body: { node, head: true, epoch: Number.MAX_SAFE_INTEGER, removals: 'f'.repeat(16) } };
    for (const m of [ack, hello]) expect(encodingLength(m)).toBeLessThanOrEqual(MAX_PACKET);
    testEncoder(ack);
    testEncoder(hello);
  });

  it('refuses to encode invalid messages', () => {
    const bad = [
      { ...samples[0]!, sender: 'has space' },
      { ...samples[0]!, taskId: 'UPPER' },
      { ...samples[7]!, taskId: 't-1' },
      { ...samples[0]!, seq: -1 },
      { ...samples[0]!, nonce: Buffer.alloc(4) },
      { ...samples[0]!, body: { requirements: { vcpus: 0 } } },
      { ...samples[2]!, body: { node: { extra: 1 } } },
    ] as PepMessage[];
    for (const m of bad) expect(() => encode(m, key)).toThrow(PepEncodeError);
  });

  it('rejects authentic packets whose body breaks the schema (a buggy or hostile peer with the key)', () => {
    const ok = JSON.stringify({ requirements: { vcpus: 1, memoryMiB: 64, diskMiB: 1, arch: 'x86_64', needsKvm: false } });
    expect(decode(forge(1, 'a', 't-1', ok), key).type).toBe('PUBLISH');
    const cases: Array<[number, string, string, string, string]> = [
      [1, 'a', 't-1', '{', 'body'],
      [1, 'a', 't-1', '"x"', 'body'],
      [1, 'a', 't-1', ok.replace('"vcpus":1', '"vcpus":1.5'), 'body'],
      [1, 'a', 't-1', ok.replace('}}', ',"x":1}}'), 'body'],
      [1, 'a', 't-1', '{"requirements":{"__proto__":{}}}', 'body'],
      [1, 'a', '', ok, 'header'],
      [1, 'a b', 't-1', ok, 'header'],
      [6, 'a', 't-1', '{}', 'header'],
      [7, 'a', '', '{"nodeId":"b"}', 'body'],
      [1, 'a', 't-1', '\xff\xfe', 'body'],
      // Version 3's PUBLISH fields: a deadline of 1..60000 ms as an integer, a digest of 64 lower-case hex.
      [1, 'a', 't-1', ok.replace('}}', '},"ttlMs":0}'), 'body'],
      [1, 'a', 't-1', ok.replace('}}', '},"ttlMs":-5}'), 'body'],
      [1, 'a', 't-1', ok.replace('}}', '},"ttlMs":60001}'), 'body'],
      [1, 'a', 't-1', ok.replace('}}', '},"ttlMs":1.5}'), 'body'],
      [1, 'a', 't-1', ok.replace('}}', '},"ttlMs":"100"}'), 'body'],
      [1, 'a', 't-1', ok.replace('}}', '},"ttlMs":1e999}'), 'body'],
      [1, 'a', 't-1', ok.replace('}}', `,"imageSha256":"${'AB'.repeat(32)}"}}`), 'body'],
      [1, 'a', 't-1', ok.replace('}}', `,"imageSha256":"${'a'.repeat(63)}"}}`), 'body'],
      [1, 'a', 't-1', ok.replace('}}', `,"imageSha256":"${'a'.repeat(65)}"}}`), 'body'],
      [1, 'a', 't-1', ok.replace('}}', ',"imageSha256":null}}'), 'body'],
    ];
    for (const [type, s, t, b, why] of cases) expect(reasonOf(() => decode(forge(type, s, t, b), key)), b).toBe(why);
    const v3 = decode(forge(1, 'a', 't-1', ok.replace('}}', `,"imageSha256":"${'0f'.repeat(32)}"},"ttlMs":60000}`)), key);
    expect(v3.body).toEqual({ requirements: { vcpus: 1, memoryMiB: 64, diskMiB: 1, arch: 'x86_64', needsKvm: false, imageSha256: '0f'.repeat(32) }, ttlMs: 60000 });
  });

  it('HELLO v4: the epoch is present exactly when head is true, a safe positive integer; anything else is dropped as body', () => {
    const node = JSON.stringify({ nodeId: 'a', address: '10.0.0.1', ports: { coordinator: 1, discovery: 2, provisioner: 3, storage: 4, vncGateway: 5 }, uptimeSec: 1 });
    const hello = (rest: string) => forge(6, 'a', '', `{"node":${node}${rest}}`);
    expect(decode(hello(',"head":false'), key).body).toEqual({ node: JSON.parse(node), head: false });
    expect(decode(hello(',"head":true,"epoch":1'), key).body).toMatchObject({ head: true, epoch: 1 });
    expect(decode(hello(`,"head":true,"epoch":${Number.MAX_SAFE_INTEGER},"removals":"00000000000000ff"`), key).body).toMatchObject({ head: true, epoch: Number.MAX_SAFE_INTEGER, removals: '00000000000000ff' });
    // Key order on the wire is the schema's: a HELLO written in another order is re-encoded canonically.
    const reordered = decode(hello(',"epoch":7,"head":true'), key);
    expect(JSON.stringify(reordered.body)).toBe(`{"node":${node},"head":true,"epoch":7}`);
    const bad = [
      '',
      ',"head":true', // a claim without its epoch
      ',"head":false,"epoch":3', // an epoch without a claim
      ',"epoch":3', // no head at all
      ',"head":true,"epoch":0',
      ',"head":true,"epoch":-1',
      ',"head":true,"epoch":1.5',
      ',"head":true,"epoch":"1"',
      ',"head":true,"epoch":null',
      ',"head":true,"epoch":[1]',
      ',"head":true,"epoch":1e999',
      `,"head":true,"epoch":${Number.MAX_SAFE_INTEGER + 1}`,
      ',"head":true,"epoch":1e300',
      ',"head":"true","epoch":1',
      ',"head":1,"epoch":1',
      ',"head":null',
      ',"head":true,"epoch":1,"epochs":[1]',
      ',"head":true,"epoch":1,"removals":"xyz"',
      ',"head":true,"epoch":1,"__proto__":{"head":false}',
    ];
    for (const rest of bad) expect(reasonOf(() => decode(hello(rest), key)), rest).toBe('body');
  });

  it('the largest legal PUBLISH (every field, the longest ids, a digest and a deadline) fits in one packet', () => {
    const publish: PepMessage = {
      sender: `n${'x'.repeat(63)}`, seq: 0xffffffff, timestampMs: 1, nonce: Buffer.alloc(8), flags: 2, type: 'PUBLISH', taskId: `t${'t'.repeat(62)}`,
      body: { requirements: { vcpus: 64, memoryMiB: 1_048_576, diskMiB: 4_194_304, arch: 'x'.repeat(16), needsKvm: true, image: `i${'m'.repeat(127)}`, imageSha256: 'f'.repeat(64) }, ttlMs: 60_000 },
    };
    expect(encodingLength(publish)).toBeLessThanOrEqual(MAX_PACKET);
    testEncoder(publish);
  });

  it('rejects unknown versions and types', () => {
    const buf = encode(samples[0]!, key);
    // Version 1 (before replay protection), 2 (before the PUBLISH digest and deadline), 3 (before
    // the HELLO epoch) and any later one are dropped.
    for (const v of [0, 1, 2, 3, 5, 255]) expect(reasonOf(() => decode(Buffer.from([...buf.subarray(0, 3), v, ...buf.subarray(4)]), key))).toBe('version');
    const t = Buffer.from(buf);
    t[4] = 99;
    expect(reasonOf(() => decode(t, key))).toBe('type');
  });
});
