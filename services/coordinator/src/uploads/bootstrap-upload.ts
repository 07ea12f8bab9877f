import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { ProblemError } from '@cps/common';
import type { StorageClient } from '@cps/openapi';
import { call } from '../upstream.ts';
import { bootstrapIdOf, type BootstrapArchiveStore, type BootstrapUpload } from './bootstraps.ts';
import { packFiles, type NamedFile } from './pack-files.ts';
import { passOnRefusal } from './refusals.ts';
import { halfDuplex, spoolToFile, type Spooled } from './spool.ts';

export interface BootstrapUploadLimits {
  /** The largest archive (CPS_BOOTSTRAP_MAX_MIB). */
  maxBytes: number;
  /** The most files in one archive (CPS_BOOTSTRAP_MAX_FILES). */
  maxFiles: number;
}

export interface BootstrapUploadDeps extends BootstrapUploadLimits {
  archives: BootstrapArchiveStore;
  /** This node's storage: it checks each archive the way every node's storage will. */
  storage: StorageClient;
}

/**
 * A user's bootstrap files become one checked tar in the archive store: spooled (or packed) to a
 * staging file while hashed, checked by this node's storage (POST /bootstraps, which also builds
 * the disk here), and kept under the id storage gave, which is the id any node's storage gives.
 */
export class BootstrapUploads {
  constructor(private readonly d: BootstrapUploadDeps) {}

  /** The largest archive this accepts. */
  get maxBytes(): number {
    return this.d.maxBytes;
  }

  /** Where the checked archives are kept (what placement sends to the chosen node). */
  get archives(): BootstrapArchiveStore {
    return this.d.archives;
  }

  /** One tar archive, as the request's body. */
  fromTar(body: ReadableStream<Uint8Array> | null, contentLength?: number): Promise<{ created: boolean; bootstrap: BootstrapUpload }> {
    return this.staged((file) => spoolToFile(body as AsyncIterable<Uint8Array> | null, file, this.d.maxBytes, contentLength));
  }

  /** Several files (the parts of a multipart form), packed into a tar here. */
  fromFiles(files: readonly NamedFile[]): Promise<{ created: boolean; bootstrap: BootstrapUpload }> {
    if (files.length === 0) throw new ProblemError('validation-failed', 'no files: send at least one file part', { errors: [{ location: 'body', message: 'must hold a file' }] });
    this.checkCount(files.length);
    return this.staged((file) => packFiles(files, file, this.d.maxBytes));
  }

  private checkCount(n: number) {
    if (n > this.d.maxFiles) throw new ProblemError('payload-too-large', `${n} files is more than the limit of ${this.d.maxFiles} files in one bootstrap`);
  }

  private async staged(write: (file: string) => Promise<Spooled>): Promise<{ created: boolean; bootstrap: BootstrapUpload }> {
    const { archives } = this.d;
    const file = archives.stagingFile();
    try {
      const got = await write(file);
      const id = bootstrapIdOf(got.sha256);
      const known = archives.get(id);
      if (known) return { created: false, bootstrap: known };
      const checked = await this.check(file, got.sizeBytes);
      if (checked.id !== id) throw new Error(`storage named the archive ${checked.id}, not ${id}: the id rule changed`);
      const files = checked.files.filter((f) => f.path !== '').map((f) => f.path);
      this.checkCount(files.length);
      const bootstrap: BootstrapUpload = { id, sizeBytes: got.sizeBytes, files };
      await archives.keep(file, bootstrap);
      return { created: true, bootstrap };
    } finally {
      await archives.discard(file);
    }
  }

  private async check(file: string, sizeBytes: number) {
    try {
      return await call({ service: 'storage' }, () =>
        this.d.storage.POST('/bootstraps', {
          body: Readable.toWeb(createReadStream(file)) as unknown as string,
          bodySerializer: (b: unknown) => b as BodyInit,
          // As for images (uploads/images.ts): storage may refuse early and drop the connection.
          headers: { connection: 'close', 'content-type': 'application/x-tar', 'content-length': String(sizeBytes) },
          ...halfDuplex,
        }),
      );
    } catch (err) {
      passOnRefusal(err, ['archive-rejected', 'payload-too-large', 'upload-incomplete']);
    }
  }
}
