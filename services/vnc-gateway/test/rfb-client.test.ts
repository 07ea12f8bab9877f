import { describe, expect, it } from 'vitest';
import { RfbClientScanner } from '../src/rfb-client.ts';

const b = (...xs: number[]) => Buffer.from(xs);
const v38 = Buffer.from('RFB 003.008\n');
const v33 = Buffer.from('RFB 003.003\n');
const fbur = b(3, 1, 0, 0, 0, 0, 4, 0, 3, 0);
const setEncodings = b(2, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 7);
const key = b(4, 1, 0, 0, 0, 0, 0, 0x61);
const pointer = b(5, 0, 0, 10, 0, 20);
const cutText = Buffer.concat([b(6, 0, 0, 0, 0, 0, 0, 3), Buffer.from('abc')]);
const qemuKey = b(255, 0, 0, 1, 0, 0, 0, 0x61, 0, 0, 0, 0x1e);
const fence = b(248, 0, 0, 0, 0, 0, 0, 0, 2, 9, 9);

/** Feeds `stream` in pieces of `size` bytes; what went out, and which pieces counted as input. */
function run(stream: Buffer, size: number) {
  const s = new RfbClientScanner();
  const out: Buffer[] = [];
  const inputs: boolean[] = [];
  for (let i = 0; i < stream.length; i += size) {
    const r = s.scan(stream.subarray(i, i + size));
    out.push(r.out);
    inputs.push(r.input);
  }
  return { out: Buffer.concat(out), input: inputs.some(Boolean), s };
}

describe('RfbClientScanner: ClientInit is always shared', () => {
  it.each([
    ['3.8, security None', Buffer.concat([v38, b(1), b(0)]), 13],
    ['3.8, VNC auth answered by the browser', Buffer.concat([v38, b(2), Buffer.alloc(16, 7), b(0)]), 29],
    ['3.3', Buffer.concat([v33, b(0)]), 12],
  ])('%s: shared-flag 0 becomes 1, nothing else changes', (_what, stream, at) => {
    for (const size of [1, 3, stream.length]) {
      const { out } = run(Buffer.concat([stream, fbur]), size);
      expect(out[at]).toBe(1);
      const expected = Buffer.concat([stream, fbur]);
      expected[at] = 1;
      expect(out.equals(expected)).toBe(true);
    }
  });

  it('leaves the chunk it was given alone (the change is on a copy)', () => {
    const s = new RfbClientScanner();
    s.scan(Buffer.concat([v38, b(1)]));
    const init = b(0);
    expect([...s.scan(init).out]).toEqual([1]);
    expect([...init]).toEqual([0]);
  });
});

describe('RfbClientScanner: what counts as input', () => {
  const handshake = Buffer.concat([v38, b(1), b(1)]);
  it.each([
    ['FramebufferUpdateRequest', fbur, false],
    ['SetEncodings', setEncodings, false],
    ['SetPixelFormat', Buffer.concat([b(0), Buffer.alloc(19)]), false],
    ['ClientFence', fence, false],
    ['KeyEvent', key, true],
    ['PointerEvent', pointer, true],
    ['ClientCutText', cutText, true],
    ["QEMU's extended key event", qemuKey, true],
  ])('%s: input %s', (_what, msg, input) => {
    const s = new RfbClientScanner();
    s.scan(handshake);
    for (const size of [1, 2, msg.length]) {
      const t = new RfbClientScanner();
      t.scan(handshake);
      const parts: boolean[] = [];
      for (let i = 0; i < msg.length; i += size) parts.push(t.scan(msg.subarray(i, i + size)).input);
      expect(parts.some(Boolean)).toBe(input);
    }
    expect(s.scan(Buffer.concat([msg, fbur, fbur])).input).toBe(input);
  });

  it('keeps message boundaries over a long mixed stream, split anywhere', () => {
    const quiet = Buffer.concat([setEncodings, fbur, fence, fbur, fbur]);
    for (const size of [1, 5, 7, 64]) {
      expect(run(Buffer.concat([handshake, quiet, quiet]), size).input).toBe(false);
      const { s } = run(Buffer.concat([handshake, quiet]), size);
      expect(s.scan(pointer).input).toBe(true);
      expect(s.scan(fbur).input).toBe(false);
    }
  });

  it('counts everything as input after a message it does not know (it never guesses boundaries)', () => {
    const s = new RfbClientScanner();
    s.scan(handshake);
    expect(s.scan(b(99, 0, 0)).input).toBe(true);
    expect(s.scan(fbur).input).toBe(true);
  });
});
