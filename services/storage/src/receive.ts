import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { ProblemError } from '@cps/common';

export interface Received {
  sizeBytes: number;
  sha256: string;
}

export interface ReceiveLimits {
  /** More than this many bytes is refused (payload-too-large) as soon as it is seen. */
  maxBytes: number;
  /** The sender's Content-Length (or the manifest's size): fewer bytes mean the upload was cut off. */
  expectedBytes?: number;
  /** Which problem a body that breaks off gives (an upload: upload-incomplete; a pull: transfer-failed). */
  brokenType?: 'upload-incomplete' | 'transfer-failed';
}

const mib = (n: number) => `${Math.floor(n / (1024 * 1024))} MiB`;

/**
 * Streams a body into a new file (never whole in memory) while hashing it. The caller owns the
 * file's folder and removes it when this throws, so nothing of a refused or broken body is kept.
 */
export async function receiveToFile(body: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array> | null, file: string, limits: ReceiveLimits): Promise<Received> {
  const broken = limits.brokenType ?? 'upload-incomplete';
  if (limits.expectedBytes !== undefined && limits.expectedBytes > limits.maxBytes) {
    throw new ProblemError('payload-too-large', `${limits.expectedBytes} bytes is more than the limit of ${limits.maxBytes} bytes (${mib(limits.maxBytes)})`);
  }
  if (!body && limits.expectedBytes !== 0) throw new ProblemError(broken, 'there is no body');
  const hash = createHash('sha256');
  let n = 0;
  const fh = await open(file, 'wx', 0o644);
  try {
    for await (const chunk of (body ?? []) as AsyncIterable<Uint8Array>) {
      n += chunk.byteLength;
      if (n > limits.maxBytes) throw new ProblemError('payload-too-large', `the body passed the limit of ${limits.maxBytes} bytes (${mib(limits.maxBytes)})`);
      hash.update(chunk);
      await fh.write(chunk);
    }
    // On disk before the caller renames it into place: a crash then leaves a whole file or none.
    await fh.sync();
  } catch (err) {
    if (err instanceof ProblemError) throw err;
    throw new ProblemError(broken, `the body broke off after ${n} bytes: ${(err as Error).message}`);
  } finally {
    await fh.close();
  }
  if (limits.expectedBytes !== undefined && n !== limits.expectedBytes) {
    throw new ProblemError(broken, `the body ended after ${n} of ${limits.expectedBytes} bytes`);
  }
  return { sizeBytes: n, sha256: hash.digest('hex') };
}

/** The SHA-256 of a file, read as a stream. */
export function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(file)
      .on('data', (c) => hash.update(c))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}

/** Content-Length as a number, or undefined when absent; a malformed one is a bad request. */
export function contentLength(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  if (!/^\d{1,16}$/.test(header.trim())) throw new ProblemError('bad-request', `Content-Length ${JSON.stringify(header.slice(0, 40))} is not a number`);
  return Number(header.trim());
}
