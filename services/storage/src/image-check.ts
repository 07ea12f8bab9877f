import { open } from 'node:fs/promises';
import { ProblemError } from '@cps/common';
import type { QemuImg } from './qemu-img.ts';

export type UploadFormat = 'qcow2' | 'raw' | 'iso';

// ISO 9660: the primary volume descriptor starts at sector 16 (0x8000); "CD001" follows its type byte.
const isoMagicOffset = 0x8001;
const isoMagic = Buffer.from('CD001', 'latin1');

export async function hasIsoSignature(file: string): Promise<boolean> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(isoMagic.length);
    const { bytesRead } = await fh.read(buf, 0, buf.length, isoMagicOffset);
    return bytesRead === buf.length && buf.equals(isoMagic);
  } finally {
    await fh.close();
  }
}

/**
 * What an uploaded file is, or an `image-rejected` problem. Only ISO, qcow2 and raw are taken:
 * other formats qemu understands (vmdk, vhdx, ...) can name extents elsewhere, and a qcow2 with a
 * backing file or an external data file would let a guest read any file on the host.
 */
export async function detectFormat(file: string, qemuImg: QemuImg, declared?: UploadFormat): Promise<UploadFormat> {
  let found: UploadFormat;
  if (await hasIsoSignature(file)) {
    found = 'iso';
  } else {
    // Probing is right here and nowhere else: this is the one place that asks what the bytes are.
    let info;
    try {
      info = await qemuImg.info(file);
    } catch (err) {
      throw new ProblemError('image-rejected', `qemu-img cannot read it: ${(err as Error).message}`);
    }
    if (info.format !== 'qcow2' && info.format !== 'raw') {
      throw new ProblemError('image-rejected', `the format ${JSON.stringify(info.format)} is not accepted (send ISO, qcow2 or raw)`);
    }
    if (info.backingFile !== undefined) {
      throw new ProblemError('image-rejected', `the qcow2 names a backing file (${JSON.stringify(info.backingFile.slice(0, 200))}); upload a flat image (qemu-img convert -O qcow2)`);
    }
    if (info.dataFile !== undefined) throw new ProblemError('image-rejected', 'the qcow2 names an external data file; upload a flat image');
    if (info.format === 'qcow2') {
      try {
        await qemuImg.check(file);
      } catch (err) {
        throw new ProblemError('image-rejected', `the qcow2 is damaged: ${(err as Error).message}`);
      }
    }
    found = info.format;
  }
  if (declared !== undefined && declared !== found) {
    throw new ProblemError('image-rejected', `it was declared ${declared} but its bytes are ${found}`);
  }
  return found;
}
