import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decode, encode, HEADER_LEN, MAX_PACKET, PepDecodeError, VERSION } from '../src/pep/codec.ts';
import { key, samples } from './fixtures.ts';

// A seeded PRNG (mulberry32) so a failure reproduces; the seed is printed in the message.
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEED = 0xc0ffee;
const rand = rng(SEED);
const int = (n: number) => Math.floor(rand() * n);
const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256)));

const valid = samples.map((m) => encode(m, key));
const validHex = new Set(valid.map((b) => b.toString('hex')));

function mutate(src: Buffer): Buffer {
  let b = Buffer.from(src);
  const ops = 1 + int(4);
  for (let k = 0; k < ops; k++) {
    switch (int(7)) {
      case 0: // flip a bit
        if (b.length) b[int(b.length)]! ^= 1 << int(8);
        break;
      case 1: // set a byte, biased to the header
        if (b.length) b[int(Math.min(b.length, int(2) ? HEADER_LEN : b.length))] = int(256);
        break;
      case 2: // truncate
        b = b.subarray(0, int(b.length + 1));
        break;
      case 3: // append junk
        b = Buffer.concat([b, bytes(int(64))]);
        break;
      case 4: // rewrite a length field to something plausible
        if (b.length >= HEADER_LEN) int(2) ? b.writeUInt16BE(int(1400), 6) : (b[28 + int(2)] = int(80));
        break;
      case 5: // splice two packets
        b = Buffer.concat([b.subarray(0, int(b.length + 1)), valid[int(valid.length)]!.subarray(int(200))]);
        break;
      case 6: // overwrite a run with junk
        if (b.length) bytes(int(16)).copy(b, int(b.length));
        break;
    }
  }
  return b;
}

function signed(body: Buffer, type: number, sender = 'a', task = 't-1'): Buffer {
  const s = Buffer.from(sender);
  const t = Buffer.from(task);
  const head = Buffer.alloc(HEADER_LEN);
  head.write('PEP');
  head[3] = VERSION;
  head[4] = type;
  head.writeUInt16BE(body.length, 6);
  head[28] = s.length;
  head[29] = t.length;
  const all = Buffer.concat([head, s, t, body]);
  return Buffer.concat([all, createHmac('sha256', (key as { key: Buffer }).key).update(all).digest()]);
}

const jsonish = ['{', '}', '[', ']', '"', ':', ',', '0', '1e999', '-', 'null', 'true', '"node"', '"requirements"', '"vcpus"', '"__proto__"', '"free"', ' ', '\\u0000', '"to"', '"reason"', '"ttlMs"', '"imageSha256"', '60001', '"ab"', '"head"', '"epoch"', 'false', '9007199254740992', '"removals"'];

function tryDecode(buf: Buffer): 'ok' | 'dropped' {
  try {
    decode(buf, key);
    return 'ok';
  } catch (e) {
    if (e instanceof PepDecodeError) return 'dropped';
    throw new Error(`seed ${SEED}: non-PepDecodeError escaped for ${buf.toString('hex')}: ${String(e)}`);
  }
}

describe('PEP decode fuzz', () => {
  it('drops 100,000 random and mutated packets with PepDecodeError only, and accepts nothing unsigned', () => {
    let accepted = 0;
    for (let i = 0; i < 100_000; i++) {
      const kind = i % 4;
      const buf =
        kind === 0
          ? bytes(int(MAX_PACKET + 100))
          : kind === 1
            ? Buffer.concat([Buffer.from([0x50, 0x45, 0x50, VERSION, 1 + int(8)]), bytes(int(400))])
            : mutate(valid[int(valid.length)]!);
      if (tryDecode(buf) === 'ok') {
        // Only an unchanged authentic packet may pass (a mutation that undid itself).
        expect(validHex.has(buf.toString('hex')), `seed ${SEED}: accepted ${buf.toString('hex')}`).toBe(true);
        accepted++;
      }
    }
    expect(accepted).toBeLessThan(1000);
  });

  it('a HELLO accepted with any head/epoch combination claims the head exactly when it carries a safe positive epoch', () => {
    const node = samples.find((m) => m.type === 'HELLO')!.body as { node: unknown };
    const heads = [true, false, undefined, null, 0, 1, 'true', [], {}];
    const epochs = [undefined, 1, 2, 0, -1, 1.5, 2 ** 53, 2 ** 53 - 1, 1e300, -0, null, '1', [1], {}, Number.MAX_SAFE_INTEGER];
    let accepted = 0;
    for (let i = 0; i < 5_000; i++) {
      const body: Record<string, unknown> = { node: node.node };
      const h = heads[int(heads.length)];
      const e = epochs[int(epochs.length)];
      if (h !== undefined) body.head = h;
      if (e !== undefined) body.epoch = e;
      if (int(4) === 0) body.removals = int(2) ? 'ab'.repeat(8) : 'x';
      const buf = signed(Buffer.from(JSON.stringify(body)), 6, 'node-a', '');
      let msg;
      try {
        msg = decode(buf, key);
      } catch (err) {
        if (err instanceof PepDecodeError) continue;
        throw new Error(`seed ${SEED}: non-PepDecodeError escaped for ${JSON.stringify(body)}: ${String(err)}`);
      }
      accepted++;
      const b = msg.body as { head: unknown; epoch?: unknown };
      expect(b.head === true ? Number.isSafeInteger(b.epoch) && (b.epoch as number) >= 1 : b.head === false && !('epoch' in b), JSON.stringify(body)).toBe(true);
    }
    expect(accepted).toBeGreaterThan(0);
  });

  it('never lets hostile bodies signed with the real key escape as anything but PepDecodeError', () => {
    for (let i = 0; i < 10_000; i++) {
      const text =
        i % 2
          ? Array.from({ length: 1 + int(30) }, () => jsonish[int(jsonish.length)]).join('')
          : JSON.stringify(JSON.parse(JSON.stringify(samples[int(samples.length)]!.body)), (_k, v) =>
              int(6) === 0 ? [null, -1, 1e308, 'x'.repeat(300), {}, [], true][int(7)] : v,
            );
      const r = tryDecode(signed(Buffer.from(text ?? 'null'), 1 + int(8), int(10) ? 'a' : bytes(3).toString('latin1')));
      expect(['ok', 'dropped']).toContain(r);
    }
  });
});
