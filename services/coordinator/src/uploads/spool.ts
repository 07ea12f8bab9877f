import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { ProblemError } from '@cps/common';

export interface Spooled {
  sizeBytes: number;
  sha256: string;
}

const mib = (n: number) => `${Math.floor(n / (1024 * 1024))} MiB`;

/**
 * Writes a body into a new file as it arrives (never whole in memory), hashing it, and refuses it
 * (payload-too-large) as soon as it passes `maxBytes`. The caller removes the file when this throws.
 */
export async function spoolToFile(body: AsyncIterable<Uint8Array> | null, file: string, maxBytes: number, expectedBytes?: number): Promise<Spooled> {
  if (expectedBytes !== undefined && expectedBytes > maxBytes) {
    throw new ProblemError('payload-too-large', `${expectedBytes} bytes is more than the limit of ${maxBytes} bytes (${mib(maxBytes)})`);
  }
  const hash = createHash('sha256');
  let n = 0;
  const fh = await open(file, 'wx', 0o600);
  try {
    for await (const chunk of body ?? []) {
      n += chunk.byteLength;
      if (n > maxBytes) throw new ProblemError('payload-too-large', `the body passed the limit of ${maxBytes} bytes (${mib(maxBytes)})`);
      hash.update(chunk);
      await fh.write(chunk);
    }
  } catch (err) {
    if (err instanceof ProblemError) throw err;
    // The client went away mid-body: nothing usable arrived.
    throw new ProblemError('upload-incomplete', `the upload broke off after ${n} bytes`);
  } finally {
    await fh.close();
  }
  if (expectedBytes !== undefined && n !== expectedBytes) throw new ProblemError('upload-incomplete', `${n} bytes arrived of the ${expectedBytes} the Content-Length declared`);
  return { sizeBytes: n, sha256: hash.digest('hex') };
}

/**
 * What fetch needs to send a stream as a request body (Node's fetch refuses one without it); the
 * DOM typings lack the field, hence the plain object spread into a client call's options.
 */
export const halfDuplex: object = { duplex: 'half' };
