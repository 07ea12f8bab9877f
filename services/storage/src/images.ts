import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { ProblemError, type Logger } from '@cps/common';
import type { StorageSchemas } from '@cps/openapi';
import { z } from 'zod';
import { isImageId, type StorageLayout } from './paths.ts';
import type { DiskFormat } from './qemu-img.ts';

export type Image = StorageSchemas['Image'];

/** Images that ship with CPS (built by scripts/), as opposed to ones a user added. */
export const builtinImageIds: ReadonlySet<string> = new Set(['tiny']);

/** How an image boots, with absolute paths of its files; what disks.ts builds a task from. */
export type ImageSource =
  | { kind: 'kernel'; kernel: string; initrd: string; cmdline?: string }
  | { kind: 'disk'; file: string; format: DiskFormat; kernelBoot?: { kernel: string; initrd: string; cmdline?: string } }
  | { kind: 'iso'; file: string };

export interface ImageRecord {
  image: Image;
  dir: string;
  source: ImageSource;
}

const maxImageJsonBytes = 64 * 1024;
// A file an image.json names: one plain name inside the image's folder.
const fileName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'a plain file name inside the image folder');

/**
 * images/<id>/image.json. Unknown fields are ignored so newer builders can add some. Fields
 * beyond the COMMON format (kernel, initrd, file, format) have defaults so `tiny`'s file stays minimal.
 */
