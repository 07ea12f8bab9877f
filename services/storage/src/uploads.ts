import { chmod, mkdir, mkdtemp, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ProblemError, type Logger } from '@cps/common';
import { detectFormat, type UploadFormat } from './image-check.ts';
import { builtinImageIds, type Image, type ImageLibrary } from './images.ts';
import type { StorageLayout } from './paths.ts';
import type { QemuImg } from './qemu-img.ts';
import { receiveToFile } from './receive.ts';

export interface UploadRequest {
  body: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array> | null;
  name: string;
  format?: UploadFormat;
  sha256?: string;
  contentLength?: number;
}

/** What the image library needs to know about the tasks on this peer. */
export interface ImageUsers {
  tasksUsingImage(imageId: string): Promise<string[]>;
  /** Runs `work` while no task's disks are being built, so "unused" stays true until it ends. */
  exclusive<T>(work: () => Promise<T>): Promise<T>;
}

export interface ImageUploadDeps {
  layout: StorageLayout;
  images: ImageLibrary;
  qemuImg: QemuImg;
  users: ImageUsers;
  maxUploadBytes: number;
  /** Images of a larger virtual size are refused (CPS_STORAGE_MAX_VIRTUAL_GIB); default: the largest task disk. */
  maxVirtualBytes?: number;
  /** The donor's disk quota: every task disk counts at full size, so a larger image could never get one. */
  quotaBytes?: number;
  log: Logger;
}

/**
 * The largest task disk the contract lets anyone ask for (TaskDisksRequest.diskMiB's maximum,
 * 4 TiB): a disk image must fit in its task's disk, so no larger image could ever be used here.
 */
export const maxTaskDiskBytes = 4_194_304 * 1024 * 1024;

const fileFor: Record<UploadFormat, string> = { iso: 'image.iso', qcow2: 'disk.qcow2', raw: 'disk.raw' };

/** An uploaded image's id: derived from its content, so the same bytes are one image on every peer. */
export const uploadedImageId = (sha256: string) => `img-${sha256.slice(0, 24)}`;

/**
 * Adds and removes user images. An upload is written into tmp/ while it is hashed, checked there,
 * and its folder renamed to images/<id> only when it is whole and accepted; any failure removes
 * the folder, so images/ only ever holds complete images.
 */
export class ImageUploads {
  constructor(private readonly d: ImageUploadDeps) {}

  async upload(req: UploadRequest): Promise<{ created: boolean; image: Image }> {
    await mkdir(this.d.layout.tmpDir, { recursive: true, mode: 0o755 });
    const staging = await mkdtemp(path.join(this.d.layout.tmpDir, 'upload-'));
    try {
      const data = path.join(staging, 'data');
      const got = await receiveToFile(req.body, data, {
        maxBytes: this.d.maxUploadBytes,
        ...(req.contentLength !== undefined ? { expectedBytes: req.contentLength } : {}),
      });
      if (got.sizeBytes === 0) throw new ProblemError('image-rejected', 'the upload is empty');
      if (req.sha256 !== undefined && req.sha256 !== got.sha256) {
        throw new ProblemError('upload-incomplete', `the bytes hash to ${got.sha256}, not the ${req.sha256} that was declared`);
      }
      const { format, virtualSizeBytes } = await detectFormat(data, this.d.qemuImg, { ...(req.format !== undefined ? { declared: req.format } : {}), ...this.virtualLimit() });
      const id = uploadedImageId(got.sha256);
      const existing = await this.existing(id);
      if (existing) return { created: false, image: existing };

      const file = fileFor[format];
      await rename(data, path.join(staging, file));
      const json = {
        id,
        name: req.name,
        kind: format === 'iso' ? 'iso' : 'disk',
        ...(format === 'iso' ? {} : { format }),
        file,
        sizeBytes: got.sizeBytes,
        sha256: got.sha256,
        uploadedAt: new Date().toISOString(),
      };
      await writeFile(path.join(staging, 'image.json'), `${JSON.stringify(json, null, 2)}\n`, { mode: 0o644 });
      await chmod(staging, 0o755); // qemu's user must reach the file
      await mkdir(this.d.layout.imagesDir, { recursive: true, mode: 0o755 });
      try {
        await rename(staging, this.d.layout.imageDir(id));
      } catch (err) {
        // Another upload of the same bytes finished first: theirs is the same image.
        const raced = await this.existing(id);
        if (raced) return { created: false, image: raced };
        throw err;
      }
      this.d.log.info({ imageId: id, name: req.name, format, sizeBytes: got.sizeBytes, virtualSizeBytes }, 'image uploaded');
      return { created: true, image: (await this.d.images.get(id)).image };
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }

  /** Removes an uploaded image; refused while a task's disks use it, and for built-in images. */
  async delete(id: string): Promise<boolean> {
    if (builtinImageIds.has(id)) throw new ProblemError('conflict', `${id} is a built-in image and cannot be deleted`);
    const dir = this.d.layout.imageDir(id);
    return this.d.users.exclusive(async () => {
      const users = await this.d.users.tasksUsingImage(id);
      if (users.length) {
        throw new ProblemError('image-in-use', `image ${id} is used by the disks of ${users.length === 1 ? 'task' : 'tasks'} ${users.slice(0, 10).join(', ')}`, { tasks: users.slice(0, 100) });
      }
      if (!(await this.existing(id))) return false;
      // Renamed away first so a half-removed image is never listed.
      await mkdir(this.d.layout.tmpDir, { recursive: true, mode: 0o755 });
      const gone = await mkdtemp(path.join(this.d.layout.tmpDir, 'deleted-'));
      await rename(dir, path.join(gone, 'image'));
      await rm(gone, { recursive: true, force: true });
      this.d.log.info({ imageId: id }, 'image deleted');
      return true;
    });
  }

  /** The smallest of: the setting, the largest disk the contract allows, the donor's quota. */
  private virtualLimit(): { maxVirtualBytes: number; maxVirtualWhy: string } {
    const limits: Array<[number, string]> = [[maxTaskDiskBytes, 'the largest task disk']];
    if (this.d.maxVirtualBytes !== undefined) limits.push([this.d.maxVirtualBytes, 'CPS_STORAGE_MAX_VIRTUAL_GIB']);
    if (this.d.quotaBytes !== undefined) limits.push([this.d.quotaBytes, "the donor's disk quota"]);
    const [bytes, why] = limits.reduce((a, b) => (b[0] <= a[0] ? b : a));
    return { maxVirtualBytes: bytes, maxVirtualWhy: why };
  }

  private async existing(id: string): Promise<Image | null> {
    // A new image is the usual case: no folder, so no "image skipped" warning from the library.
    if (!(await stat(this.d.layout.imageDir(id)).catch(() => null))) return null;
    try {
      return (await this.d.images.get(id)).image;
    } catch (err) {
      if (err instanceof ProblemError && err.problemType === 'image-not-found') return null;
      throw err;
    }
  }
}
