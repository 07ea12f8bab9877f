import { randomBytes } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { ProblemError } from '@cps/common';
import type { CoordinatorSchemas } from '@cps/openapi';

export type BootstrapUpload = CoordinatorSchemas['BootstrapUpload'];

/** The archives users uploaded, for placement to send to the chosen node's storage. */
export interface BootstrapArchives {
  has(id: string): boolean;
  /** The archive's bytes (a tar); not-found when there is none. */
  open(id: string): Readable;
}

/** storage's BootstrapId: `b-` and the first 24 hex digits of the archive's SHA-256. */
export const bootstrapIdPattern = /^b-[0-9a-f]{24}$/;
export const bootstrapIdOf = (sha256: string): string => `b-${sha256.slice(0, 24)}`;

/**
 * The coordinator's archive folder (node-layout's bootstrapArchiveDir): `<id>.tar` beside
 * `<id>.json` (what the upload answered). The tar is renamed in only after storage checked it,
 * so the folder holds only archives storage accepts; its id is storage's, on any node.
 */
export class BootstrapArchiveStore implements BootstrapArchives {
  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  has(id: string): boolean {
    return bootstrapIdPattern.test(id) && existsSync(this.tarOf(id)) && existsSync(this.jsonOf(id));
  }

  open(id: string): Readable {
    if (!this.has(id)) throw new ProblemError('not-found', `there is no bootstrap ${JSON.stringify(id.slice(0, 80))} on this coordinator`);
    return createReadStream(this.tarOf(id));
  }

  /** The archive's size, for the Content-Length of a copy sent to a node's storage. */
  sizeOf(id: string): number {
    if (!this.has(id)) throw new ProblemError('not-found', `there is no bootstrap ${JSON.stringify(id.slice(0, 80))} on this coordinator`);
    return statSync(this.tarOf(id)).size;
  }

  /** What the upload of this archive answered, or undefined. */
  get(id: string): BootstrapUpload | undefined {
    if (!this.has(id)) return undefined;
    return JSON.parse(readFileSync(this.jsonOf(id), 'utf8')) as BootstrapUpload;
  }

  /** A fresh file name in the folder for an upload still arriving (same file system: rename works). */
  stagingFile(): string {
    return join(this.dir, `.upload-${randomBytes(8).toString('hex')}.part`);
  }

  /** Takes a checked archive in under its id; a concurrent upload of the same bytes is no conflict. */
  async keep(staged: string, record: BootstrapUpload): Promise<void> {
    await writeFile(this.jsonOf(record.id), `${JSON.stringify(record)}\n`, { mode: 0o600 });
    await rename(staged, this.tarOf(record.id));
  }

  async discard(staged: string): Promise<void> {
    await rm(staged, { force: true });
  }

  private tarOf(id: string) {
    return join(this.dir, `${id}.tar`);
  }

  private jsonOf(id: string) {
    return join(this.dir, `${id}.json`);
  }
}
