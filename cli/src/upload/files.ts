import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { CommandError } from '../task/client.ts';

/** A file's SHA-256, read as a stream (images are large); the first of an image upload's two passes. */
export async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** A file's bytes as a web stream that reports how many have been read, for a progress bar. */
export function countingStream(file: string, onBytes: (sent: number) => void): ReadableStream<Uint8Array> {
  const source = createReadStream(file, { highWaterMark: 256 * 1024 });
  let sent = 0;
  const reader = source[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>(
    {
      async pull(ctl) {
        const { done, value } = await reader.next();
        if (done) return ctl.close();
        const chunk = new Uint8Array(value as Buffer);
        sent += chunk.byteLength;
        onBytes(sent);
        ctl.enqueue(chunk);
      },
      cancel: () => void source.destroy(),
    },
    { highWaterMark: 0 },
  );
}

export interface FileToSend {
  /** The path inside the bootstrap archive. */
  name: string;
  path: string;
}

/**
 * What `cps bootstrap upload FILE...|DIR` sends: a folder's files by their path inside it, a file
 * by its own name. Links and other special files are refused here with the path that is one (the
 * coordinator would refuse the archive anyway, less helpfully).
 */
export async function filesToSend(args: readonly string[]): Promise<FileToSend[]> {
  const out: FileToSend[] = [];
  for (const arg of args) {
    const s = await lstat(arg).catch(() => {
      throw new CommandError(`${arg}: no such file or folder`);
    });
    if (s.isDirectory()) await walk(arg, '', out);
    else if (s.isFile()) out.push({ name: path.basename(arg), path: arg });
    else throw new CommandError(`${arg} is ${kind(s)}; bootstrap files are regular files and folders`);
  }
  const names = new Set<string>();
  for (const f of out) {
    if (names.has(f.name)) throw new CommandError(`two files would both be ${f.name} in the bootstrap; rename one`);
    names.add(f.name);
  }
  if (out.length === 0) throw new CommandError('no files to send (the folder is empty)');
  return out;
}

async function walk(root: string, rel: string, out: FileToSend[]): Promise<void> {
  for (const entry of (await readdir(path.join(root, rel), { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    const name = rel ? `${rel}/${entry.name}` : entry.name;
    const full = path.join(root, name);
    if (entry.isDirectory()) await walk(root, name, out);
    else if (entry.isFile()) out.push({ name, path: full });
    else throw new CommandError(`${full} is ${kind(await lstat(full))}; bootstrap files are regular files and folders`);
  }
}

const kind = (s: Awaited<ReturnType<typeof stat>>) => (s.isSymbolicLink() ? 'a symbolic link' : s.isFIFO() ? 'a fifo' : s.isSocket() ? 'a socket' : 'a device');
