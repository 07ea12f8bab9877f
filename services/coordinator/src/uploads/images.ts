import type { CoordinatorSchemas, StorageClient } from '@cps/openapi';
import { call } from '../upstream.ts';
import { passOnRefusal } from './refusals.ts';
import { halfDuplex } from './spool.ts';

export type UploadedImage = CoordinatorSchemas['UploadedImage'];
type UploadFormat = CoordinatorSchemas['UploadFormat'];

export interface ImageUpload {
  /** The request's body, passed on chunk by chunk as it arrives. */
  body: ReadableStream<Uint8Array> | null;
  name: string;
  format?: UploadFormat;
  sha256?: string;
  contentLength?: number;
}

/**
 * Streams an image upload into this node's storage (POST /images). Nothing is buffered here and no
 * timeout is set: a large image over a slow link takes as long as it takes, and a client that goes
 * away ends the body, which storage sees as upload-incomplete. Storage decides everything about
 * the bytes (size limit, format, hash); its refusals reach the user unchanged.
 */
export async function uploadImageToStorage(storage: StorageClient, u: ImageUpload): Promise<{ created: boolean; image: UploadedImage }> {
  let status = 0;
  // An empty body goes as none (a stream of nothing with Content-Length 0 is one undici cannot send).
  const body = u.body && u.contentLength !== 0 ? drainable(u.body) : undefined;
  try {
    const image = await call({ service: 'storage' }, async () => {
      const r = await storage.POST('/images', {
        params: { query: { name: u.name, ...(u.format ? { format: u.format } : {}), ...(u.sha256 ? { sha256: u.sha256 } : {}) } },
        // The stream goes out as it is; undici sends it with the Content-Length the client declared.
        body: body?.stream as unknown as string,
        bodySerializer: (b: unknown) => b as BodyInit,
        headers: {
          // Storage may refuse before it read the whole body (too large) and then drop the
          // connection; a kept-alive socket would fail the next upload. One connection per upload.
          connection: 'close',
          'content-type': 'application/octet-stream',
          ...(u.contentLength !== undefined ? { 'content-length': String(u.contentLength) } : {}),
        },
        ...halfDuplex,
      });
      status = r.response.status;
      return r;
    });
    return { created: status === 201, image: image as UploadedImage };
  } catch (err) {
    await body?.drain();
    passOnRefusal(err, ['payload-too-large', 'image-rejected', 'upload-incomplete', 'validation-failed', 'quota-exceeded', 'unsupported-media-type']);
  }
}

/**
 * A client whose upload is refused before it finished sending (storage says too large at once)
 * sees the connection drop instead of the answer unless the rest of its body is read. So the body
 * is passed on through a stream of our own, and after a refusal the rest is read and dropped, up to
 * a bound: beyond it the connection is cut, as spending the link on it would be worse.
 */
const drainMaxBytes = 256 * 1024 * 1024;

function drainable(source: ReadableStream<Uint8Array>) {
  const reader = source.getReader();
  const stream = new ReadableStream<Uint8Array>(
    {
      async pull(ctl) {
        const { done, value } = await reader.read();
        if (done) ctl.close();
        else ctl.enqueue(value);
      },
      // fetch cancels what it did not send; the source stays ours to drain.
      cancel: () => undefined,
    },
    { highWaterMark: 0 },
  );
  return {
    stream,
    async drain() {
      let n = 0;
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return;
          n += value.byteLength;
          if (n > drainMaxBytes) return void (await reader.cancel());
        }
      } catch {
        // The client is gone already.
      }
    },
  };
}
