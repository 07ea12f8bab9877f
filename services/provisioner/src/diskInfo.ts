import { execFile } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { promisify } from 'node:util';
import { ProblemError } from '@cps/common';
import { parseLayerInfo, type ReadLayer } from './diskChain.ts';

const run = promisify(execFile);

/**
 * Reads one layer of a disk with `qemu-img info`: format given (never probed), -U (a running
 * guest may hold the lock), without --backing-chain (so qemu-img opens no file the layer names;
 * diskChain.ts decides whether the next is read). Only regular files: a fifo or device is refused
 * before qemu-img could block on it.
 */
export function qemuImgLayerReader(bin = 'qemu-img', timeoutMs = 30_000): ReadLayer {
  return async ({ path, format }) => {
    const s = await stat(path).catch((err: NodeJS.ErrnoException) => {
      throw new ProblemError('disk-rejected', `${path}: cannot be read (${err.code ?? err.message})`);
    });
    if (!s.isFile()) throw new ProblemError('disk-rejected', `${path}: not a regular file`);
    let stdout: string;
    try {
      ({ stdout } = await run(bin, ['info', '-U', '--output=json', '-f', format, path], { timeout: timeoutMs, maxBuffer: 1024 * 1024, encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } }));
    } catch (err) {
      const e = err as NodeJS.ErrnoException & { stderr?: string };
      if (e.code === 'ENOENT') throw new ProblemError('tool-failed', `${bin} is not installed (or not on PATH); disks cannot be checked`);
      throw new ProblemError('disk-rejected', `${path}: qemu-img cannot read it as ${format}: ${(e.stderr ?? e.message).trim().slice(-500)}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(stdout);
    } catch {
      throw new ProblemError('disk-rejected', `${path}: qemu-img info printed something that is not JSON`);
    }
    return parseLayerInfo(json, path);
  };
}
