import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { CoordinatorClient, CoordinatorSchemas } from '@cps/openapi';
import { isProblemBody } from '@cps/common';
import { CommandError } from './client.ts';
import { problemLine } from './format.ts';

type DownloadFile = CoordinatorSchemas['TaskDownloadList']['files'][number];

export interface DownloadDeps {
  client: CoordinatorClient;
  taskId: string;
  /** The folder the files go to (made if missing). */
  outDir: string;
  /** One progress line (a quarter of the file further, resumed, done). */
  progress: (line: string) => void;
}

const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;

/**
 * Downloads one file of a task's kept copy to `<outDir>/<taskId>-<name>`. A partial file from an
 * earlier try is resumed with Range (and If-Range on the file's SHA-256, the storage's ETag, so a
 * copy that changed is sent whole); a whole file is checked against its SHA-256 and kept.
 */
export async function downloadFile(d: DownloadDeps, file: DownloadFile): Promise<{ path: string; resumedAt: number }> {
  await mkdir(d.outDir, { recursive: true });
  const target = path.join(d.outDir, `${d.taskId}-${file.name}`);
  const have = await sizeOf(target);
  if (have === file.sizeBytes && (await sha256Of(target)) === file.sha256) {
    d.progress(`${file.name}: already here, whole (${mib(file.sizeBytes)})`);
    return { path: target, resumedAt: have };
  }
  // A file longer than the copy, or whole but different, is not a start to build on.
  const from = have !== undefined && have < file.sizeBytes ? have : 0;
  const headers: Record<string, string> = from > 0 ? { range: `bytes=${from}-`, 'if-range': `"${file.sha256}"` } : {};
  const res = await d.client.GET('/api/tasks/{taskId}/download/{fileName}', {
    params: { path: { taskId: d.taskId, fileName: file.name } },
    headers,
    parseAs: 'stream',
  });
  const r = res.response;
  if (r.status !== 200 && r.status !== 206) {
    throw new CommandError(isProblemBody(res.error) ? problemLine(res.error) : `HTTP ${r.status} downloading ${file.name}`);
  }
  const start = r.status === 206 ? from : 0;
  if (start > 0) d.progress(`${file.name}: resuming at ${mib(start)} of ${mib(file.sizeBytes)}`);
  let done = start;
  let shown = Math.floor((start / Math.max(1, file.sizeBytes)) * 4);
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      done += chunk.length;
      const quarter = Math.floor((done / Math.max(1, file.sizeBytes)) * 4);
      if (quarter > shown && quarter < 4) {
        shown = quarter;
        d.progress(`${file.name}: ${quarter * 25}% (${mib(done)} of ${mib(file.sizeBytes)})`);
      }
      cb(null, chunk);
    },
  });
  await pipeline(Readable.fromWeb(r.body as import('node:stream/web').ReadableStream), counter, createWriteStream(target, { flags: start > 0 ? 'a' : 'w' }));
  const sha = await sha256Of(target);
  if (sha !== file.sha256) {
    throw new CommandError(`${target} does not match the copy's SHA-256 (${sha}, expected ${file.sha256}); delete it and download again`);
  }
  d.progress(`${file.name}: done, ${mib(file.sizeBytes)}, SHA-256 checked`);
  return { path: target, resumedAt: start };
}

async function sizeOf(file: string): Promise<number | undefined> {
  try {
    return (await stat(file)).size;
  } catch {
    return undefined;
  }
}

async function sha256Of(file: string): Promise<string> {
  const h = createHash('sha256');
  await pipeline(createReadStream(file), h);
  return h.digest('hex');
}
