import { Contract, ProblemError, type Logger } from '@cps/common';
import type { StorageClient, StorageSchemas } from '@cps/openapi';
import { checkCapacity, type Space } from './capacity.ts';
import type { Image, ImageLibrary } from './images.ts';
import { storageUrl } from './peers.ts';
import type { ImageUploads } from './uploads.ts';

export type ImagePull = StorageSchemas['ImagePull'];

/** A peer that may hold the image: its node id (for the history line) and its storage endpoint. */
export interface ImageHolder {
  nodeId: string;
  address: string;
  port: number;
}

export interface ImagePullDeps {
  images: Pick<ImageLibrary, 'get'>;
  /** Installs the bytes as an uploaded image: temp file, hash, format checks, fsync, atomic rename. */
  uploads: Pick<ImageUploads, 'upload'>;
  /** The peers to ask, alive ones only (discovery's GET /peers); this node is not among them. */
  holders: () => Promise<ImageHolder[]>;
  /** A typed client for a peer's storage at `baseUrl`, over the cluster's mutual TLS. */
  peer: (baseUrl: string) => StorageClient;
  contract: Contract;
  /** Free space as disks see it: an image that does not fit beside the reserve is not fetched. */
  space: () => Promise<Space>;
  /** The donor's disk quota: an image larger than it could never get a task disk here. */
  quotaBytes?: number;
  /** The largest image this node takes (CPS_STORAGE_MAX_UPLOAD_MIB, as for an upload). */
  maxBytes: number;
  /** Milliseconds, for the pull's duration only. */
  now: () => number;
  /** How long asking one holder for its image record may take. */
  askTimeoutMs?: number;
  log: Logger;
}

/** The id storage gives uploaded bytes (uploads.ts uploadedImageId): only those travel. */
const uploadedId = /^img-([0-9a-f]{24})$/;

/** Problems that the same bytes from another holder would give again: not retried elsewhere. */
const final = new Set(['payload-too-large', 'quota-exceeded', 'insufficient-capacity', 'image-rejected']);

/**
 * Fetches an uploaded image this node lacks from a peer that holds it, before a task's disk is
 * built from it. The image id names its bytes (img-<first 24 hex of the SHA-256>), so a holder's
 * answer is checked against the id, its full SHA-256 against the bytes, and the bytes go through
 * the same install as an upload (ImageUploads: staged in tmp/, hashed, format-checked, renamed in
 * whole). A holder that sends a wrong, short or long body leaves nothing and the next one is tried.
 * Two requests for one image share one download.
 */
export class ImagePulls {
  private readonly running = new Map<string, Promise<ImagePull>>();

  constructor(private readonly d: ImagePullDeps) {}

  /**
   * Makes sure `imageId` is here: undefined when it already was, the pull's facts when it was
   * fetched. An image that is neither here nor an uploaded one gives the library's image-not-found.
   */
  async ensure(imageId: string): Promise<ImagePull | undefined> {
    const here = await this.present(imageId);
    if (here === true) return undefined;
    if (!uploadedId.test(imageId)) throw here;
    let p = this.running.get(imageId);
    if (!p) {
      p = this.pull(imageId).finally(() => this.running.delete(imageId));
      this.running.set(imageId, p);
    }
    return p;
  }

  /** True, or the library's problem saying why the image is not usable here. */
  private async present(imageId: string): Promise<true | ProblemError> {
    try {
      await this.d.images.get(imageId);
      return true;
    } catch (err) {
      if (err instanceof ProblemError && err.problemType === 'image-not-found') return err;
      throw err;
    }
  }

