/**
 * Our own reading of an upload's container headers, before any qemu tool opens it: which formats'
 * signatures the bytes carry (a file may carry several: a polyglot), and what a qcow2 header names
 * outside itself. Pure functions over the file's first and last bytes.
 */

/** Formats whose signature we look for: everything qemu probes (block/*.c `probe`), plus ISO 9660. */
export type SignatureFormat =
  | 'qcow2'
  | 'qcow'
  | 'qed'
  | 'vmdk'
  | 'vdi'
  | 'vhdx'
  | 'vpc'
  | 'parallels'
  | 'bochs'
  | 'cloop'
  | 'dmg'
  | 'luks'
  | 'iso';

export interface Signature {
  format: SignatureFormat;
  offset: number;
}

/** How much of the file's start the checks need: a qcow2's whole first cluster (clusters are at most 2 MiB). */
export const HEAD_BYTES = 2 * 1024 * 1024;
/** How much of the file's end: dmg's "koly" trailer is the last 512 bytes. */
export const TAIL_BYTES = 512;

const at = (buf: Buffer, offset: number, magic: Buffer | string): boolean => {
  const m = typeof magic === 'string' ? Buffer.from(magic, 'latin1') : magic;
  return buf.length >= offset + m.length && buf.subarray(offset, offset + m.length).equals(m);
};

const QCOW_MAGIC = Buffer.from([0x51, 0x46, 0x49, 0xfb]); // "QFI\xfb": qcow (v1) and qcow2 (v2, v3)

/**
 * Every format signature in the bytes. `head` is the file's first bytes (up to HEAD_BYTES), `tail`
 * its last (up to TAIL_BYTES; may overlap head for a small file).
 */
export function findSignatures(head: Buffer, tail: Buffer): Signature[] {
  const found: Signature[] = [];
  const add = (format: SignatureFormat, offset = 0) => found.push({ format, offset });
  if (at(head, 0, QCOW_MAGIC)) add(head.length >= 8 && head.readUInt32BE(4) === 1 ? 'qcow' : 'qcow2');
  if (at(head, 0, 'QED\0')) add('qed');
  if (at(head, 0, 'KDMV') || at(head, 0, 'COWD') || isVmdkDescriptor(head)) add('vmdk');
  if (head.length >= 0x44 && head.readUInt32LE(0x40) === 0xbeda107f) add('vdi', 0x40);
  if (at(head, 0, 'vhdxfile')) add('vhdx');
  if (at(head, 0, 'conectix')) add('vpc');
  if (at(head, 0, 'WithoutFreeSpace') || at(head, 0, 'WithouFreSpacExt')) add('parallels');
  if (at(head, 0, 'Bochs Virtual HD Image')) add('bochs');
  if (at(head, 0, '#!/bin/sh\n#V2.0 Format\n')) add('cloop');
  if (at(head, 0, Buffer.from([0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe]))) add('luks');
  // ISO 9660: the primary volume descriptor starts at sector 16 (0x8000); "CD001" follows its type byte.
  if (at(head, 0x8001, 'CD001')) add('iso', 0x8001);
  if (tail.length >= 512 && at(tail, tail.length - 512, 'koly')) add('dmg', -512);
  return found;
}

/**
 * A VMDK text descriptor as qemu's vmdk_probe sees one: comment and blank lines, then `version=1|2|3`.
 * Such a descriptor names its extents, which can be any file on the host.
 */
export function isVmdkDescriptor(head: Buffer): boolean {
  const text = head.subarray(0, 2048).toString('latin1');
  let p = 0;
  while (p < text.length) {
    if (text[p] === '#') {
      const nl = text.indexOf('\n', p);
      if (nl < 0) return false;
      p = nl + 1;
      continue;
    }
    if (text[p] === ' ' || text[p] === '\r' || text[p] === '\n') {
      const m = /^ *\r?\n/.exec(text.slice(p));
      if (!m) return false;
      p += m[0].length;
      continue;
    }
    return /^version=[123]\r?\n/.test(text.slice(p));
  }
  return false;
}

export interface Qcow2Header {
  version: number;
  virtualSizeBytes: number;
  clusterBits: number;
  /** The backing file the header names (cut to 1024 characters), when it names one. */
  backingFile?: string;
  /** An external data file: named by the header extension or required by the incompatible feature bit. */
  dataFile?: string;
  encrypted: boolean;
}

const EXT_END = 0;
const EXT_DATA_FILE = 0x44415441; // "DATA"
const INCOMPAT_DATA_FILE = 2n; // bit 1 of incompatible_features

/**
 * The fields of a qcow2 header that can reach outside the file. Throws a plain Error with the
 * reason when the header cannot be read whole (a cut or malformed header is refused by the caller).
 */
export function parseQcow2Header(head: Buffer): Qcow2Header {
  if (!at(head, 0, QCOW_MAGIC)) throw new Error('no qcow2 magic');
  if (head.length < 72) throw new Error('the qcow2 header is cut off');
  const version = head.readUInt32BE(4);
  if (version !== 2 && version !== 3) throw new Error(`qcow2 version ${version} is not 2 or 3`);
  const backingOffset = head.readBigUInt64BE(8);
  const backingSize = head.readUInt32BE(16);
  const clusterBits = head.readUInt32BE(20);
  if (clusterBits < 9 || clusterBits > 21) throw new Error(`qcow2 cluster_bits ${clusterBits} is out of range`);
  const clusterSize = 2 ** clusterBits;
  const virtualSize = head.readBigUInt64BE(24);
  const encrypted = head.readUInt32BE(32) !== 0;
  const out: Qcow2Header = { version, clusterBits, virtualSizeBytes: Number(virtualSize), encrypted };

  if (backingOffset !== 0n || backingSize !== 0) {
    const off = Number(backingOffset);
    const len = Math.min(backingSize, 1024);
    out.backingFile = off > 0 && off + len <= head.length ? head.subarray(off, off + len).toString('utf8') : '(unreadable name)';
  }

  let extStart = 72;
  if (version === 3) {
    if (head.length < 104) throw new Error('the qcow2 v3 header is cut off');
    if ((head.readBigUInt64BE(72) & INCOMPAT_DATA_FILE) !== 0n) out.dataFile = '(an external data file)';
    extStart = head.readUInt32BE(100);
    if (extStart < 104 || extStart > clusterSize) throw new Error(`qcow2 header_length ${extStart} is out of range`);
  }
  // Header extensions: type, length, data padded to 8 bytes, up to an end marker within the first cluster.
  const end = Math.min(clusterSize, head.length);
  for (let p = extStart; ; ) {
    if (p + 8 > end) {
      if (clusterSize > head.length) throw new Error('the qcow2 header extensions run past what was read');
      break; // no end marker before the cluster's end: qemu stops there too
    }
    const type = head.readUInt32BE(p);
    const len = head.readUInt32BE(p + 4);
    if (type === EXT_END) break;
    if (p + 8 + len > clusterSize) throw new Error('a qcow2 header extension runs past the first cluster');
    if (p + 8 + len > end) throw new Error('the qcow2 header extensions run past what was read');
    if (type === EXT_DATA_FILE) out.dataFile = head.subarray(p + 8, p + 8 + Math.min(len, 1024)).toString('utf8');
    p += 8 + Math.ceil(len / 8) * 8;
  }
  return out;
}
