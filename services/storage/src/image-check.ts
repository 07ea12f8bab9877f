import { open } from 'node:fs/promises';
import { ProblemError } from '@cps/common';
import { findSignatures, HEAD_BYTES, parseQcow2Header, TAIL_BYTES, type Signature, type SignatureFormat } from './image-signatures.ts';
import type { QemuImg } from './qemu-img.ts';

export type UploadFormat = 'qcow2' | 'raw' | 'iso';

export interface CheckedImage {
  format: UploadFormat;
  virtualSizeBytes: number;
}

export interface ImageCheckOptions {
  declared?: UploadFormat;
  /** Larger virtual sizes are refused: no task disk on this node could hold the image. */
  maxVirtualBytes: number;
  /** Why that is the limit, for the refusal's detail (the setting's name, the quota). */
  maxVirtualWhy?: string;
}

const names: Record<SignatureFormat, string> = {
  qcow2: 'qcow2',
  qcow: 'qcow (version 1)',
  qed: 'QED',
  vmdk: 'vmdk',
  vdi: 'vdi',
  vhdx: 'vhdx',
  vpc: 'vpc (VHD)',
  parallels: 'parallels',
  bochs: 'bochs',
  cloop: 'cloop',
  dmg: 'dmg',
  luks: 'LUKS',
  iso: 'ISO 9660',
};

const reject = (detail: string) => new ProblemError('image-rejected', detail);
const GiB = 1024 ** 3;
const gib = (n: number) => `${(n / GiB).toFixed(n % GiB === 0 ? 0 : 1)} GiB`;

/**
 * What an uploaded file is, or an `image-rejected` problem. Only ISO, qcow2 and raw are taken:
 * other formats qemu understands (vmdk, vhdx, ...) can name extents elsewhere, and a qcow2 with a
 * backing file or an external data file would let a guest read any file on the host.
 *
 * The whole file decides, never one marker: every container header in it is read by our own
 * parser first (so no qemu tool opens a file a header names), a file carrying two formats'
 * signatures (a qcow2 that is also an ISO) is refused as ambiguous, and qemu-img's own probe must
 * agree with what the headers say.
 */
export async function detectFormat(file: string, qemuImg: QemuImg, opts: ImageCheckOptions): Promise<CheckedImage> {
  const { head, tail } = await readEnds(file);
  const signatures = findSignatures(head, tail);
  for (const s of signatures) checkContainer(s, head);
  if (signatures.length > 1) {
    throw reject(`its bytes are at once ${signatures.map((s) => names[s.format]).join(' and ')} (a polyglot); a guest and the host could read it as different things, so it is refused`);
  }
  const isQcow2 = signatures.some((s) => s.format === 'qcow2');

  // Probing is right here and nowhere else: this is the one place that asks what the bytes are.
  let info;
  try {
    info = await qemuImg.info(file);
  } catch (err) {
    throw reject(`qemu-img cannot read it: ${(err as Error).message}`);
  }
  if (info.format !== (isQcow2 ? 'qcow2' : 'raw')) {
    throw reject(info.format === 'qcow2' || info.format === 'raw'
      ? `qemu-img reads it as ${info.format} but its header says ${isQcow2 ? 'qcow2' : 'no container format'}`
      : `the format ${JSON.stringify(info.format)} is not accepted (send ISO, qcow2 or raw)`);
  }
  // A second opinion on what our parser already refused.
  if (info.backingFile !== undefined) throw backingRefusal(info.backingFile);
  if (info.dataFile !== undefined) throw reject('the qcow2 names an external data file; upload a flat image');
  if (isQcow2) {
    try {
      await qemuImg.check(file);
    } catch (err) {
      throw reject(`the qcow2 is damaged: ${(err as Error).message}`);
    }
  }
  const virtual = Math.max(info.virtualSizeBytes, isQcow2 ? parseQcow2Header(head).virtualSizeBytes : 0);
  if (virtual > opts.maxVirtualBytes) {
    throw reject(`its virtual size is ${gib(virtual)}, more than the ${gib(opts.maxVirtualBytes)} any disk on this node can be${opts.maxVirtualWhy ? ` (${opts.maxVirtualWhy})` : ''}`);
  }
  const found: UploadFormat = signatures.some((s) => s.format === 'iso') ? 'iso' : isQcow2 ? 'qcow2' : 'raw';
  if (opts.declared !== undefined && opts.declared !== found) {
    throw reject(`it was declared ${opts.declared} but its bytes are ${found}`);
  }
  return { format: found, virtualSizeBytes: virtual };
}

/** One container header's own refusals, whatever format the file is presented as. */
function checkContainer(s: Signature, head: Buffer): void {
  if (s.format === 'iso') return;
  if (s.format !== 'qcow2') throw reject(`the format ${JSON.stringify(s.format)} (${names[s.format]} header at offset ${s.offset}) is not accepted (send ISO, qcow2 or raw)`);
  let h;
  try {
    h = parseQcow2Header(head);
  } catch (err) {
    throw reject(`the qcow2 header is damaged: ${(err as Error).message}`);
  }
  if (h.backingFile !== undefined) throw backingRefusal(h.backingFile);
  if (h.dataFile !== undefined) throw reject('the qcow2 names an external data file; upload a flat image');
  if (h.encrypted) throw reject('the qcow2 is encrypted; upload an unencrypted image');
}

const backingRefusal = (name: string) =>
  reject(`the qcow2 names a backing file (${JSON.stringify(name.slice(0, 200))}); upload a flat image (qemu-img convert -O qcow2)`);

async function readEnds(file: string): Promise<{ head: Buffer; tail: Buffer }> {
  const fh = await open(file, 'r');
  try {
    const { size } = await fh.stat();
    const head = Buffer.alloc(Math.min(size, HEAD_BYTES));
    const h = await fh.read(head, 0, head.length, 0);
    const tailLen = Math.min(size, TAIL_BYTES);
    const tail = Buffer.alloc(tailLen);
    const t = await fh.read(tail, 0, tailLen, size - tailLen);
    return { head: head.subarray(0, h.bytesRead), tail: tail.subarray(0, t.bytesRead) };
  } finally {
    await fh.close();
  }
}