  private async pull(imageId: string): Promise<ImagePull> {
    const holders = await this.d.holders();
    const tried: string[] = [];
    for (const h of holders) {
      const where = `${h.nodeId} (${h.address}:${h.port})`;
      const peer = this.d.peer(storageUrl(h));
      const image = await this.ask(peer, imageId, where).catch((err: Error) => {
        tried.push(`${where}: ${err.message}`);
        return undefined;
      });
      if (image === undefined) continue;
      if (image === null) continue; // does not hold it: not worth a line
      const started = this.d.now();
      this.d.log.info({ imageId, from: h.nodeId, sizeBytes: image.sizeBytes }, 'fetching image from a peer');
      try {
        await this.fetchFrom(peer, image);
      } catch (err) {
        const problem = err instanceof ProblemError ? err : new ProblemError('transfer-failed', (err as Error).message);
        if (final.has(problem.problemType)) throw problem;
        this.d.log.warn({ imageId, from: h.nodeId, err: problem.message }, 'image fetch from a peer failed; trying the next holder');
        tried.push(`${where}: ${problem.message}`);
        continue;
      }
      const pulled: ImagePull = { imageId, fromNode: h.nodeId, sizeBytes: image.sizeBytes, ms: Math.max(0, Math.round(this.d.now() - started)) };
      this.d.log.info(pulled, 'image fetched from a peer');
      return pulled;
    }
    if (tried.length) throw new ProblemError('transfer-failed', `image ${imageId} could not be fetched from any peer: ${tried.join('; ').slice(0, 2000)}`);
    throw new ProblemError('image-not-found', `image ${imageId} is not on this node, and no alive peer holds it`);
  }

  /** The holder's record of the image, null when it has none; throws when its answer is unusable. */
  private async ask(peer: StorageClient, imageId: string, where: string): Promise<Image | null> {
    const res = await peer.GET('/images/{imageId}', { params: { path: { imageId } }, signal: AbortSignal.timeout(this.d.askTimeoutMs ?? 5_000) });
    if (res.response.status === 404) return null;
    if (!res.data) throw new Error(`answered ${res.response.status}`);
    const image = this.d.contract.check<Image>('Image', res.data, `${where} image`);
    const sha = image.sha256 ?? '';
    if (image.id !== imageId || !/^[0-9a-f]{64}$/.test(sha) || sha.slice(0, 24) !== uploadedId.exec(imageId)![1]) {
      throw new Error(`its record of ${imageId} names other bytes (${JSON.stringify(sha.slice(0, 64))})`);
    }
    this.d.contract.check<string>('ImageName', image.name, `${where} image name`);
    if (image.kind === 'kernel' || image.format === undefined) throw new Error(`its ${imageId} is not an uploaded disk or ISO`);
    return image;
  }

  private async fetchFrom(peer: StorageClient, image: Image): Promise<void> {
    const size = image.sizeBytes;
    const mib = (b: number) => `${Math.ceil(b / (1024 * 1024))} MiB`;
    if (size > this.d.maxBytes) throw new ProblemError('payload-too-large', `image ${image.id} is ${mib(size)}, more than the ${mib(this.d.maxBytes)} this node takes`);
    if (this.d.quotaBytes !== undefined && size > this.d.quotaBytes) {
      throw new ProblemError('quota-exceeded', `image ${image.id} is ${mib(size)}, more than the donor's disk quota of ${mib(this.d.quotaBytes)}`);
    }
    checkCapacity(size, await this.d.space());
    const res = await peer.GET('/images/{imageId}/file', { params: { path: { imageId: image.id } }, parseAs: 'stream' });
    if (!res.response.ok) throw new ProblemError('transfer-failed', `the holder answered ${res.response.status} for the image's bytes`);
    const declared = res.response.headers.get('content-length');
    if (declared !== null && declared.trim() !== String(size)) {
      await res.response.body?.cancel().catch(() => undefined);
      throw new ProblemError('transfer-failed', `the holder sends ${JSON.stringify(declared.slice(0, 40))} bytes, not the ${size} its record says`);
    }
    await this.d.uploads.upload({
      body: capped(res.response.body, size),
      name: image.name,
      format: image.format!,
      sha256: image.sha256!,
      contentLength: size,
    });
  }
}

/** The body, refused as soon as it passes `max` bytes: a holder cannot make this node take more than it declared. */
async function* capped(body: ReadableStream<Uint8Array> | null, max: number): AsyncIterable<Uint8Array> {
  if (!body) return;
  let n = 0;
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    n += chunk.byteLength;
    if (n > max) throw new ProblemError('transfer-failed', `the holder sent more than the ${max} bytes it declared`);
    yield chunk;
  }
}