const imageJson = z.object({
  id: z.string(),
  name: z.string().min(1).max(200),
  description: z.string().max(2000).optional(),
  kind: z.enum(['kernel', 'disk', 'iso']),
  cmdline: z.string().max(2048).optional(),
  kernel: fileName.default('vmlinuz'),
  initrd: fileName.default('initrd.img'),
  file: fileName.optional(),
  format: z.enum(['qcow2', 'raw', 'iso']).optional(),
  sizeBytes: z.number().int().min(0).optional(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
  // A disk booted with the kernel and initrd beside it (built images: image-build.ts), not its own bootloader.
  boot: z.enum(['firmware', 'kernel']).optional(),
  os: z.string().max(64).optional(),
  desktop: z.boolean().optional(),
  builtAt: z.string().max(64).optional(),
  inputHash: z.string().regex(/^[0-9a-f]{64}$/).optional(),
  packages: z.array(z.object({ name: z.string().max(200), version: z.string().max(200) })).max(20_000).optional(),
});
type ImageJson = z.infer<typeof imageJson>;

/** Why an image folder was skipped; never thrown to a client as is. */
class BadImage extends Error {}

/**
 * The image library: every images/<id>/image.json, read on each call so an image added or
 * rebuilt on disk shows up without a restart. A folder with a missing or corrupt image.json,
 * or whose files are absent, is skipped with a warning (once per distinct reason), never a crash.
 */
export class ImageLibrary {
  private readonly warned = new Map<string, string>();

  constructor(
    private readonly layout: StorageLayout,
    private readonly log: Logger,
  ) {}

  async list(): Promise<ImageRecord[]> {
    let names: string[];
    try {
      names = await readdir(this.layout.imagesDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const out: ImageRecord[] = [];
    for (const name of names.sort()) {
      if (!isImageId(name)) {
        this.warn(name, 'folder name is not a valid image id');
        continue;
      }
      try {
        out.push(await this.load(name));
      } catch (err) {
        if (!(err instanceof BadImage || err instanceof ProblemError)) throw err;
        this.warn(name, err.message);
      }
    }
    return out;
  }

  /** The image, or an `image-not-found` problem (also when its folder is unusable). */
  async get(id: string): Promise<ImageRecord> {
    if (!isImageId(id)) throw new ProblemError('image-not-found', `${JSON.stringify(id.slice(0, 80))} is not a valid image id`);
    try {
      return await this.load(id);
    } catch (err) {
      if (err instanceof BadImage) {
        this.warn(id, err.message);
        throw new ProblemError('image-not-found', `image ${id} is not usable: ${err.message}`);
      }
      if (err instanceof ProblemError && err.problemType === 'path-not-allowed') throw new ProblemError('image-not-found', `image ${id}: ${err.message}`);
      throw err;
    }
  }

  private async load(id: string): Promise<ImageRecord> {
    const dir = this.layout.imageDir(id);
    const meta = await readImageJson(path.join(dir, 'image.json'));
    if (meta.id !== id) throw new BadImage(`image.json says id ${JSON.stringify(meta.id)} but its folder is ${id}`);
    const file = (name: string) => this.layout.imageFile(id, name);
    let source: ImageSource;
    let files: string[];
    if (meta.kind === 'kernel') {
      source = { kind: 'kernel', kernel: file(meta.kernel), initrd: file(meta.initrd), ...(meta.cmdline !== undefined ? { cmdline: meta.cmdline } : {}) };
      files = [source.kernel, source.initrd];
    } else if (meta.kind === 'disk') {
      if (!meta.file) throw new BadImage('a disk image needs "file"');
      const format = meta.format ?? 'qcow2';
      if (format === 'iso') throw new BadImage('a disk image has format qcow2 or raw');
      source = { kind: 'disk', file: file(meta.file), format };
      files = [source.file];
      if (meta.boot === 'kernel') {
        source.kernelBoot = { kernel: file(meta.kernel), initrd: file(meta.initrd), ...(meta.cmdline !== undefined ? { cmdline: meta.cmdline } : {}) };
        files.push(source.kernelBoot.kernel, source.kernelBoot.initrd);
      }
    } else {
      if (!meta.file) throw new BadImage('an iso image needs "file"');
      source = { kind: 'iso', file: file(meta.file) };
      files = [source.file];
    }
    let total = 0;
    for (const f of files) total += await regularFileSize(f);
    const image: Image = {
      id,
      name: meta.name,
      ...(meta.description !== undefined ? { description: meta.description } : {}),
      kind: meta.kind,
      ...(meta.kind !== 'kernel' ? { format: meta.kind === 'iso' ? 'iso' : (meta.format ?? 'qcow2') } : {}),
      builtin: builtinImageIds.has(id),
      sizeBytes: meta.sizeBytes ?? total,
      ...(meta.sha256 !== undefined ? { sha256: meta.sha256 } : {}),
      ...(meta.os !== undefined ? { os: meta.os } : {}),
      ...(meta.desktop !== undefined ? { desktop: meta.desktop } : {}),
      ...(meta.builtAt !== undefined ? { builtAt: meta.builtAt } : {}),
      ...(meta.inputHash !== undefined ? { inputHash: meta.inputHash } : {}),
      ...(meta.packages !== undefined ? { packages: meta.packages } : {}),
    };
    return { image, dir, source };
  }

  private warn(name: string, reason: string): void {
    if (this.warned.get(name) === reason) return;
    this.warned.set(name, reason);
    this.log.warn({ image: name.slice(0, 200), reason }, 'image skipped');
  }
}

async function readImageJson(file: string): Promise<ImageJson> {
  let size: number;
  try {
    size = (await stat(file)).size;
  } catch {
    throw new BadImage('no image.json');
  }
  if (size > maxImageJsonBytes) throw new BadImage(`image.json is ${size} bytes (limit ${maxImageJsonBytes})`);
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new BadImage(`image.json is not JSON: ${(err as Error).message}`);
  }
  const r = imageJson.safeParse(raw);
  if (!r.success) {
    throw new BadImage(`image.json: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'} ${i.message}`).join('; ')}`);
  }
  return r.data;
}

async function regularFileSize(file: string): Promise<number> {
  try {
    const s = await stat(file);
    if (!s.isFile()) throw new BadImage(`${path.basename(file)} is not a regular file`);
    return s.size;
  } catch (err) {
    if (err instanceof BadImage) throw err;
    throw new BadImage(`${path.basename(file)} is missing`);
  }
}
