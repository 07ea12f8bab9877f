import { chmod, mkdir, open, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { ProblemError } from '@cps/common';
import { blockSize, checkEntryName, decodeHeader, decodePax, entryType, paddedSize, TarError } from './tar.ts';

export interface ExtractedFile {
  path: string;
  sizeBytes: number;
}

export interface ExtractLimits {
  maxEntries: number;
}

const maxMetaBytes = 64 * 1024;
const copyChunk = 1024 * 1024;

/**
 * Unpacks a tar archive (a file, read piece by piece) into the empty folder `dest`. Only files
 * and folders are made, and only under `dest`; any refused entry or damage is an
 * `archive-rejected` problem, and the caller removes `dest`.
 */
export async function extractTar(archive: string, dest: string, limits: ExtractLimits): Promise<ExtractedFile[]> {
  const fh = await open(archive, 'r');
  try {
    return await extractFrom(fh, (await fh.stat()).size, dest, limits);
  } catch (err) {
    if (err instanceof TarError) throw new ProblemError('archive-rejected', err.message);
    throw err;
  } finally {
    await fh.close();
  }
}

async function extractFrom(fh: FileHandle, total: number, dest: string, limits: ExtractLimits): Promise<ExtractedFile[]> {
  const files: ExtractedFile[] = [];
  let pos = 0;
  let entries = 0;
  let longName: string | undefined;
  let pax = new Map<string, string>();
  const readAt = async (at: number, length: number) => {
    if (at + length > total) throw new TarError('the archive is cut off');
    const buf = Buffer.alloc(length);
    await fh.read(buf, 0, length, at);
    return buf;
  };
  while (pos < total) {
    const header = decodeHeader(await readAt(pos, blockSize));
    if (!header) break;
    if (++entries > limits.maxEntries) throw new TarError(`the archive has more than ${limits.maxEntries} entries`);
    pos += blockSize;
    const t = header.typeflag;
    if (t === 'x' || t === 'g' || t === 'L') {
      if (header.size > maxMetaBytes) throw new TarError(`a ${t} header of ${header.size} bytes is too large`);
      const data = await readAt(pos, header.size);
      pos += paddedSize(header.size);
      if (t === 'x') pax = decodePax(data);
      if (t === 'L') longName = data.toString('utf8').replace(/\0.*$/s, '');
      continue; // 'g' (global pax) only carries defaults such as mtime: nothing storage uses
    }
    const name = pax.get('path') ?? longName ?? header.name;
    const size = pax.has('size') ? Number(pax.get('size')) : header.size;
    pax = new Map();
    longName = undefined;
    if (!Number.isSafeInteger(size) || size < 0) throw new TarError(`${JSON.stringify(name.slice(0, 80))} has a bad size`);
    const type = entryType(t, name);
    const parts = checkEntryName(name);
    if (pos + paddedSize(type === 'file' ? size : 0) > total) throw new TarError('the archive is cut off');
    if (parts) {
      // `parts` has no '..' and nothing but folders and files is ever made here, so no path can lead out.
      const target = path.join(dest, ...parts);
      if (type === 'dir') {
        await mkdirIn(target, name);
      } else {
        await mkdirIn(path.dirname(target), name);
        await copyOut(fh, pos, size, target, name);
        await chmod(target, header.mode & 0o111 ? 0o755 : 0o644);
        files.push({ path: parts.join('/'), sizeBytes: size });
      }
    }
    if (type === 'file') pos += paddedSize(size);
  }
  return files;
}

async function mkdirIn(dir: string, name: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o755 });
  } catch {
    throw new TarError(`${JSON.stringify(name.slice(0, 80))} needs a folder where the archive has a file`);
  }
  if (!(await stat(dir)).isDirectory()) throw new TarError(`${JSON.stringify(name.slice(0, 80))} needs a folder where the archive has a file`);
}

async function copyOut(fh: FileHandle, at: number, size: number, target: string, name: string): Promise<void> {
  let out: FileHandle;
  try {
    out = await open(target, 'wx', 0o644);
  } catch {
    throw new TarError(`${JSON.stringify(name.slice(0, 80))} is in the archive twice (or is a folder too)`);
  }
  try {
    const buf = Buffer.alloc(Math.min(copyChunk, Math.max(size, 1)));
    for (let done = 0; done < size; ) {
      const n = Math.min(buf.length, size - done);
      const { bytesRead } = await fh.read(buf, 0, n, at + done);
      if (bytesRead !== n) throw new TarError('the archive is cut off');
      await out.write(buf, 0, n);
      done += n;
    }
  } finally {
    await out.close();
  }
}
