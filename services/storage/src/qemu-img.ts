import { ProblemError } from '@cps/common';
import type { RunTool } from './tool.ts';

export type DiskFormat = 'qcow2' | 'raw';

export interface DiskInfo {
  format: string;
  virtualSizeBytes: number;
  actualSizeBytes?: number;
  backingFile?: string;
  /** A qcow2's external data file: like a backing file, it can name any file on the host. */
  dataFile?: string;
}

/** The few qemu-img operations storage needs, over an injectable tool runner. */
export class QemuImg {
  constructor(
    private readonly run: RunTool,
    private readonly bin = 'qemu-img',
  ) {}

  /** An empty qcow2 (`backing` absent) or a copy-on-write overlay on `backing`. */
  async createQcow2(path: string, sizeMiB: number, backing?: { path: string; format: DiskFormat }): Promise<void> {
    const args = ['create', '-q', '-f', 'qcow2'];
    if (backing) args.push('-b', backing.path, '-F', backing.format);
    args.push(path, `${sizeMiB}M`);
    await this.run(this.bin, args, { timeoutMs: 60_000 });
  }

  /**
   * Pass `format` whenever it is known: probing lets a raw image that starts with a qcow2 header
   * pose as qcow2 and name any host file as its backing file.
   */
  async info(path: string, format?: DiskFormat): Promise<DiskInfo> {
    // -U: read even if a running guest holds the image's lock.
    const args = ['info', '-U', '--output=json', ...(format ? ['-f', format] : []), path];
    const { stdout } = await this.run(this.bin, args, { timeoutMs: 30_000 });
    let j: Record<string, unknown>;
    try {
      j = JSON.parse(stdout) as Record<string, unknown>;
    } catch {
      throw new ProblemError('tool-failed', `qemu-img info printed something that is not JSON for ${path}`);
    }
    if (typeof j.format !== 'string' || typeof j['virtual-size'] !== 'number') {
      throw new ProblemError('tool-failed', `qemu-img info gave no format or virtual-size for ${path}`);
    }
    return {
      format: j.format,
      virtualSizeBytes: j['virtual-size'],
      ...(typeof j['actual-size'] === 'number' ? { actualSizeBytes: j['actual-size'] } : {}),
      ...(typeof j['backing-filename'] === 'string' ? { backingFile: j['backing-filename'] } : {}),
      ...(dataFileOf(j) !== undefined ? { dataFile: dataFileOf(j)! } : {}),
    };
  }

  /** A compressed, flattened qcow2 copy (the backing chain is read through, so the copy stands alone). */
  async convertCompressed(src: string, srcFormat: DiskFormat, dest: string): Promise<void> {
    await this.run(this.bin, ['convert', '-q', '-c', '-f', srcFormat, '-O', 'qcow2', src, dest], { timeoutMs: 30 * 60_000 });
  }

  /** Points an overlay at another copy of the same base image (after a transfer); data is untouched. */
  async rebaseUnsafe(overlay: string, backing: { path: string; format: DiskFormat }): Promise<void> {
    await this.run(this.bin, ['rebase', '-q', '-u', '-f', 'qcow2', '-b', backing.path, '-F', backing.format, overlay], { timeoutMs: 60_000 });
  }

  /** Consistency check of a qcow2's metadata; a damaged one is a `tool-failed` problem. */
  async check(path: string): Promise<void> {
    await this.run(this.bin, ['check', '-q', '-f', 'qcow2', path], { timeoutMs: 10 * 60_000 });
  }
}

function dataFileOf(j: Record<string, unknown>): string | undefined {
  const spec = j['format-specific'] as { data?: Record<string, unknown> } | undefined;
  const f = spec?.data?.['data-file'];
  return typeof f === 'string' ? f : undefined;
}
