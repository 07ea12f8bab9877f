import { describe, expect, it } from 'vitest';
import { findSignatures, isVmdkDescriptor, parseQcow2Header } from '../src/image-signatures.ts';

const zeros = (n: number) => Buffer.alloc(n);
const put = (b: Buffer, at: number, s: string | Buffer) => {
  (typeof s === 'string' ? Buffer.from(s, 'latin1') : s).copy(b, at);
  return b;
};

/** A qcow2 v3 header as qemu-img writes it: 64 KiB clusters, header_length 112, extensions after it. */
function qcow2(over: { version?: number; backing?: string; incompat?: bigint; crypt?: number; ext?: Array<[number, Buffer]>; headerLength?: number; size?: bigint } = {}) {
  const b = zeros(64 * 1024);
  put(b, 0, Buffer.from([0x51, 0x46, 0x49, 0xfb]));
  b.writeUInt32BE(over.version ?? 3, 4);
  b.writeUInt32BE(16, 20);
  b.writeBigUInt64BE(over.size ?? 4n << 20n, 24);
  b.writeUInt32BE(over.crypt ?? 0, 32);
  b.writeBigUInt64BE(over.incompat ?? 0n, 72);
  b.writeUInt32BE(over.headerLength ?? 112, 100);
  let p = (over.version ?? 3) === 3 ? (over.headerLength ?? 112) : 72;
  for (const [type, data] of over.ext ?? []) {
    b.writeUInt32BE(type, p);
    b.writeUInt32BE(data.length, p + 4);
    data.copy(b, p + 8);
    p += 8 + Math.ceil(data.length / 8) * 8;
  }
  if (over.backing !== undefined) {
    b.writeBigUInt64BE(0x1000n, 8);
    b.writeUInt32BE(Buffer.byteLength(over.backing), 16);
    put(b, 0x1000, over.backing);
  }
  return b;
}

describe('findSignatures', () => {
  const formats = (head: Buffer, tail: Buffer = Buffer.alloc(0)) => findSignatures(head, tail).map((s) => s.format);
  it.each([
    ['plain zeros', zeros(0x9000), []],
    ['qcow2', qcow2(), ['qcow2']],
    ['qcow v1', put(qcow2({ version: 1 }), 0, 'QFI\xfb'), ['qcow']],
    ['qcow2 + ISO marker', put(Buffer.concat([qcow2(), zeros(0)]), 0x8001, 'CD001'), ['qcow2', 'iso']],
    ['ISO', put(zeros(0x9000), 0x8001, 'CD001'), ['iso']],
    ['QED', put(zeros(4096), 0, 'QED\0'), ['qed']],
    ['sparse vmdk', put(zeros(4096), 0, 'KDMV'), ['vmdk']],
    ['vmdk3', put(zeros(4096), 0, 'COWD'), ['vmdk']],
    ['vmdk descriptor', put(zeros(4096), 0, '# Disk DescriptorFile\nversion=1\n'), ['vmdk']],
    ['vdi', (() => { const b = zeros(4096); b.writeUInt32LE(0xbeda107f, 0x40); return b; })(), ['vdi']],
    ['vhdx', put(zeros(4096), 0, 'vhdxfile'), ['vhdx']],
    ['vpc', put(zeros(4096), 0, 'conectix'), ['vpc']],
    ['parallels', put(zeros(4096), 0, 'WithoutFreeSpace'), ['parallels']],
    ['parallels ext', put(zeros(4096), 0, 'WithouFreSpacExt'), ['parallels']],
    ['bochs', put(zeros(4096), 0, 'Bochs Virtual HD Image'), ['bochs']],
    ['cloop', put(zeros(4096), 0, '#!/bin/sh\n#V2.0 Format\nmodprobe cloop'), ['cloop']],
    ['LUKS', put(zeros(4096), 0, Buffer.from([0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe])), ['luks']],
    ['a marker too short to hold', Buffer.from('QFI'), []],
  ] as Array<[string, Buffer, string[]]>)('%s', (_, head, want) => {
    expect(formats(head)).toEqual(want);
  });
  it('finds a dmg trailer at the end only', () => {
    expect(formats(zeros(4096), put(zeros(512), 0, 'koly'))).toEqual(['dmg']);
    expect(formats(zeros(4096), put(zeros(512), 8, 'koly'))).toEqual([]);
  });
});

describe('isVmdkDescriptor', () => {
  it.each([
    ['version first', 'version=1\n', true],
    ['after comments and blank lines', '# Disk DescriptorFile\n\n   \r\n# x\nversion=3\r\n', true],
    ['version 4', 'version=4\n', false],
    ['text before it', 'hello\nversion=1\n', false],
    ['only comments', '# a\n# b\n', false],
    ['a comment without an end', '# a', false],
  ])('%s', (_, text, want) => {
    expect(isVmdkDescriptor(Buffer.from(text))).toBe(want);
  });
});

describe('parseQcow2Header', () => {
  it('reads a flat qcow2', () => {
    expect(parseQcow2Header(qcow2())).toEqual({ version: 3, clusterBits: 16, virtualSizeBytes: 4 << 20, encrypted: false });
  });
  it.each([
    ['a backing file', qcow2({ backing: '/etc/passwd' }), { backingFile: '/etc/passwd' }],
    ['a backing file in a v2 header', qcow2({ version: 2, backing: 'json:{"file":{"driver":"nbd"}}' }), { backingFile: 'json:{"file":{"driver":"nbd"}}' }],
    ['a data file extension', qcow2({ ext: [[0x44415441, Buffer.from('/etc/shadow')]] }), { dataFile: '/etc/shadow' }],
    ['the data-file feature bit alone', qcow2({ incompat: 2n }), { dataFile: '(an external data file)' }],
    ['encryption', qcow2({ crypt: 2 }), { encrypted: true }],
    ['a data file after other extensions', qcow2({ ext: [[0xe2792aca, Buffer.from('raw')], [0x6803f857, zeros(48)], [0x44415441, Buffer.from('/x')]] }), { dataFile: '/x' }],
    ['a 1 PiB size', qcow2({ size: 1n << 50n }), { virtualSizeBytes: 2 ** 50 }],
  ])('sees %s', (_, head, want) => {
    expect(parseQcow2Header(head)).toMatchObject(want);
  });
  it.each([
    ['no magic', zeros(4096), /no qcow2 magic/],
    ['a cut header', qcow2().subarray(0, 60), /cut off/],
    ['version 4', qcow2({ version: 4 }), /version 4/],
    ['header_length past the cluster', qcow2({ headerLength: 70_000 }), /header_length/],
    ['an extension past the cluster', (() => { const b = qcow2(); b.writeUInt32BE(0x1234, 112); b.writeUInt32BE(70_000, 116); return b; })(), /past the first cluster/],
    ['extensions past what was read', qcow2({ ext: [[0x6803f857, zeros(48)]] }).subarray(0, 150), /past what was read/],
  ])('refuses %s', (_, head, why) => {
    expect(() => parseQcow2Header(head)).toThrow(why);
  });
});
